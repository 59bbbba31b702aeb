package serialread

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
)

// collector records what the loop hands out; got and fail run on the reader goroutine.
type collector struct {
	mu   sync.Mutex
	buf  [4]byte
	data bytes.Buffer
	err  error
}

func (c *collector) start(l *Loop) {
	l.Start(func() []byte { return c.buf[:] }, func(b []byte) {
		c.mu.Lock()
		c.data.Write(b)
		c.mu.Unlock()
	}, func(err error) {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	})
}

func (c *collector) state() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data.String(), c.err
}

func TestReadsUntilError(t *testing.T) {
	pr, pw := io.Pipe()
	l := New(pr, time.Second)
	if l.Deadlines() || l.Bound(3*time.Second) != 3*time.Second {
		t.Fatal("io.Pipe has no read deadlines")
	}
	var c collector
	c.start(l)
	// Larger than the 4 byte buffer: several Reads.
	if _, err := io.WriteString(pw, "$GPGGA,123519\r\n"); err != nil {
		t.Fatal(err)
	}
	unplugged := errors.New("unplugged")
	pw.CloseWithError(unplugged)
	<-l.Done()
	if data, err := c.state(); data != "$GPGGA,123519\r\n" || !errors.Is(err, unplugged) {
		t.Errorf("got %q, %v", data, err)
	}
	if !l.Halt(time.Second) {
		t.Error("Halt after the loop ended")
	}
}

func TestHaltWithDeadline(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	l := New(a, 10*time.Millisecond)
	if !l.Deadlines() || l.Bound(time.Hour) != 20*time.Millisecond+time.Second {
		t.Fatal("net.Pipe deadlines not detected")
	}
	var c collector
	c.start(l)
	if _, err := b.Write([]byte("1.5\r\n")); err != nil {
		t.Fatal(err)
	}
	drivertest.WaitFor(t, "data", func() bool { d, _ := c.state(); return d == "1.5\r\n" })
	// Deadline expiries in between are not errors.
	time.Sleep(50 * time.Millisecond)
	if !l.Halt(l.Bound(time.Hour)) {
		t.Fatal("Halt did not stop the loop")
	}
	if _, err := c.state(); err != nil {
		t.Errorf("fail called: %v", err)
	}
}

func TestHaltWithoutDeadline(t *testing.T) {
	pr, pw := io.Pipe()
	l := New(pr, time.Second)
	var c collector
	c.start(l)
	if _, err := io.WriteString(pw, "1.5\r\n"); err != nil {
		t.Fatal(err)
	}
	drivertest.WaitFor(t, "data", func() bool { d, _ := c.state(); return d == "1.5\r\n" })
	// Blocked in Read on an open port: Halt cannot stop it.
	if l.Halt(20 * time.Millisecond) {
		t.Fatal("Halt returned true with the loop blocked")
	}
	// The owner closes the port: the loop ends, with io.EOF from the pipe.
	pw.Close()
	if !l.Halt(time.Second) {
		t.Fatal("loop still running after the port closed")
	}
	if _, err := c.state(); !errors.Is(err, io.EOF) {
		t.Errorf("fail got %v", err)
	}
}

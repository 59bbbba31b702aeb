package modbus

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// babblePort never falls silent: every Read returns one byte at once.
type babblePort struct{ writes int }

func (p *babblePort) Write(b []byte) (int, error)     { p.writes++; return len(b), nil }
func (p *babblePort) Read(b []byte) (int, error)      { b[0] = 0x55; return 1, nil }
func (p *babblePort) SetReadDeadline(time.Time) error { return nil }

// TestBabblingLine: a line that never falls silent for t3.5 (a wrong baud rate, another master)
// fails the request as a bus error within maxDrain, without sending it.
func TestBabblingLine(t *testing.T) {
	p := &babblePort{}
	bus, err := NewBus(p, "babble", DefaultOptions.Serial())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = bus.Read(1, FuncReadHolding, 0, 1, make([]uint16, 1), time.Second)
	if sensor.Kind(err) != sensor.ErrBus || p.writes != 0 {
		t.Fatalf("%v after %d writes", err, p.writes)
	}
	if el := time.Since(start); el > 2*maxDrain {
		t.Fatalf("took %v", el)
	}
}

// scriptPort answers the first request with a fixed byte string, then nothing.
type scriptPort struct {
	answer, out []byte
	deadline    time.Time
}

func (p *scriptPort) Write(b []byte) (int, error) {
	p.out, p.answer = p.answer, nil
	return len(b), nil
}
func (p *scriptPort) Read(b []byte) (int, error) {
	if len(p.out) == 0 {
		time.Sleep(time.Until(p.deadline))
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, p.out[:1]) // a byte at a time, as a slow line delivers them
	p.out = p.out[n:]
	return n, nil
}
func (p *scriptPort) SetReadDeadline(t time.Time) error { p.deadline = t; return nil }

// TestBadAnswersOnTheWire: what the bus makes of answers cut short, claiming too much, or for
// another function; each within the time-out, each of its kind.
func TestBadAnswersOnTheWire(t *testing.T) {
	good := adu(1, 0x03, 0x02, 0x00, 0x2A)
	cases := []struct {
		name   string
		answer []byte
		kind   error
	}{
		{"nothing", nil, sensor.ErrTimeout},
		{"cut short", good[:5], sensor.ErrFrame},
		{"header only", good[:2], sensor.ErrFrame},
		{"another function", adu(1, 0x06, 0x00, 0x01, 0x00, 0x02), sensor.ErrFrame},
		{"bad CRC", append(bytes.Clone(good[:5]), good[5]^1, good[6]), sensor.ErrCRC},
		{"exception", adu(1, 0x83, 0x04), sensor.ErrException},
		{"good", good, nil},
	}
	for _, c := range cases {
		p := &scriptPort{answer: c.answer}
		bus, err := NewBus(p, "script", DefaultOptions.Serial())
		if err != nil {
			t.Fatal(err)
		}
		bus.dirty = false // no stale input to drain: the script answers the request alone
		start := time.Now()
		items := make([]uint16, 1)
		err = bus.Read(1, FuncReadHolding, 0, 1, items, 50*time.Millisecond)
		if sensor.Kind(err) != c.kind || (c.kind == nil && items[0] != 42) {
			t.Errorf("%s: %v %v, want kind %v", c.name, items, err, c.kind)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("%s: took %v", c.name, el)
		}
	}
}

// TestNaNIsOutOfRange: devices report "no value" as a NaN float (IEEE 754 quiet NaN 0x7FC00000);
// that is sensor.ErrRange, never a reading.
func TestNaNIsOutOfRange(t *testing.T) {
	p := &cannedPort{answer: adu(1, 0x04, 0x04, 0x7F, 0xC0, 0x00, 0x00)}
	o := validOptions()
	o.Registers = []Register{reg("power", "W", "input", 0, "f32")}
	bus, err := NewBus(p, "canned", o.Serial())
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, &o)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sample(time.Now(), make([]float64, 1)); sensor.Kind(err) != sensor.ErrRange {
		t.Fatalf("NaN: %v", err)
	}
}

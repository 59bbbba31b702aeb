package nmea

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// fakeClock replaces the now seam for the duration of a test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

func useClock(t *testing.T) *fakeClock {
	c := &fakeClock{t: t0}
	old := now
	now = c.now
	t.Cleanup(func() { now = old })
	return c
}

// pipeDev starts a Dev on an io.Pipe (no read deadlines) and stops it at the end of the test.
func pipeDev(t *testing.T, o *Opts) (*Dev, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	d, err := New(pr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pw.Close()
		if err := d.Halt(); err != nil {
			t.Error(err)
		}
	})
	return d, pw
}

// write sends s in small chunks so sentences straddle Read calls.
func write(t *testing.T, w io.Writer, s string) {
	t.Helper()
	for len(s) > 0 {
		n := min(7, len(s))
		if _, err := w.Write([]byte(s[:n])); err != nil {
			t.Fatal(err)
		}
		s = s[n:]
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Error("nil reader accepted")
	}
	o := DefaultOpts
	o.MaxAge = 0
	if _, err := New(strings.NewReader(""), &o); err == nil {
		t.Error("zero MaxAge accepted")
	}
}

func TestSample(t *testing.T) {
	clk := useClock(t)
	d, w := pipeDev(t, &Opts{Name: "ttyS1", MaxAge: 3 * time.Second, Poll: 50 * time.Millisecond, HaltTimeout: time.Second})
	if d.String() != "nmea(ttyS1)" || len(d.Channels()) != 5 {
		t.Fatal(d, d.Channels())
	}
	dst := make([]float64, len(d.Channels()))
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("before any sentence: %v", err)
	}
	// Boot banner, a binary blob and a truncated sentence before the real ones.
	write(t, w, "u-blox boot\r\n\xb5\x62\x01\x02$GPGGA,1235"+classicRMC+"junk"+classicGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 1 })
	st := d.Stats()
	if st.RMC != 1 || st.Garbage != 2 || st.Frame != 1 || st.CRC != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := d.Sample(t0.Add(time.Second), dst); err != nil {
		t.Fatal(err)
	}
	want := []float64{48 + 7.038/60, 11 + 31.0/60, 545.4, 1, 8}
	for i := range want {
		if !near(dst[i], want[i], 1e-9) {
			t.Errorf("%s = %v, want %v", d.Channels()[i].Name, dst[i], want[i])
		}
	}
	f, at, ok := d.Fix()
	if !ok || !at.Equal(t0) || !f.UTC().Equal(time.Date(1994, 3, 23, 12, 35, 19, 0, time.UTC)) {
		t.Errorf("%+v %s %v", f, at, ok)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Sample(t0, dst) }); n != 0 {
		t.Errorf("Sample allocates %v", n)
	}

	// Stale: no GGA for longer than MaxAge.
	if err := d.Sample(t0.Add(4*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("stale fix: %v", err)
	}
	// A bad checksum is counted and does not replace the fix.
	clk.set(t0.Add(10 * time.Second))
	write(t, w, strings.Replace(classicGGA, "545.4", "545.5", 1))
	drivertest.WaitFor(t, "CRC error", func() bool { return d.Stats().CRC == 1 })
	if err := d.Sample(t0.Add(10*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("bad sentence refreshed the fix: %v", err)
	}
	// Fix quality 0: the receiver lost the fix.
	write(t, w, sum("GPGGA,123520,,,,,0,00,,,M,,M,,"))
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 2 })
	if err := d.Sample(t0.Add(10*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("quality 0: %v", err)
	}
	// Back, then a void RMC invalidates it.
	write(t, w, ubloxGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 3 })
	if err := d.Sample(t0.Add(10*time.Second), dst); err != nil || dst[4] != 8 {
		t.Errorf("fix back: %v %v", err, dst)
	}
	write(t, w, sum("GPRMC,092726.00,V,,,,,,,091202,,,N"))
	drivertest.WaitFor(t, "RMC", func() bool { return d.Stats().RMC == 2 })
	if err := d.Sample(t0.Add(10*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("void RMC: %v", err)
	}
}

func TestOverlongLine(t *testing.T) {
	useClock(t)
	d, w := pipeDev(t, nil)
	write(t, w, "$GPGSV"+strings.Repeat(",99", 60)+"\r\n"+classicGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 1 })
	if st := d.Stats(); st.Frame != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestReaderError(t *testing.T) {
	useClock(t)
	d, w := pipeDev(t, nil)
	write(t, w, classicGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 1 })
	w.CloseWithError(errors.New("usb serial unplugged"))
	dst := make([]float64, 5)
	drivertest.WaitFor(t, "reader to stop", func() bool { return errors.Is(d.Sample(t0, dst), sensor.ErrBus) })
	if err := d.Sample(t0, dst); !strings.Contains(err.Error(), "unplugged") {
		t.Error(err)
	}
}

func TestHaltWithDeadline(t *testing.T) {
	// net.Pipe supports read deadlines: Halt stops the reader without closing the port.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	d, err := New(a, &Opts{MaxAge: time.Second, Poll: 10 * time.Millisecond, HaltTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !d.rd.Deadlines() {
		t.Fatal("deadline support not detected")
	}
	useClock(t)
	write(t, b, classicGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 1 })
	start := time.Now()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Halt took %s", el)
	}
	select {
	case <-d.rd.Done():
	default:
		t.Error("goroutine still running")
	}
}

func TestHaltWithoutDeadline(t *testing.T) {
	pr, pw := io.Pipe()
	d, err := New(pr, &Opts{MaxAge: time.Second, Poll: time.Second, HaltTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	useClock(t)
	write(t, pw, classicGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 1 })
	// The reader is blocked in Read on a port that is still open: Halt cannot interrupt it and says
	// so.
	if err := d.Halt(); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("Halt with an open port: %v", err)
	}
	// The owner closes the port: the goroutine ends and Halt succeeds.
	pw.Close()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
}

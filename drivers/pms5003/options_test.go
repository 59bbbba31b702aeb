package pms5003

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestOptionsValidate(t *testing.T) {
	drivertest.ExpectBadOptions(t, DefaultOptions, []drivertest.BadOption[Options]{
		{Field: "warm_up", Set: func(o *Options) { o.WarmUp = 29 * time.Second }},
		{Field: "max_age", Set: func(o *Options) { o.MaxAge = 0 }},
		{Field: "max_concentration", Set: func(o *Options) { o.MaxConcentration = 0 }},
		{Field: "max_concentration", Set: func(o *Options) { o.MaxConcentration = 70000 }},
	}, func(o *Options) error {
		_, err := NewWithOptions(&fakePort{}, "x", o)
		return err
	})
}

// fakePort reads from a pipe and records what the driver writes.
type fakePort struct {
	io.Reader
	mu sync.Mutex
	w  bytes.Buffer
}

func (p *fakePort) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w.Write(b)
}

// written returns and forgets what was written.
func (p *fakePort) written() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := bytes.Clone(p.w.Bytes())
	p.w.Reset()
	return b
}

// fakeTimer records Reset and Stop; the test fires it by calling f.
type fakeTimer struct {
	f      func()
	resets []time.Duration
	stops  int
}

func (t *fakeTimer) Reset(d time.Duration) bool { t.resets = append(t.resets, d); return false }
func (t *fakeTimer) Stop() bool                 { t.stops++; return false }

// The manual's commands (appendix II, "host protocol"), sums written out: 0x42 + 0x4D + 0xE4 + 0x00 +
// 0x00 = 0x0173 (sleep), + 0x01 = 0x0174 (wake-up); 0x42 + 0x4D + 0xE1 + 0x00 + 0x01 = 0x0171 (active).
var (
	manualSleep  = []byte{0x42, 0x4D, 0xE4, 0x00, 0x00, 0x01, 0x73}
	manualWakeUp = []byte{0x42, 0x4D, 0xE4, 0x00, 0x01, 0x01, 0x74}
	manualActive = []byte{0x42, 0x4D, 0xE1, 0x00, 0x01, 0x01, 0x71}
)

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// TestDutyCycle: a 60 s interval with sleep_between and the manual's 30 s warm-up. New wakes the
// part; frames in the first 30 s are not readings (ErrNoData, not a fault); a reading puts the part to
// sleep and sets the wake timer to 60 - 30 - 5 = 25 s; the wake-up restarts the warm-up.
func TestDutyCycle(t *testing.T) {
	var clock atomic.Int64 // seconds after t0
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	at := func() time.Time { return t0.Add(time.Duration(clock.Load()) * time.Second) }
	oldNow, oldTimer := now, newTimer
	now = at
	tm := &fakeTimer{}
	newTimer = func(f func()) timer { tm.f = f; return tm }
	t.Cleanup(func() { now, newTimer = oldNow, oldTimer })

	pr, pw := io.Pipe()
	port := &fakePort{Reader: pr}
	o := DefaultOptions
	o.SleepBetween = true
	d, err := NewWithOptions(port, "ttyAMA1", &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pw.Close(); _ = d.Halt() })
	if got := port.written(); !bytes.Equal(got, cat(manualWakeUp, manualActive)) {
		t.Fatalf("New wrote % x, want wake-up and active mode", got)
	}
	frames := func() uint64 { d.mu.Lock(); defer d.mu.Unlock(); return d.seq + d.warming }
	send := func(b []byte) {
		n := frames()
		if _, err := pw.Write(b); err != nil {
			t.Fatal(err)
		}
		drivertest.WaitFor(t, "frame", func() bool { return frames() == n+1 })
	}
	dst := make([]float64, 3)
	// 20 s in: a frame arrives, but the fan is still settling.
	clock.Store(20)
	send(frame(5, 8, 9))
	if err := d.Sample(at(), dst); !errors.Is(err, sensor.ErrNoData) || sensor.Kind(err) != sensor.ErrNoData {
		t.Fatalf("during the warm-up: %v", err)
	}
	// 31 s: a frame after the warm-up is a reading. The first Sample knows no interval yet: awake.
	clock.Store(31)
	send(frame(6, 9, 10))
	if err := d.Sample(at(), dst); err != nil || dst[1] != 9 {
		t.Fatalf("after the warm-up: %v %v", dst, err)
	}
	if got := port.written(); len(got) != 0 || d.Asleep() {
		t.Fatalf("slept without knowing the interval: % x", got)
	}
	// 91 s: the next reading, 60 s later: sleep, wake in 25 s.
	clock.Store(91)
	send(frame(7, 10, 11))
	if err := d.Sample(at(), dst); err != nil || dst[1] != 10 {
		t.Fatalf("second reading: %v %v", dst, err)
	}
	if got := port.written(); !bytes.Equal(got, manualSleep) || !d.Asleep() {
		t.Fatalf("wrote % x, want the sleep command", got)
	}
	if len(tm.resets) != 1 || tm.resets[0] != 25*time.Second {
		t.Fatalf("wake timer %v, want 25s", tm.resets)
	}
	// 116 s: the timer fires; 151 s: the next Sample, 35 s after the wake-up, gets a reading.
	clock.Store(116)
	tm.f()
	if got := port.written(); !bytes.Equal(got, cat(manualWakeUp, manualActive)) || d.Asleep() {
		t.Fatalf("wake wrote % x", got)
	}
	clock.Store(140)
	send(frame(1, 2, 3)) // 24 s after the wake-up: dropped
	clock.Store(151)
	send(frame(8, 12, 13))
	if err := d.Sample(at(), dst); err != nil || dst[1] != 12 {
		t.Fatalf("after the wake-up: %v %v", dst, err)
	}
	// The gateway samples early while the part sleeps: it wakes it and reports the warm-up.
	clock.Store(160)
	if err := d.Sample(at(), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("asleep: %v", err)
	}
	if got := port.written(); !bytes.Equal(got, cat(manualSleep, manualWakeUp, manualActive)) {
		t.Fatalf("wrote % x, want sleep after the reading at 151 s, then wake-up and active at 160 s", got)
	}
	// No time-out while warming up, however long the part was silent.
	clock.Store(185)
	if err := d.Sample(at(), dst); sensor.Kind(err) != sensor.ErrNoData {
		t.Fatalf("still warming: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Sample(at(), dst) }); n != 0 {
		t.Fatalf("Sample during the warm-up allocates %v times", n)
	}
}

// TestShortIntervalStaysAwake: at 30 s intervals (not above warm_up + 10 s) the part never sleeps.
func TestShortIntervalStaysAwake(t *testing.T) {
	var clock atomic.Int64
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	at := func() time.Time { return t0.Add(time.Duration(clock.Load()) * time.Second) }
	oldNow := now
	now = at
	t.Cleanup(func() { now = oldNow })
	pr, pw := io.Pipe()
	port := &fakePort{Reader: pr}
	o := DefaultOptions
	o.SleepBetween = true
	d, err := NewWithOptions(port, "x", &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pw.Close(); _ = d.Halt() })
	port.written()
	dst := make([]float64, 3)
	for s := int64(40); s <= 160; s += 30 {
		clock.Store(s)
		if _, err := pw.Write(frame(1, 2, 3)); err != nil {
			t.Fatal(err)
		}
		drivertest.WaitFor(t, "frame", func() bool { _, a, ok := d.Latest(); return ok && a.Equal(at()) })
		if err := d.Sample(at(), dst); err != nil {
			t.Fatalf("%d s: %v", s, err)
		}
	}
	if got := port.written(); len(got) != 0 {
		t.Fatalf("wrote % x at a 30 s interval", got)
	}
}

// TestCommandAnswersAreNotBadFrames: the 8 byte answers to mode and sleep commands (length 4) are
// skipped without counting as bad frames.
func TestCommandAnswersAreNotBadFrames(t *testing.T) {
	var p parser
	var r recorder
	// 0x42 + 0x4D + 0x00 + 0x04 + 0xE1 + 0x01 = 0x0175.
	stream := cat([]byte{0x42, 0x4D, 0x00, 0x04, 0xE1, 0x01, 0x01, 0x75}, frame(1, 2, 3))
	p.n = copy(p.buf[:], stream)
	p.parse(recSink{&r})
	if len(r.good) != 1 || len(r.bad) != 0 {
		t.Fatalf("good %v bad %v", r.good, r.bad)
	}
}

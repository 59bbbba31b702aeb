package pulse

import (
	"errors"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

var t0 = time.Date(2026, 11, 5, 7, 0, 0, 0, time.UTC)

// fakeClock replaces the now seam; the test moves it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	c.t = t0.Add(d)
	c.mu.Unlock()
}

// useClock must be called before New so the device's Halt cleanup runs before the seam is restored.
func useClock(t *testing.T) *fakeClock {
	c := &fakeClock{t: t0}
	old := now
	now = c.now
	t.Cleanup(func() { now = old })
	return c
}

func newPin(buf int) *gpiotest.Pin {
	return &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level, buf)}
}

func start(t *testing.T, p *gpiotest.Pin, o *Opts) *Dev {
	t.Helper()
	d, err := New(p, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Halt(); err != nil {
			t.Error(err)
		}
	})
	return d
}

func opts(debounce time.Duration) *Opts {
	o := DefaultOpts
	o.Debounce = debounce
	o.Poll = 20 * time.Millisecond
	return &o
}

func TestNewValidates(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Error("nil pin accepted")
	}
	o := *opts(0)
	o.Edge = gpio.NoEdge
	if _, err := New(newPin(1), &o); err == nil {
		t.Error("NoEdge accepted")
	}
	o = *opts(0)
	o.Poll = 0
	if _, err := New(newPin(1), &o); err == nil {
		t.Error("Poll 0 accepted")
	}
	// gpiotest refuses edge detection without EdgesChan: the driver reports a bus error.
	if _, err := New(&gpiotest.Pin{N: "GPIO4"}, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("In failure: %v", err)
	}
}

func TestConfiguresPin(t *testing.T) {
	p := newPin(1)
	d := start(t, p, opts(0))
	p.Lock()
	pull := p.P
	p.Unlock()
	if pull != gpio.PullUp {
		t.Errorf("pull %s", pull)
	}
	if d.String() != "pulse(GPIO17(17))" || len(d.Channels()) != 1 || d.Channels()[0].Unit != "count" {
		t.Error(d, d.Channels())
	}
}

func TestExactCounts(t *testing.T) {
	clk := useClock(t)
	p := newPin(16)
	o := opts(0)
	o.Rate = true
	d := start(t, p, o)
	dst := make([]float64, 2)
	send := func(n int) {
		for i := 0; i < n; i++ {
			p.EdgesChan <- gpio.Low
		}
	}
	send(5)
	drivertest.WaitFor(t, "5 edges", func() bool { return d.Stats().Edges == 5 })
	clk.set(30 * time.Second)
	if err := d.Sample(t0.Add(30*time.Second), dst); err != nil || dst[0] != 5 || dst[1] != 10 {
		t.Fatalf("%v %v: want 5 pulses, 10/min", err, dst)
	}
	if err := d.Sample(t0.Add(60*time.Second), dst); err != nil || dst[0] != 0 || dst[1] != 0 {
		t.Fatalf("%v %v: want 0 since the previous Sample", err, dst)
	}
	send(3)
	drivertest.WaitFor(t, "8 edges", func() bool { return d.Stats().Edges == 8 })
	if err := d.Sample(t0.Add(120*time.Second), dst); err != nil || dst[0] != 3 || dst[1] != 3 {
		t.Fatalf("%v %v: want 3 pulses, 3/min", err, dst)
	}
	if d.Count() != 8 {
		t.Errorf("Count %d", d.Count())
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Sample(t0, dst) }); n != 0 {
		t.Errorf("Sample allocates %v", n)
	}
	if err := d.Sample(t0, dst[:1]); err == nil {
		t.Error("short dst accepted")
	}
}

func TestDebounce(t *testing.T) {
	clk := useClock(t)
	p := newPin(1)
	d := start(t, p, opts(20*time.Millisecond))
	// Edge times in ms and whether each is counted: debounce is against the last counted edge.
	steps := []struct {
		at      time.Duration
		counted bool
	}{
		{0, true},
		{2 * time.Millisecond, false},  // Relay bounce.
		{5 * time.Millisecond, false},  // Relay bounce.
		{19 * time.Millisecond, false}, // Still inside 20 ms.
		{30 * time.Millisecond, true},  // 30 ms after the first counted edge.
		{45 * time.Millisecond, false}, // 15 ms after the last counted one.
		{50 * time.Millisecond, true},  // Exactly 20 ms: counted.
		{2 * time.Second, true},
	}
	var want uint64
	for i, s := range steps {
		clk.set(s.at)
		p.EdgesChan <- gpio.Low
		drivertest.WaitFor(t, "edge", func() bool { return d.Stats().Edges == uint64(i+1) })
		if s.counted {
			want++
		}
		if got := d.Count(); got != want {
			t.Fatalf("edge %d at %s: count %d, want %d", i, s.at, got, want)
		}
	}
	st := d.Stats()
	if st.Counted != 4 || st.Bounced != 4 || st.MinInterval != 2*time.Millisecond {
		t.Errorf("%+v", st)
	}
	// Gaps under 100 ms (MaxRate 10 Hz): 2, 3, 14, 11, 15 and 5 ms; 1950 ms is not.
	if st.OverRate != 6 {
		t.Errorf("OverRate %d, want 6", st.OverRate)
	}
	if r := d.MaxObservedRate(); r != 500*physic.Hertz {
		t.Errorf("max rate %s", r)
	}
}

func TestBurst(t *testing.T) {
	// 1000 edges injected as fast as the channel takes them: every one must be counted, and the
	// driver must flag the burst as a missed-edge risk.
	const n = 1000
	p := newPin(n)
	o := opts(0)
	o.MaxRate = 100 * physic.Hertz
	o.ReArm = time.Millisecond // Generous: -race slows the fake pin's WaitForEdge.
	d := start(t, p, o)
	for i := 0; i < n; i++ {
		p.EdgesChan <- gpio.Level(i%2 == 0)
	}
	drivertest.WaitFor(t, "burst", func() bool { return d.Stats().Edges == n })
	st := d.Stats()
	if st.Counted != n || st.Bounced != 0 {
		t.Fatalf("%+v: want all %d counted", st, n)
	}
	if st.Queued == 0 || st.OverRate == 0 || d.MaxObservedRate() <= o.MaxRate {
		t.Errorf("burst not flagged: %+v, max rate %s", st, d.MaxObservedRate())
	}
	dst := make([]float64, 1)
	if err := d.Sample(time.Now(), dst); err != nil || dst[0] != n {
		t.Errorf("%v %v", err, dst)
	}
	t.Logf("%+v max %s", st, d.MaxObservedRate())
}

func TestSpacedEdgesNotQueued(t *testing.T) {
	// Edges the loop waited for are not queued: the risk counter stays at 0 in normal traffic.
	p := newPin(1)
	d := start(t, p, opts(0))
	for i := 0; i < 5; i++ {
		time.Sleep(2 * time.Millisecond) // Let the loop block in WaitForEdge.
		p.EdgesChan <- gpio.Low
		drivertest.WaitFor(t, "edge", func() bool { return d.Stats().Edges == uint64(i+1) })
	}
	if st := d.Stats(); st.Queued != 0 || st.Counted != 5 {
		t.Errorf("%+v", st)
	}
}

func TestHalt(t *testing.T) {
	p := newPin(4)
	d, err := New(p, opts(0))
	if err != nil {
		t.Fatal(err)
	}
	p.EdgesChan <- gpio.Low
	drivertest.WaitFor(t, "edge", func() bool { return d.Count() == 1 })
	start := time.Now()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("Halt took %s", el)
	}
	select {
	case <-d.done:
	default:
		t.Fatal("edge goroutine still running")
	}
	// Nothing consumes edges any more.
	p.EdgesChan <- gpio.Low
	time.Sleep(5 * time.Millisecond)
	if d.Stats().Edges != 1 || len(p.EdgesChan) != 1 {
		t.Errorf("edge consumed after Halt: %+v", d.Stats())
	}
}

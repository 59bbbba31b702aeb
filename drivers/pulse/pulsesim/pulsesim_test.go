package pulsesim_test

import (
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/wayside-iot/wayside/drivers/pulse"
	"github.com/wayside-iot/wayside/drivers/pulse/pulsesim"
)

var t0 = time.Date(2026, 11, 5, 7, 0, 0, 0, time.UTC)

func sec(x float64) time.Duration { return time.Duration(math.Round(x * float64(time.Second))) }

func TestTimelines(t *testing.T) {
	// Traffic Detector Handbook geometry: a 5.2 m vehicle at 20 m/s over a 1.8 m detection zone is
	// present (5.2 + 1.8) / 20 = 0.35 s; the downstream loop 4.0 m on is reached 4 / 20 = 0.2 s
	// later. Active low: the line goes Low while present.
	vs := []pulsesim.Vehicle{{Front: t0, Speed: 20, Length: 5.2}}
	up := pulsesim.Presence(nil, vs, pulsesim.Line{LoopLength: 1.8, ActiveLow: true})
	down := pulsesim.Presence(nil, vs, pulsesim.Line{Offset: 4, LoopLength: 1.8, ActiveLow: true})
	want := func(name string, got []pulse.Edge, on, off time.Duration) {
		t.Helper()
		if len(got) != 2 || got[0] != (pulse.Edge{At: t0.Add(on), Level: gpio.Low}) ||
			got[1] != (pulse.Edge{At: t0.Add(off), Level: gpio.High}) {
			t.Errorf("%s: %v, want Low at %s, High at %s", name, got, on, off)
		}
	}
	want("upstream", up, 0, sec(0.35))
	want("downstream", down, sec(0.2), sec(0.55))

	// Two axles 2.7 m apart at 130 km/h (36.11 m/s): pulses 74.8 ms apart.
	v := 130 / 3.6
	ax := pulsesim.Axles(nil, []pulsesim.Vehicle{{Front: t0, Speed: v, Length: 4.5, Axles: []float64{0.9, 3.6}}},
		pulsesim.Line{AxlePulse: 10 * time.Millisecond})
	if len(ax) != 4 || ax[0].Level != gpio.High || ax[2].At.Sub(ax[0].At) != sec(2.7/v) {
		t.Errorf("axles %v", ax)
	}

	// Vehicles closer than the loop separates: one presence from the first front to the last rear.
	close2 := []pulsesim.Vehicle{{Front: t0, Speed: 10, Length: 5}, {Front: t0.Add(sec(0.6)), Speed: 10, Length: 5}}
	want("merged", pulsesim.Presence(nil, close2, pulsesim.Line{LoopLength: 2, ActiveLow: true}), 0, sec(1.3))
}

func start(t *testing.T, o *pulse.Options, pins ...*pulsesim.Pin) *pulse.Dev {
	t.Helper()
	in := make([]gpio.PinIn, len(pins))
	for i, p := range pins {
		in[i] = p
	}
	d, err := pulse.NewWithOptions(in, o)
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

func TestSpeedTrapThroughDriver(t *testing.T) {
	// Four vehicles through a 4.0 m trap of 1.8 m loops in a 60 s interval, by definition (TDH):
	// speeds 20, 25, 10 and 16 m/s, lengths 5.2, 4.0, 12.0 and 4.5 m. Mean speed 71 / 4 = 17.75
	// m/s; nearest-rank 85th percentile: ceil(0.85 × 4) = 4th of (10, 16, 20, 25) = 25 m/s; mean
	// length 25.7 / 4 = 6.425 m. Upstream volume 4; occupancy: on-times (L + 1.8) / v = 0.35,
	// 0.232, 1.38, 0.39375 s, sum 2.35575 s = 3.92625 % of 60 s; headways 10, 10, 10 s; gaps 10 - 0.35,
	// 10 - 0.232, 10 - 1.38, mean (30 - 1.962) / 3 = 9.346 s.
	o := pulse.DefaultOptions
	o.Mode = pulse.ModeSpeedTrap
	o.Trap.Spacing = 4
	a, b := pulsesim.NewPin("loopA", gpio.High), pulsesim.NewPin("loopB", gpio.High)
	d := start(t, &o, a, b)
	// A first Sample starts the interval at epoch exactly, whatever the time New took (qemu).
	epoch := time.Now()
	if err := d.Sample(epoch, make([]float64, len(d.Channels()))); err != nil {
		t.Fatal(err)
	}
	vs := []pulsesim.Vehicle{
		{Front: epoch.Add(sec(5)), Speed: 20, Length: 5.2},
		{Front: epoch.Add(sec(15)), Speed: 25, Length: 4.0},
		{Front: epoch.Add(sec(25)), Speed: 10, Length: 12.0},
		{Front: epoch.Add(sec(35)), Speed: 16, Length: 4.5},
	}
	up := pulsesim.Presence(nil, vs, pulsesim.Line{LoopLength: 1.8, ActiveLow: true})
	down := pulsesim.Presence(nil, vs, pulsesim.Line{Offset: 4, LoopLength: 1.8, ActiveLow: true})
	if err := pulsesim.FeedLines([]*pulsesim.Pin{a, b}, [][]pulse.Edge{up, down}); err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, len(d.Channels()))
	if err := d.Sample(epoch.Add(sec(60)), dst); err != nil {
		t.Fatal(err)
	}
	want := []float64{4, 3.92625, 10, 9.346, 4, 17.75, 25, 6.425, 0}
	for i, w := range want {
		if math.Abs(dst[i]-w) > 1e-6 { // edge times are whole nanoseconds
			t.Errorf("%s = %v, want %v", d.Channels()[i].Name, dst[i], w)
		}
	}
	if st := d.Stats(); st.Matched != 4 || st.Unmatched != 0 || st.Edges != 16 || st.Counted != 4 {
		t.Errorf("%+v", st)
	}

	// Per edge and per Sample, through the goroutines: no allocation.
	var next time.Duration = sec(60)
	n := testing.AllocsPerRun(50, func() {
		next += sec(10)
		for i := range vs {
			vs[i].Front = epoch.Add(next + sec(float64(i)))
		}
		up = pulsesim.Presence(up[:0], vs[:1], pulsesim.Line{LoopLength: 1.8, ActiveLow: true})
		down = pulsesim.Presence(down[:0], vs[:1], pulsesim.Line{Offset: 4, LoopLength: 1.8, ActiveLow: true})
		if err := pulsesim.FeedLines([]*pulsesim.Pin{a, b}, [][]pulse.Edge{up, down}); err != nil {
			t.Fatal(err)
		}
		_ = d.Sample(epoch.Add(next+sec(5)), dst)
	})
	if n != 0 {
		t.Errorf("%v allocs per vehicle and Sample", n)
	}
}

func TestAxleThroughDriver(t *testing.T) {
	// Issue #14: two axles 75 ms apart (2.7 m wheelbase at 130 km/h) are one vehicle with two
	// axles; a three-axle bus (axles 2.5, 8.5, 9.9 m back, 12 m long) at 20 m/s 2 s later: axle
	// steps 300 and 70 ms, under the 400 ms gap: one more vehicle. 2 vehicles, 5 axles.
	o := pulse.DefaultOptions
	o.Mode = pulse.ModeAxle
	p := pulsesim.NewPin("tube", gpio.High)
	epoch := time.Now()
	d := start(t, &o, p)
	vs := []pulsesim.Vehicle{
		{Front: epoch.Add(sec(1)), Speed: 130 / 3.6, Length: 4.5, Axles: []float64{0.9, 3.6}},
		{Front: epoch.Add(sec(3)), Speed: 20, Length: 12, Axles: []float64{2.5, 8.5, 9.9}},
	}
	if err := p.Feed(pulsesim.Axles(nil, vs, pulsesim.Line{ActiveLow: true, AxlePulse: 10 * time.Millisecond})); err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	if err := d.Sample(epoch.Add(sec(20)), dst); err != nil || dst[0] != 2 || dst[1] != 5 {
		t.Errorf("%v: %v, want 2 vehicles, 5 axles", err, dst)
	}
}

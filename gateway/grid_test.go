package gateway

import (
	"testing"
	"time"
)

// TestSlotFor: the grid is whole multiples of the interval since the Unix epoch; a phase moves when
// the sample starts, not the slot it is stamped with; times before 1970 (an untrusted clock) floor.
func TestSlotFor(t *testing.T) {
	const s = int64(time.Second)
	for _, c := range []struct {
		name  string
		t     int64
		every time.Duration
		phase time.Duration
		want  int64
	}{
		{"mid-second: the next whole second", 1763890000*s + 400e6, time.Second, 0, 1763890001 * s},
		{"on a slot: the one after", 1763890000 * s, time.Second, 0, 1763890001 * s},
		{"5 s grid at :00, :05", 1763890001 * s, 5 * time.Second, 0, 1763890005 * s},
		{"a day: midnight UTC", time.Date(2025, 6, 3, 10, 0, 0, 0, time.UTC).UnixNano(), 24 * time.Hour, 0,
			time.Date(2025, 6, 4, 0, 0, 0, 0, time.UTC).UnixNano()},
		{"-800ms: starts at .2 for the next second's slot", 1763890000*s + 100e6, time.Second, -800 * time.Millisecond, 1763890001 * s},
		{"-800ms: past .2, the slot after", 1763890000*s + 300e6, time.Second, -800 * time.Millisecond, 1763890002 * s},
		{"+250ms: the slot just passed still to start", 1763890000*s + 100e6, time.Second, 250 * time.Millisecond, 1763890000 * s},
		{"before 1970", -1*s - 500e6, time.Second, 0, -1 * s},
		{"10 ms grid", 1000*s + 5e6, 10 * time.Millisecond, 0, 1000*s + 10e6},
	} {
		got := slotFor(c.t, c.every, c.phase)
		if got != c.want {
			t.Errorf("%s: slotFor(%d, %v, %v) = %d, want %d", c.name, c.t, c.every, c.phase, got, c.want)
		}
		if start := got + int64(c.phase); start <= c.t || start > c.t+int64(c.every) {
			t.Errorf("%s: starts at %d, not within the interval after %d", c.name, start, c.t)
		}
		if got%int64(c.every) != 0 {
			t.Errorf("%s: slot %d off the grid", c.name, got)
		}
	}
}

// TestDelayStats: the last and the largest delay are kept.
func TestDelayStats(t *testing.T) {
	var d delayStats
	for _, late := range []time.Duration{3 * time.Millisecond, 12 * time.Millisecond, time.Millisecond} {
		d.record(late)
	}
	d.missed.Add(2)
	if got := d.snapshot(); got != (DelaySnapshot{Last: time.Millisecond, Max: 12 * time.Millisecond, Samples: 3, Missed: 2}) {
		t.Fatalf("%+v", got)
	}
}

// TestFiniteRefusesNaN: a sample with NaN or an infinity fails as a range error.
func TestFiniteRefusesNaN(t *testing.T) {
	nan, inf := 0.0, 1.0
	nan /= nan
	inf /= 0
	for _, v := range []float64{nan, inf, -inf} {
		if err := finite([]float64{1, v}); err == nil {
			t.Errorf("%v accepted", v)
		}
	}
	if err := finite([]float64{1, -0.0, 5e-324}); err != nil {
		t.Errorf("finite values refused: %v", err)
	}
}

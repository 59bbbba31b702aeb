package gateway

import (
	"testing"
	"time"
)

func TestAutoRingCapacity(t *testing.T) {
	for _, c := range []struct {
		name   string
		rate   float64
		maxN   int
		maxAge time.Duration
		want   int
	}{
		// 20 readings/s (about configs/sim.yaml): a minute is 1200, so the next power of two.
		{"idle cabinet", 20, 100, 2 * time.Second, 2048},
		// Nothing configured fast: the floor.
		{"slow", 0.5, 100, time.Second, 1024},
		// Two packs of 1000 and 2 s at 100/s make 2200; a minute at 100/s is 6000, so 8192.
		{"a minute wins", 100, 1000, 2 * time.Second, 8192},
		// Two packs of 5000 at 1/s: 10002, above a minute's 60.
		{"big packs", 1, 5000, 2 * time.Second, 16384},
		// 10k readings/s would want 600k: capped at the default capacity, as before this sizing.
		{"capped", 1e4, 100, time.Second, 16384},
	} {
		if got := autoRingCapacity(c.rate, c.maxN, c.maxAge, 16384); got != c.want {
			t.Errorf("%s: autoRingCapacity(%v/s, %d, %v) = %d, want %d", c.name, c.rate, c.maxN, c.maxAge, got, c.want)
		}
	}
}

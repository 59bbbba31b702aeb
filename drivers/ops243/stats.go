package ops243

import "slices"

// MaxVehicles is how many vehicle speeds one interval keeps for its 85th percentile: a lane
// carries at most about 2,200 vehicles an hour, so 4096 covers two lanes for 55 minutes. Past it
// the count, mean and max stay exact and the percentile is that of the first MaxVehicles
// vehicles (Stats.Overflow counts the others).
const MaxVehicles = 4096

// interval is the aggregate of the vehicles closed since the previous Sample. Its buffer is
// allocated once; add and take do not allocate.
type interval struct {
	n        int
	sum, max float64
	speeds   []float64 // len n up to MaxVehicles
}

func newInterval() interval { return interval{speeds: make([]float64, 0, MaxVehicles)} }

// add counts one vehicle of speed v (m/s, positive); it reports false when the percentile buffer
// was full.
func (iv *interval) add(v float64) bool {
	iv.n++
	iv.sum += v
	if v > iv.max {
		iv.max = v
	}
	if len(iv.speeds) == cap(iv.speeds) {
		return false
	}
	iv.speeds = append(iv.speeds, v)
	return true
}

// take returns the interval's count, mean, 85th percentile and max speed and starts a new
// interval. Without vehicles all are 0.
func (iv *interval) take() (count int, mean, p85, max float64) {
	count, max = iv.n, iv.max
	if count > 0 {
		mean = iv.sum / float64(count)
		p85 = percentile85(iv.speeds)
	}
	iv.n, iv.sum, iv.max, iv.speeds = 0, 0, 0, iv.speeds[:0]
	return count, mean, p85, max
}

// percentile85 returns the 85th-percentile speed of s, which it sorts: the speed at or below
// which 85 percent of the vehicles travel (ITE Manual of Transportation Engineering Studies,
// chapter "Spot Speed Studies"; FHWA "Speed Concepts: Informational Guide", FHWA-SA-10-001,
// 2009, section 2). Taken literally on the observed speeds: the smallest observed speed with at
// least 85 percent of the vehicles at or below it, that is the k-th slowest with k = ceil(0.85 n)
// (the nearest-rank method, Hyndman and Fan 1996 definition 1). No interpolation: the result is
// always a speed a vehicle was measured at. s must not be empty.
func percentile85(s []float64) float64 {
	slices.Sort(s)
	k := (85*len(s) + 99) / 100 // ceil(0.85 n) in integers
	return s[k-1]
}

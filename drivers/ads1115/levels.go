package ads1115

import "math"

// Levels aggregates the fast sound levels of one interval into the measures acousticians report
// (definitions of IEC 61672-1:2013 and ISO 1996-1:2016):
//
//   - LAeq, the equivalent continuous level: 10·log10 of the mean of 10^(L/10) over the samples.
//     The mean is taken of sound energy, never of dB: half the time at 60 dB and half at 70 dB is
//     67.4 dB, not 65.
//   - LAmax and LAmin, the highest and lowest fast sample.
//   - L10 and L90, the levels exceeded 10 % and 90 % of the time, from a histogram of 0.1 dB bins
//     (see Exceeded for how the percentile is taken).
//
// Each fast sample stands for the same share of the interval, so sample counts are time. Levels is
// the pure part of the noise mode, with no clock and no bus; NoiseMeter feeds it from its goroutine.
// It allocates only in NewLevels. Not safe for concurrent use.
type Levels struct {
	lo10   int      // bin 0 is lo10/10 dB
	hist   []uint32 // samples per 0.1 dB bin
	n      int
	energy float64 // sum of 10^(L/10)
	max    float64
	min    float64
}

// NewLevels returns an empty aggregate whose histogram covers lowDB..highDB in 0.1 dB bins; levels
// outside are counted in the end bins (LAmax, LAmin and LAeq keep their exact values).
func NewLevels(lowDB, highDB float64) *Levels {
	lo := int(math.Floor(lowDB * 10))
	hi := int(math.Ceil(highDB * 10))
	return &Levels{lo10: lo, hist: make([]uint32, max(hi-lo+1, 1))}
}

// Add counts one fast sample of db.
func (l *Levels) Add(db float64) {
	i := int(math.Round(db*10)) - l.lo10
	i = min(max(i, 0), len(l.hist)-1)
	l.hist[i]++
	if l.n == 0 || db > l.max {
		l.max = db
	}
	if l.n == 0 || db < l.min {
		l.min = db
	}
	l.n++
	l.energy += math.Pow(10, db/10)
}

// N is the number of fast samples since the last Reset.
func (l *Levels) N() int { return l.n }

// LAeq is 10·log10(Σ 10^(L/10) / N): IEC 61672-1's time-average (equivalent continuous) sound
// level, 10·log10((1/T)∫10^(L(t)/10)dt), for equally spaced samples. It is 0 when N is 0.
func (l *Levels) LAeq() float64 {
	if l.n == 0 {
		return 0
	}
	return 10 * math.Log10(l.energy/float64(l.n))
}

// Max is the highest sample (LAFmax when the samples are the meter's Fast-weighted output), 0 when N
// is 0.
func (l *Levels) Max() float64 { return l.max }

// Min is the lowest sample, 0 when N is 0.
func (l *Levels) Min() float64 { return l.min }

// Exceeded returns L_pct, the level exceeded pct % of the time (ISO 1996-1's N percent exceedance
// level), to the 0.1 dB bin. It is the (100-pct)th percentile by the
// nearest-rank method: with the N samples sorted from lowest to highest, the one at rank
// ceil((100-pct)·N/100), at least 1. With ten samples of 60, 61, ... 69 dB, L10 is 68 dB (one
// sample in ten, 69 dB, is above it) and L90 is 60 dB (nine in ten are above it). It is 0 when N
// is 0. pct is 1..99.
func (l *Levels) Exceeded(pct int) float64 {
	if l.n == 0 {
		return 0
	}
	rank := max(((100-pct)*l.n+99)/100, 1)
	seen := 0
	for i, c := range l.hist {
		seen += int(c)
		if seen >= rank {
			return float64(l.lo10+i) / 10
		}
	}
	return float64(l.lo10+len(l.hist)-1) / 10 // not reached: the bins hold all N
}

// Result stores LAeq, LAmax, LAmin, L10, L90 and N in dst[0:6], the order of NoiseMeter's
// channels.
func (l *Levels) Result(dst []float64) {
	_ = dst[5]
	dst[0] = l.LAeq()
	dst[1] = l.Max()
	dst[2] = l.Min()
	dst[3] = l.Exceeded(10)
	dst[4] = l.Exceeded(90)
	dst[5] = float64(l.n)
}

// Reset empties the aggregate for the next interval.
func (l *Levels) Reset() {
	clear(l.hist)
	l.n, l.energy, l.max, l.min = 0, 0, 0, 0
}

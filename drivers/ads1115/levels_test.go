package ads1115

import (
	"math"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, tol)
	}
}

func fill(l *Levels, counts map[float64]int) {
	for db, n := range counts {
		for range n {
			l.Add(db)
		}
	}
}

// IEC 61672-1 / ISO 1996-1: LAeq = 10·log10((1/T)∫10^(L(t)/10)dt); for N equally spaced fast
// samples, 10·log10((1/N)·Σ10^(Li/10)).
func TestLAeqDefinition(t *testing.T) {
	l := NewLevels(27, 133)
	// Half the interval at 60 dB, half at 70 dB: 10·log10((10^6 + 10^7)/2) = 10·log10(5.5e6)
	// = 67.4036 dB. The arithmetic mean of the dB values would be 65.
	fill(l, map[float64]int{60: 40, 70: 40})
	near(t, "LAeq 60/70", l.LAeq(), 67.4036, 5e-5)
	near(t, "LAmax", l.Max(), 70, 0)
	near(t, "LAmin", l.Min(), 60, 0)

	// One sample in ten at 90 dB, nine at 60 dB: 10·log10((10^9 + 9·10^6)/10) = 10·log10(1.009e8)
	// = 80.0389 dB: a short loud event dominates the energy average.
	l.Reset()
	fill(l, map[float64]int{90: 1, 60: 9})
	near(t, "LAeq 90 + 9×60", l.LAeq(), 80.0389, 5e-5)

	// A steady level is its own LAeq.
	l.Reset()
	fill(l, map[float64]int{72.3: 8})
	near(t, "LAeq steady", l.LAeq(), 72.3, 1e-9)

	// Three quarters of the time at 80 dB, one at 50 dB: 10·log10((3·10^8 + 10^5)/4)
	// = 10·log10(7.5025e7) = 70 + 10·log10(7.5025) = 78.7521 dB.
	l.Reset()
	fill(l, map[float64]int{80: 3, 50: 1})
	near(t, "LAeq 3×80 + 50", l.LAeq(), 78.7521, 5e-5)
}

// ISO 1996-1: L_N is the level exceeded for N % of the time. Taken as the (100-N)th percentile by
// nearest rank: ascending rank ceil((100-N)·n/100).
func TestExceedanceLevels(t *testing.T) {
	l := NewLevels(27, 133)
	// Ten samples, one each at 60..69 dB. L10: rank ceil(0.9·10) = 9 → 68 dB (only 69, one sample
	// in ten, is above). L90: rank ceil(0.1·10) = 1 → 60 dB (nine in ten are above).
	for db := 60; db <= 69; db++ {
		l.Add(float64(db))
	}
	near(t, "L10 of 60..69", l.Exceeded(10), 68, 1e-9)
	near(t, "L90 of 60..69", l.Exceeded(90), 60, 1e-9)

	// A road at night, 100 fast samples: 10 at 50 dB (ranks 1-10), 75 at 60 dB (11-85), 10 at 70 dB
	// (86-95), 5 at 80 dB passing trucks (96-100). L10: rank 90 → 70 dB (15 % of the time at or
	// above 70, 5 % above). L90: rank 10 → 50 dB (90 % of the time above 50).
	l.Reset()
	fill(l, map[float64]int{50: 10, 60: 75, 70: 10, 80: 5})
	near(t, "L10 road", l.Exceeded(10), 70, 1e-9)
	near(t, "L90 road", l.Exceeded(90), 50, 1e-9)
	near(t, "LAmax road", l.Max(), 80, 0)
	near(t, "LAmin road", l.Min(), 50, 0)
	// One more sample at 50 dB: 101 samples, L90 rank ceil(10.1) = 11 → 50 (11 at 50); L10 rank
	// ceil(90.9) = 91 → 70 (ranks 87-96 are 70).
	l.Add(50)
	near(t, "L90 road+1", l.Exceeded(90), 50, 1e-9)
	near(t, "L10 road+1", l.Exceeded(10), 70, 1e-9)

	// A single sample is every percentile.
	l.Reset()
	l.Add(55.5)
	near(t, "L10 single", l.Exceeded(10), 55.5, 1e-9)
	near(t, "L90 single", l.Exceeded(90), 55.5, 1e-9)
}

func TestHistogramResolution(t *testing.T) {
	l := NewLevels(27, 133)
	// 0.1 dB bins, levels rounded to the nearest bin: 63.04 → 63.0, 63.06 → 63.1. LAmax and LAmin
	// keep the exact levels.
	l.Add(63.04)
	near(t, "L10 63.04", l.Exceeded(10), 63.0, 1e-9)
	l.Reset()
	l.Add(63.06)
	near(t, "L10 63.06", l.Exceeded(10), 63.1, 1e-9)
	near(t, "LAmax 63.06", l.Max(), 63.06, 0)
	// Beyond the histogram: counted in the end bins.
	l.Reset()
	l.Add(140)
	l.Add(10)
	near(t, "L10 beyond", l.Exceeded(10), 133, 1e-9)
	near(t, "L90 below", l.Exceeded(90), 27, 1e-9)
	near(t, "LAmax beyond", l.Max(), 140, 0)
}

func TestLevelsEmptyAndResult(t *testing.T) {
	l := NewLevels(27, 133)
	dst := make([]float64, 6)
	l.Result(dst)
	for i, v := range dst {
		if v != 0 {
			t.Errorf("empty dst[%d] = %v", i, v)
		}
	}
	fill(l, map[float64]int{60: 2, 70: 2})
	l.Result(dst)
	// Four samples: L10 rank ceil(3.6) = 4 → 70; L90 rank ceil(0.4) = 1 → 60.
	want := []float64{67.4036, 70, 60, 70, 60, 4}
	for i := range want {
		near(t, NoiseChannels[i].Name, dst[i], want[i], 5e-5)
	}
	l.Reset()
	if l.N() != 0 || l.LAeq() != 0 || l.Max() != 0 || l.Exceeded(10) != 0 {
		t.Errorf("after Reset: n %d LAeq %v max %v L10 %v", l.N(), l.LAeq(), l.Max(), l.Exceeded(10))
	}
	// After a Reset a lower maximum is the maximum.
	l.Add(40)
	near(t, "LAmax after reset", l.Max(), 40, 0)
}

func TestLevelsDoNotAllocate(t *testing.T) {
	l := NewLevels(27, 133)
	dst := make([]float64, 6)
	db := 30.0
	if n := testing.AllocsPerRun(1000, func() {
		l.Add(db)
		db += 0.37
		if db > 130 {
			db = 30
		}
	}); n != 0 {
		t.Errorf("Add allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		l.Result(dst)
		l.Reset()
		l.Add(db)
	}); n != 0 {
		t.Errorf("Result+Reset allocates %v times", n)
	}
}

func BenchmarkLevelsAdd(b *testing.B) {
	l := NewLevels(27, 133)
	for i := range b.N {
		l.Add(30 + float64(i%1000)/10)
	}
}

func BenchmarkLevelsInterval(b *testing.B) {
	// One 60 s interval of 125 ms fast samples: 480 Adds, then Result and Reset.
	l := NewLevels(27, 133)
	dst := make([]float64, 6)
	for range b.N {
		for i := range 480 {
			l.Add(40 + float64(i%300)/10)
		}
		l.Result(dst)
		l.Reset()
	}
}

// BenchmarkAggregate is the noise meter's aggregation cost per fast sample (make bench's
// interval-aggregation table): one level into the interval's energy sum and histogram.
func BenchmarkAggregate(b *testing.B) {
	b.Run("noise_fast_sample", func(b *testing.B) {
		l := NewLevels(27, 133)
		dst := make([]float64, 6)
		b.ReportAllocs()
		for i := range b.N {
			l.Add(40 + float64(i%300)/10)
			if i%480 == 479 { // a 60 s interval of 125 ms samples
				l.Result(dst)
				l.Reset()
			}
		}
	})
}

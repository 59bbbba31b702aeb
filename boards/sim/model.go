package sim

import (
	"hash/fnv"
	"math"
	"time"
)

// Kind is a simulated measurement.
type Kind uint8

// The simulated measurements.
const (
	Temperature Kind = iota + 1
	Humidity
	Pressure
	CO2
	PM1
	PM25
	PM10
	Noise
	Illuminance
	Vehicles
	Speed
	Distance
	Occupied
	Latitude
	Longitude
	Altitude
	FixQuality
	Satellites
)

// key identifies one sensor's stream: seed and sensor name hashed once at open.
func key(seed uint64, sensor string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(sensor))
	return mix(seed ^ h.Sum64())
}

// mix is splitmix64's finaliser: a well-spread 64-bit hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit returns a uniform value in [0, 1) for (k, kind, n).
func unit(k uint64, kind Kind, n int64) float64 {
	return float64(mix(k^uint64(kind)<<56^uint64(n))>>11) / (1 << 53)
}

// noise returns a value in [-1, 1) for (k, kind, n).
func noise(k uint64, kind Kind, n int64) float64 { return 2*unit(k, kind, n) - 1 }

func quantize(v, step float64) float64 { return math.Round(v/step) * step }

// hourOfDay returns the UTC hour of day as a fraction, 0 <= h < 24.
func hourOfDay(ms int64) float64 {
	d := ms % (24 * 3600 * 1000)
	if d < 0 {
		d += 24 * 3600 * 1000
	}
	return float64(d) / 3600e3
}

// rush is 0 at night, about 0.25 in the daytime and 1 at the 08:00 and 17:30 peaks.
func rush(h float64) float64 {
	g := func(mu, sigma float64) float64 { return math.Exp(-(h - mu) * (h - mu) / (2 * sigma * sigma)) }
	day := 0.0
	if h > 6 && h < 22 {
		day = 0.25
	}
	return math.Min(1, day+g(8, 1.2)+g(17.5, 1.5))
}

// value computes kind for the sensor stream k at ms (Unix milliseconds), sampled every interval. ok is
// false when the simulated part has nothing to report (no radar target).
func value(k uint64, kind Kind, ms int64, interval time.Duration) (v float64, ok bool) {
	h := hourOfDay(ms)
	days := float64(ms) / 86400e3
	r := rush(h)
	switch kind {
	case Temperature:
		t := 11 + 7*math.Sin(2*math.Pi*(h-9)/24) + 2*math.Sin(2*math.Pi*days/3) + 0.05*noise(k, kind, ms)
		return quantize(t, 0.01), true
	case Humidity:
		t, _ := value(k, Temperature, ms, interval)
		return quantize(math.Max(20, math.Min(100, 75-2.2*(t-11)+0.5*noise(k, kind, ms))), 0.01), true
	case Pressure:
		return quantize(101325+800*math.Sin(2*math.Pi*days/4)+5*noise(k, kind, ms), 1), true
	case CO2:
		return quantize(420+60*r+5*noise(k, kind, ms), 1), true
	case PM25:
		return quantize(6+14*r+1.5*noise(k, kind, ms), 1), true
	case PM1:
		pm, _ := value(k, PM25, ms, interval)
		return quantize(0.7*pm, 1), true
	case PM10:
		pm, _ := value(k, PM25, ms, interval)
		return quantize(1.6*pm+noise(k, kind, ms), 1), true
	case Noise:
		return quantize(52+18*r+2*noise(k, kind, ms), 0.1), true
	case Illuminance:
		sun := math.Max(0, math.Sin(math.Pi*(h-6)/12))
		return quantize(15+40000*sun*(0.8+0.2*unit(k, kind, ms/600000)), 0.1), true
	case Vehicles:
		perMin := 4 + 36*r
		return poisson(perMin*interval.Minutes(), unit(k, kind, ms)), true
	case Speed:
		if unit(k, kind, ms) < 0.2*(1-r) {
			return 0, false // no vehicle in the beam
		}
		return quantize(math.Max(1, 13.9-6*r+2.5*noise(k, kind+100, ms)), 0.1), true
	case Occupied:
		slot := ms / (7 * 60 * 1000) // cars stay for multiples of 7 minutes
		if unit(k, kind, slot) < 0.3+0.5*r {
			return 1, true
		}
		return 0, true
	case Distance:
		occ, _ := value(k, Occupied, ms, interval)
		if occ == 1 {
			return quantize(0.45+0.05*noise(k, kind, ms), 0.001), true
		}
		return quantize(2.8+0.01*noise(k, kind, ms), 0.001), true
	case Latitude:
		return quantize(52.520008+float64(k%1000)*1e-5+2e-6*noise(k, kind, ms), 1e-7), true
	case Longitude:
		return quantize(13.404954+float64(k>>10%1000)*1e-5+2e-6*noise(k, kind, ms), 1e-7), true
	case Altitude:
		return quantize(34+0.5*noise(k, kind, ms), 0.1), true
	case FixQuality:
		return 1, true
	case Satellites:
		return float64(7 + mix(k^uint64(ms/60000))%6), true
	}
	return 0, false
}

// poisson draws from a Poisson distribution of mean lambda by inverting its CDF at u.
func poisson(lambda, u float64) float64 {
	if lambda > 200 { // normal approximation, and a bounded loop
		z := math.Sqrt2 * math.Erfinv(2*math.Max(1e-12, math.Min(1-1e-12, u))-1)
		return math.Max(0, math.Round(lambda+z*math.Sqrt(lambda)))
	}
	p := math.Exp(-lambda)
	cdf := p
	n := 0
	for cdf < u && n < 1000 {
		n++
		p *= lambda / float64(n)
		cdf += p
	}
	return float64(n)
}

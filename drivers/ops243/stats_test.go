package ops243

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Known answers from the definition: the 85th-percentile speed is the speed at or below which 85
// percent of the vehicles travel (ITE Manual of Transportation Engineering Studies, "Spot Speed
// Studies"; FHWA-SA-10-001 section 2), taken on the observed speeds as the k-th slowest with
// k = ceil(0.85 n) (nearest rank).
func TestIntervalKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		name           string
		speeds         []float64
		count          int
		mean, p85, max float64
	}{
		// 10, 12, ..., 28 m/s: mean (10+28)/2 = 19; k = ceil(8.5) = 9, the 9th slowest is 26; max 28.
		{"10..28 step 2", []float64{28, 10, 26, 12, 24, 14, 22, 16, 20, 18}, 10, 19, 26, 28},
		// 1..20: mean 10.5; k = ceil(17) = 17: 85 % of 20 is exactly 17 vehicles, at or below 17.
		{"1..20", seq(1, 20), 20, 10.5, 17, 20},
		// 7 vehicles: k = ceil(5.95) = 6, the 6th slowest.
		{"7 vehicles", []float64{13, 11, 17, 12, 15, 14, 16}, 7, 14, 16, 17},
		// One vehicle: it is its own 85th percentile.
		{"1 vehicle", []float64{22.5}, 1, 22.5, 22.5, 22.5},
		// None: all 0, meaningful only with count > 0.
		{"none", nil, 0, 0, 0, 0},
	} {
		iv := newInterval()
		for _, v := range tc.speeds {
			iv.add(v)
		}
		n, mean, p85, max := iv.take()
		if n != tc.count || mean != tc.mean || p85 != tc.p85 || max != tc.max {
			t.Errorf("%s: %d %g %g %g, want %d %g %g %g", tc.name, n, mean, p85, max, tc.count, tc.mean, tc.p85, tc.max)
		}
		if n, _, _, _ := iv.take(); n != 0 {
			t.Errorf("%s: not reset", tc.name)
		}
	}
}

func seq(a, b int) []float64 {
	var s []float64
	for i := a; i <= b; i++ {
		s = append(s, float64(i))
	}
	return s
}

func TestIntervalOverflow(t *testing.T) {
	iv := newInterval()
	for i := 0; i < MaxVehicles; i++ {
		if !iv.add(10) {
			t.Fatal("full early")
		}
	}
	if iv.add(50) {
		t.Fatal("not full")
	}
	n, mean, p85, max := iv.take()
	if n != MaxVehicles+1 || max != 50 || p85 != 10 || mean <= 10 {
		t.Errorf("%d %g %g %g", n, mean, p85, max)
	}
	if n := testing.AllocsPerRun(10, func() {
		for i := 0; i < 100; i++ {
			iv.add(float64(i % 37))
		}
		iv.take()
	}); n != 0 {
		t.Errorf("interval allocates %v", n)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultOptions.Validate(); err != nil {
		t.Fatal(err)
	}
	o := Options{Units: "knots", Output: "xml", Direction: "north", MinSpeed: -1, MaxSpeed: 70,
		SampleRate: 12345, VehicleGap: time.Millisecond, AnswerTimeout: time.Hour}
	err := o.Validate()
	fields := map[string]bool{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *sensor.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%T %v", e, e)
		}
		fields[fe.Field] = true
	}
	for _, f := range []string{"units", "output", "direction", "sample_rate", "min_speed", "vehicle_gap", "answer_timeout"} {
		if !fields[f] {
			t.Errorf("no error for %s in %v", f, err)
		}
	}
	// Cross-field rules: max_speed above the Doppler limit of the sampling rate (31.07 m/s at
	// 10 ksps: 10000 * 299792458 / (4 * 24.125e9)), and max_speed not above min_speed.
	o = DefaultOptions
	o.SampleRate, o.MaxSpeed = 10000, 35
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "max_speed: 35 m/s is above the 31.1 m/s") {
		t.Errorf("%v", err)
	}
	o.MaxSpeed = 1.5
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "not above min_speed") {
		t.Errorf("%v", err)
	}
	if _, err := New(nil, "x", nil); err == nil {
		t.Error("nil port accepted")
	}
}

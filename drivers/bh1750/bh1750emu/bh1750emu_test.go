package bh1750emu

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/bh1750"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestDriverThroughEmulator(t *testing.T) {
	e := New(0x5C)
	d, err := bh1750.New(e, 0x5C, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 1)
	for _, lux := range []float64{0, 0.4, 350, 12345.6, 54000} {
		e.Set(lux)
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		// H-resolution: one count is 1/1.2 lx; rounding makes it half of that.
		if math.Abs(dst[0]-lux) > 0.5/1.2+1e-9 {
			t.Errorf("set %v lx, decoded %v", lux, dst[0])
		}
	}
	e.Set(100000) // direct sun: saturates
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("saturated: %v", err)
	}
}

// TestDriverResetsMeasurementTime opens a part another program left with twice the default
// measurement time, which doubles every count: New must set it back, or every reading is double.
func TestDriverResetsMeasurementTime(t *testing.T) {
	e := New(0x23)
	e.SetMTreg(138)
	d, err := bh1750.New(e, 0x23, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Set(500)
	dst := make([]float64, 1)
	if err := d.Sample(time.Time{}, dst); err != nil || math.Abs(dst[0]-500) > 0.5/1.2+1e-9 {
		t.Fatalf("500 lx read as %v (%v)", dst[0], err)
	}
}

// TestSunlight: 100,000 lx (direct sun) saturates the default range (54,612 lx) but reads with
// range: sunlight, within its 1.855 lx resolution (69 / 31 / 1.2 lx per count).
func TestSunlight(t *testing.T) {
	e := New(0x23)
	o := bh1750.DefaultOptions
	o.Range = "sunlight"
	d, err := bh1750.NewWithOptions(e, 0x23, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 1)
	for _, lx := range []float64{100000, 121000, 2.5} {
		e.Set(lx)
		if err := d.Sample(time.Time{}, dst); err != nil || math.Abs(dst[0]-lx) > 69.0/31/1.2/2+1e-9 {
			t.Errorf("%v lx read as %v (%v)", lx, dst[0], err)
		}
	}
	e.Set(130000)
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("above 121,557 lx: %v", err)
	}
}

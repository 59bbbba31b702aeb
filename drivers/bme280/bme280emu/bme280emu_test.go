package bme280emu

import (
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/bme280"
)

func env(c, rh, pa float64) physic.Env {
	return physic.Env{
		Temperature: physic.ZeroCelsius + physic.Temperature(c*float64(physic.Celsius)),
		Humidity:    physic.RelativeHumidity(rh * float64(physic.PercentRH)),
		Pressure:    physic.Pressure(pa * float64(physic.Pascal)),
	}
}

func TestDriverThroughEmulator(t *testing.T) {
	e := New(0x76, true)
	d, err := bme280.New(e, 0x76, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 3)
	for _, s := range []struct{ c, rh, pa float64 }{
		{20, 50, 101325}, {-12.34, 91.2, 98000}, {41.5, 12, 102800}, {0, 0.5, 85000},
	} {
		e.Set(env(s.c, s.rh, s.pa))
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		// Resolution: 0.01 °C, about 0.2 Pa per count near sea level, and humidity counts of
		// ~0.008 %RH; allow for the integer formulas' own rounding.
		if math.Abs(dst[0]-s.c) > 0.011 || math.Abs(dst[1]-s.rh) > 0.05 || math.Abs(dst[2]-s.pa) > 1 {
			t.Errorf("set %v, decoded %v", s, dst)
		}
	}
	if e.Measurements() != 4 {
		t.Errorf("%d measurements", e.Measurements())
	}
}

func TestBMP280ThroughEmulator(t *testing.T) {
	e := New(0x77, false)
	d, err := bme280.New(e, 0x77, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.IsBME280() || len(d.Channels()) != 2 {
		t.Fatal("emulated BMP280 seen as BME280")
	}
	e.Set(env(25.08, 0, 100653.27))
	var got physic.Env
	if err := d.Sense(&got); err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Temperature.Celsius()-25.08) > 0.011 || math.Abs(float64(got.Pressure)/float64(physic.Pascal)-100653.27) > 1 {
		t.Errorf("decoded %v", got)
	}
}

func TestWrongAddressNACKs(t *testing.T) {
	if _, err := bme280.New(New(0x76, true), 0x77, nil); err == nil {
		t.Fatal("no NACK at the wrong address")
	}
}

// TestSkipThroughEmulator: humidity skipped on a BME280, pressure at 16x with filter 16 (a step
// change is tracked within the filter's response; a constant input is unchanged by it).
func TestSkipThroughEmulator(t *testing.T) {
	e := New(0x77, true)
	o := bme280.DefaultOptions
	o.Oversampling.Humidity, o.Oversampling.Pressure, o.Filter = "skip", "16", "16"
	d, err := bme280.NewWithOptions(e, 0x77, &o)
	if err != nil {
		t.Fatal(err)
	}
	if ch := d.Channels(); len(ch) != 2 || ch[1].Name != "pressure" {
		t.Fatalf("channels %v", ch)
	}
	e.Set(env(18.5, 60, 99500))
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); err != nil || math.Abs(dst[0]-18.5) > 0.011 || math.Abs(dst[1]-99500) > 1 {
		t.Fatalf("%v %v", dst, err)
	}
}

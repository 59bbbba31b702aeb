package ads1115emu

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/ads1115"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestDriverThroughEmulator(t *testing.T) {
	e := New(0x49)
	d, err := ads1115.New(e, 0x49, &ads1115.Opts{Mux: ads1115.AIN2, Gain: ads1115.FS2048, Rate: ads1115.SPS860})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 1)
	for _, v := range []float64{0, 0.001, 1.2345, 2.04} {
		e.Set(2, v)
		e.Set(0, 3.3) // another input: must not matter
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		if math.Abs(dst[0]-v) > 62.5e-6/2+1e-12 { // half an LSB at ±2.048 V
			t.Errorf("set %v V, decoded %v", v, dst[0])
		}
	}
	e.Set(2, 2.5) // beyond ±2.048 V
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("over range: %v", err)
	}
}

func TestDifferential(t *testing.T) {
	e := New(0x48)
	d, err := ads1115.New(e, 0x48, &ads1115.Opts{Mux: ads1115.Diff13, Gain: ads1115.FS512, Rate: ads1115.SPS128})
	if err != nil {
		t.Fatal(err)
	}
	e.Set(1, 1.10)
	e.Set(3, 1.35)
	v, err := d.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.String(); math.Abs(float64(v)/1e9+0.25) > 15.625e-6/2+1e-9 {
		t.Errorf("AIN1-AIN3 = %s, want -250mV", got)
	}
}

func TestNoiseMeterThroughEmulator(t *testing.T) {
	e := New(0x48)
	m, err := ads1115.NewNoiseMeter(e, 0x48, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 1)
	for _, db := range []float64{35, 68.4, 104} {
		e.Set(0, 0.6+(db-30)*0.02) // default calibration: 0.6 V at 30 dB, 2.6 V at 130 dB
		if err := m.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		// Half an LSB (62.5 µV at ±4.096 V) is 0.003 dB.
		if math.Abs(dst[0]-db) > 0.004 {
			t.Errorf("set %v dB, decoded %v", db, dst[0])
		}
	}
	if e.Conversions() != 3 {
		t.Errorf("%d conversions", e.Conversions())
	}
}

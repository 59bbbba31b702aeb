package sht4xemu

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/drivers/sht4x"
)

func TestDriverThroughEmulator(t *testing.T) {
	e := New(0x44, 0x12345678)
	d, err := sht4x.New(e, 0x44, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Serial() != 0x12345678 {
		t.Errorf("serial %#x", d.Serial())
	}
	dst := make([]float64, 2)
	for _, s := range []struct{ c, rh float64 }{{20, 50}, {-35.5, 98.2}, {60.25, 3.5}, {0, 0}} {
		e.Set(physic.Env{
			Temperature: physic.ZeroCelsius + physic.Temperature(s.c*float64(physic.Celsius)),
			Humidity:    physic.RelativeHumidity(s.rh * float64(physic.PercentRH)),
		})
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		// One count is 175/65535 = 0.0027 °C and 125/65535 = 0.0019 %RH.
		if math.Abs(dst[0]-s.c) > 0.0027 || math.Abs(dst[1]-s.rh) > 0.002 {
			t.Errorf("set %v, decoded %v", s, dst)
		}
	}
	e.CorruptNextCRC()
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("corrupted CRC: %v", err)
	}
}

package scd4xemu

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/scd4x"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestDriverThroughEmulator(t *testing.T) {
	e := New(0xF8969F073BB2)
	e.periodic = true // left running by a previous process: New must stop it to read the serial
	d, err := scd4x.New(e, 0x62, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Serial() != 0xF8969F073BB2 || !e.Periodic() {
		t.Fatalf("serial %#x periodic %v", d.Serial(), e.Periodic())
	}
	dst := make([]float64, 3)
	at := time.Unix(0, 0)
	if err := d.Sample(at, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("before the first measurement: %v", err)
	}
	for i, s := range []struct {
		ppm   uint16
		c, rh float64
	}{{420, 20, 50}, {1850, -5.5, 88.8}, {40000, 59.9, 0.4}} {
		e.Set(s.ppm, physic.Env{
			Temperature: physic.ZeroCelsius + physic.Temperature(s.c*float64(physic.Celsius)),
			Humidity:    physic.RelativeHumidity(s.rh * float64(physic.PercentRH)),
		})
		at = at.Add(5 * time.Second)
		if err := d.Sample(at, dst); err != nil {
			t.Fatalf("measurement %d: %v", i, err)
		}
		// One count is 175/65535 = 0.0027 °C and 100/65535 = 0.0015 %RH; CO2 is exact.
		if dst[0] != float64(s.ppm) || math.Abs(dst[1]-s.c) > 0.0027 || math.Abs(dst[2]-s.rh) > 0.0016 {
			t.Errorf("set %v, decoded %v", s, dst)
		}
		if err := d.Sample(at.Add(time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
			t.Errorf("same measurement twice: %v", err)
		}
	}
	if err := d.Halt(); err != nil || e.Periodic() {
		t.Fatalf("Halt: %v, periodic %v", err, e.Periodic())
	}
}

// TestDriverRestartsAfterReset power-cycles the part under a running driver: it comes back idle, the
// driver times out, sends start again (once per timeout, not on every Sample) and measures again.
func TestDriverRestartsAfterReset(t *testing.T) {
	e, d, env, at := measuring(t)
	dst := make([]float64, 3)
	e.PowerCycle()
	e.Set(700, env) // what the part would measure, if it measured: an idle part reports nothing
	e.PowerCycle()
	for s := 5; s <= 15; s += 5 {
		if err := d.Sample(at.Add(time.Duration(s)*time.Second), dst); !errors.Is(err, sensor.ErrNoData) || e.Periodic() {
			t.Fatalf("%d s after the reset: %v, periodic %v", s, err, e.Periodic())
		}
	}
	starts := e.Starts()
	if err := d.Sample(at.Add(20*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) || !e.Periodic() || e.Starts() != starts+1 {
		t.Fatalf("past the data timeout: %v, periodic %v, %d starts (want ErrTimeout and one restart)", err, e.Periodic(), e.Starts()-starts)
	}
	// Still no data: the timeout stands, and start is not sent again within the timeout.
	for s := 21; s <= 35; s++ {
		if err := d.Sample(at.Add(time.Duration(s)*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) {
			t.Fatalf("%d s, before the first new measurement: %v", s, err)
		}
	}
	if n := e.Starts() - starts; n != 1 {
		t.Fatalf("%d start commands within one data timeout, want 1", n)
	}
	// A timeout later, another try.
	if err := d.Sample(at.Add(36*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) || e.Starts()-starts != 2 {
		t.Fatalf("one data timeout after the restart: %v, %d starts", err, e.Starts()-starts)
	}
	e.Set(800, env)
	if err := d.Sample(at.Add(40*time.Second), dst); err != nil || dst[0] != 800 {
		t.Fatalf("after the restart: %v %v", dst, err)
	}
}

// TestDriverWakesPoweredDownPart opens a part another program left in power-down, where it answers
// nothing but wake_up.
func TestDriverWakesPoweredDownPart(t *testing.T) {
	e := New(0xF8969F073BB2)
	e.PowerDown()
	if _, err := scd4x.New(e, 0x62, nil); err != nil {
		t.Fatalf("New on a powered-down part: %v", err)
	}
	if !e.Periodic() {
		t.Fatal("not measuring after New")
	}
}

// TestDriverZeroPPMTimesOut: a part that only ever reports 0 ppm is skipped sample by sample, and
// times out like a part that reports nothing, instead of looking healthy forever.
func TestDriverZeroPPMTimesOut(t *testing.T) {
	e, d, env, at := measuring(t)
	dst := make([]float64, 3)
	for s := 5; s <= 30; s += 5 {
		e.Set(0, env)
		err := d.Sample(at.Add(time.Duration(s)*time.Second), dst)
		want := sensor.ErrNoData
		if s > 15 {
			want = sensor.ErrTimeout
		}
		if sensor.Kind(err) != want {
			t.Fatalf("0 ppm %d s in: %v, want %v", s, err, want)
		}
	}
}

// measuring opens a driver with a 15 s data timeout on a fresh emulator and takes one good sample
// (600 ppm) at time at.
func measuring(t *testing.T) (e *Emu, d *scd4x.Dev, env physic.Env, at time.Time) {
	t.Helper()
	e = New(0xF8969F073BB2)
	d, err := scd4x.New(e, 0x62, &scd4x.Opts{DataTimeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env = physic.Env{Temperature: physic.ZeroCelsius + 20*physic.Celsius, Humidity: 50 * physic.PercentRH}
	at = time.Unix(0, 0)
	e.Set(600, env)
	dst := make([]float64, 3)
	if err := d.Sample(at, dst); err != nil || dst[0] != 600 {
		t.Fatalf("first sample: %v %v", dst, err)
	}
	return e, d, env, at
}

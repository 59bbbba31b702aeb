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
	o := scd4x.DefaultOptions
	o.DataTimeout = 15 * time.Second
	o.Altitude, o.TemperatureOffset, o.ASC, o.PressureFrom = 1950, 5.4, false, "env1/pressure"
	d, err := scd4x.NewWithOptions(e, 0x62, &o)
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

// wanted is what measuring's options put on the wire: 1950 m, 5.4 °C = 0x07E6 (datasheet examples,
// sections 3.6.1 and 3.6.3), ASC off.
var wanted = Settings{Altitude: 1950, TemperatureOffset: 0x07E6, ASC: 0}

// TestSettingsThroughEmulator: the settings reach the part, read back over the bus with the get_
// commands once the part is idle; ambient pressure goes in during periodic measurement; nothing is
// persisted; after a reset (factory settings) the driver's restart writes them again.
func TestSettingsThroughEmulator(t *testing.T) {
	e, d, env, at := measuring(t)
	if got := e.Settings(); got != wanted {
		t.Fatalf("settings %+v, want %+v", got, wanted)
	}
	if err := d.SetAmbientPressure(98700); err != nil {
		t.Fatal(err)
	}
	e.Set(610, env)
	dst := make([]float64, 3)
	if err := d.Sample(at.Add(5*time.Second), dst); err != nil {
		t.Fatal(err)
	}
	if p := e.Settings().Pressure; p != 987 {
		t.Fatalf("ambient pressure %d hPa, want 987", p)
	}
	// The reset: factory settings (offset 4 °C = 0x05DA), no pressure. The timeout restarts the part
	// with ours, and the next Sample sends the pressure again.
	e.PowerCycle()
	if got := e.Settings(); got.Altitude != 0 || got.TemperatureOffset != 0x05DA || got.ASC != 1 || got.Pressure != 0 {
		t.Fatalf("after a power cycle: %+v", got)
	}
	if err := d.Sample(at.Add(25*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	e.Set(620, env)
	if err := d.Sample(at.Add(30*time.Second), dst); err != nil || dst[0] != 620 {
		t.Fatalf("after restart: %v %v", dst, err)
	}
	want := wanted
	want.Pressure = 987
	if got := e.Settings(); got != want {
		t.Fatalf("after restart: %+v, want %+v", got, want)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	// Read back over the bus, as a technician's tool would: get_sensor_altitude (0x2322),
	// get_temperature_offset (0x2318), get_automatic_self_calibration_enabled (0x2313).
	for _, c := range []struct {
		cmd  uint16
		want uint16
	}{{0x2322, 1950}, {0x2318, 0x07E6}, {0x2313, 0}} {
		var b [3]byte
		if err := e.Tx(0x62, []byte{byte(c.cmd >> 8), byte(c.cmd)}, nil); err != nil {
			t.Fatal(err)
		}
		if err := e.Tx(0x62, nil, b[:]); err != nil {
			t.Fatal(err)
		}
		if w := uint16(b[0])<<8 | uint16(b[1]); w != c.want || scd4x.CRC8(b[:2]) != b[2] {
			t.Errorf("%#04x: % x, want %#04x", c.cmd, b, c.want)
		}
	}
	if c := scd4x.TemperatureOffsetCelsius(wanted.TemperatureOffset); math.Abs(c-5.4) > 0.003 {
		t.Errorf("offset read back as %v °C", c)
	}
	if n := e.Settings().Persists; n != 0 {
		t.Errorf("%d persist_settings: the driver must not write the EEPROM", n)
	}
}

// TestIdleOnlySettings: the emulator refuses the idle-only settings during periodic measurement, as
// the part does (section 3.6), and takes ambient pressure.
func TestIdleOnlySettings(t *testing.T) {
	e := New(1)
	e.periodic = true
	for _, w := range [][]byte{{0x24, 0x27, 0x07, 0x9E, 0x09}, {0x24, 0x1D, 0x07, 0xE6, 0x48}, {0x24, 0x16, 0x00, 0x00, 0x81}} {
		if err := e.Tx(0x62, w, nil); err == nil {
			t.Errorf("% x accepted during periodic measurement", w)
		}
	}
	if err := e.Tx(0x62, []byte{0xE0, 0x00, 0x03, 0xDB, 0x42}, nil); err != nil || e.Settings().Pressure != 987 {
		t.Errorf("set_ambient_pressure: %v %+v", err, e.Settings())
	}
	if err := e.Tx(0x62, []byte{0xE0, 0x00, 0x03, 0xDB, 0x43}, nil); err == nil {
		t.Error("bad CRC accepted")
	}
}

package scd4x

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestOptionsValidate(t *testing.T) {
	good := DefaultOptions
	good.Altitude, good.TemperatureOffset, good.PressureFrom = 3000, 20, "env1/pressure"
	if err := good.Validate(); err != nil {
		t.Fatalf("limits: %v", err)
	}
	drivertest.ExpectBadOptions(t, DefaultOptions, []drivertest.BadOption[Options]{
		{Field: "altitude", Set: func(o *Options) { o.Altitude = -1 }},
		{Field: "altitude", Set: func(o *Options) { o.Altitude = 3001 }},
		{Field: "temperature_offset", Set: func(o *Options) { o.TemperatureOffset = -0.1 }},
		{Field: "temperature_offset", Set: func(o *Options) { o.TemperatureOffset = 20.5 }},
		{Field: "temperature_offset", Set: func(o *Options) { o.TemperatureOffset = math.NaN() }},
		{Field: "data_timeout", Set: func(o *Options) { o.DataTimeout = -time.Second }},
		{Field: "stuck_after", Set: func(o *Options) { o.StuckAfter = -1 }},
		{Field: "pressure_from", Set: func(o *Options) { o.PressureFrom = "env1" }},
		{Field: "pressure_from", Set: func(o *Options) { o.PressureFrom = "env1/" }},
		{Field: "pressure_from", Set: func(o *Options) { o.PressureFrom = "/pressure" }},
		{Field: "pressure_from", Set: func(o *Options) { o.PressureFrom = "a/b/c" }},
		{Field: "pressure_from", Set: func(o *Options) { o.PressureFrom = "env 1/pressure" }},
	}, func(o *Options) error {
		_, err := NewWithOptions(&i2ctest.Playback{}, 0x62, o)
		return err
	})
	o := DefaultOptions
	o.Altitude, o.StuckAfter = 4000, -2
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "altitude") || !strings.Contains(err.Error(), "stuck_after") {
		t.Errorf("two bad fields: %v", err)
	}
}

func TestEncodingsDatasheetExamples(t *testing.T) {
	// SCD4x datasheet section 3.6: set_temperature_offset example 5.4 °C -> 0x07E6;
	// get_temperature_offset example 0x0912 -> 6.2 °C; set_ambient_pressure example 98700 Pa -> 0x03DB.
	if w := TemperatureOffsetWord(5.4); w != 0x07E6 {
		t.Errorf("5.4 °C: %#04x, want 0x07E6", w)
	}
	if c := TemperatureOffsetCelsius(0x0912); math.Abs(c-6.2) > 0.001 {
		t.Errorf("0x0912: %v °C, want 6.2", c)
	}
	if w := PressureWord(98700); w != 0x03DB {
		t.Errorf("98700 Pa: %#04x, want 0x03DB", w)
	}
}

// TestSettingsOnTheWire checks the idle-mode settings against the datasheet's examples, written out
// with their CRCs as the datasheet prints them (section 3.6.1: 0x241D 0x07E6 0x48 sets 5.4 °C;
// section 3.6.3: 0x2427 0x079E 0x09 sets 1950 m; section 3.7.2: 0x2416 0x0000 0x81 disables ASC):
// after stop_periodic_measurement and its 500 ms, before start, 1 ms each, and no persist_settings.
func TestSettingsOnTheWire(t *testing.T) {
	slept := noSleep(t)
	o := DefaultOptions
	o.Altitude, o.TemperatureOffset, o.ASC = 1950, 5.4, false
	settings := []i2ctest.IO{
		{Addr: 0x62, W: []byte{0x24, 0x27, 0x07, 0x9E, 0x09}},
		{Addr: 0x62, W: []byte{0x24, 0x1D, 0x07, 0xE6, 0x48}},
		{Addr: 0x62, W: []byte{0x24, 0x16, 0x00, 0x00, 0x81}},
	}
	bus := &i2ctest.Playback{Ops: initOpsWith(0x21B1, settings)}
	if _, err := NewWithOptions(bus, 0x62, &o); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if len(*slept) != 6 || (*slept)[1] != 500*time.Millisecond || (*slept)[3] != time.Millisecond || (*slept)[5] != time.Millisecond {
		t.Errorf("slept %v", *slept)
	}
	// A NACKed setting fails New with the step named.
	bus = &i2ctest.Playback{Ops: initOpsWith(0x21B1, settings)[:5], DontPanic: true}
	if _, err := NewWithOptions(bus, 0x62, &o); !errors.Is(err, sensor.ErrBus) || !strings.Contains(err.Error(), "set temperature offset") {
		t.Errorf("NACK on the offset: %v", err)
	}
}

// TestAmbientPressure: SetAmbientPressure's value is sent before the next read (section 3.6.5: hPa,
// example 98700 Pa = 0x03DB 0x42), once per change, again after a restart; bad values are refused.
func TestAmbientPressure(t *testing.T) {
	noSleep(t)
	ops := []i2ctest.IO{{Addr: 0x62, W: []byte{0xE0, 0x00, 0x03, 0xDB, 0x42}}} // set_ambient_pressure 987 hPa
	ops = append(ops, measureOps(500, 0x6667, 0x5EB9)...)
	ops = append(ops, readyOps(0x8000)...) // same pressure to the hPa: not sent again
	// 100000 Pa = 1000 hPa = 0x03E8, CRC 0xD4 (separate Python implementation).
	ops = append(ops, i2ctest.IO{Addr: 0x62, W: []byte{0xE0, 0x00, 0x03, 0xE8, 0xD4}})
	ops = append(ops, readyOps(0x8000)...)
	ops = append(ops, defaultSettings...) // timeout: restart
	ops = append(ops, i2ctest.IO{Addr: 0x62, W: []byte{0x21, 0xB1}})
	ops = append(ops, i2ctest.IO{Addr: 0x62, W: []byte{0xE0, 0x00, 0x03, 0xE8, 0xD4}}) // the part forgot it
	ops = append(ops, measureOps(501, 0x6667, 0x5EB9)...)
	d, bus := newDev(t, nil, ops...)
	dst := make([]float64, 3)
	t0 := time.Unix(0, 0)
	if err := d.SetAmbientPressure(98700); err != nil {
		t.Fatal(err)
	}
	if err := d.Sample(t0, dst); err != nil || dst[0] != 500 {
		t.Fatalf("first: %v %v", dst, err)
	}
	if err := d.SetAmbientPressure(98740); err != nil { // 987.4 hPa rounds to 987
		t.Fatal(err)
	}
	if err := d.Sample(t0.Add(5*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("second: %v", err)
	}
	for _, bad := range []float64{69999, 120001, math.NaN(), 0} {
		if err := d.SetAmbientPressure(bad); !errors.Is(err, sensor.ErrRange) {
			t.Errorf("%v Pa: %v", bad, err)
		}
	}
	if err := d.SetAmbientPressure(100000); err != nil {
		t.Fatal(err)
	}
	if err := d.Sample(t0.Add(30*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	if err := d.Sample(t0.Add(35*time.Second), dst); err != nil || dst[0] != 501 {
		t.Fatalf("after restart: %v %v", dst, err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAmbientPressureDoesNotAllocate(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for i := range 101 {
		w := uint16(900 + i)
		g := []byte{byte(w >> 8), byte(w)}
		ops = append(ops, i2ctest.IO{Addr: 0x62, W: []byte{0xE0, 0x00, g[0], g[1], CRC8(g)}})
		ops = append(ops, measureOps(500+uint16(i), 0x6667, 0x5EB9)...)
	}
	d, _ := newDev(t, nil, ops...)
	sleep = func(time.Duration) {}
	dst := make([]float64, 3)
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		if err := d.SetAmbientPressure(float64(90000 + 100*i)); err != nil {
			t.Fatal(err)
		}
		i++
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("SetAmbientPressure and Sample allocate %v times", n)
	}
}

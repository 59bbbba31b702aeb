package scd4x

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func noSleep(t *testing.T) *[]time.Duration { return drivertest.RecordSleeps(t, &sleep) }

// reply encodes words with their CRCs.
func reply(w ...uint16) []byte {
	var b []byte
	for _, v := range w {
		g := []byte{byte(v >> 8), byte(v)}
		b = append(b, g[0], g[1], CRC8(g))
	}
	return b
}

// defaultSettings are DefaultOptions' settings on the wire, CRCs computed by a separate (Python)
// implementation: altitude 0 m, temperature offset 4 °C = round(4 * 2^16 / 175) = 1498 = 0x05DA, ASC on.
var defaultSettings = []i2ctest.IO{
	{Addr: 0x62, W: []byte{0x24, 0x27, 0x00, 0x00, 0x81}}, // set_sensor_altitude 0 m
	{Addr: 0x62, W: []byte{0x24, 0x1D, 0x05, 0xDA, 0x29}}, // set_temperature_offset 4 °C
	{Addr: 0x62, W: []byte{0x24, 0x16, 0x00, 0x01, 0xB0}}, // set_automatic_self_calibration_enabled 1
}

func initOps(start uint16) []i2ctest.IO { return initOpsWith(start, defaultSettings) }

func initOpsWith(start uint16, settings []i2ctest.IO) []i2ctest.IO {
	ops := []i2ctest.IO{
		{Addr: 0x62, W: []byte{0x36, 0xF6}},            // wake_up (a real part NACKs it; New ignores the answer)
		{Addr: 0x62, W: []byte{0x3F, 0x86}},            // stop_periodic_measurement
		{Addr: 0x62, W: []byte{0x36, 0x82}},            // get_serial_number
		{Addr: 0x62, R: reply(0xF896, 0x9F07, 0x3BB2)}, // serial words
	}
	ops = append(ops, settings...)                                                       // idle mode only
	return append(ops, i2ctest.IO{Addr: 0x62, W: []byte{byte(start >> 8), byte(start)}}) // start_(low_power_)periodic_measurement
}

func readyOps(status uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x62, W: []byte{0xE4, 0xB8}}, // get_data_ready_status
		{Addr: 0x62, R: reply(status)},      // status word
	}
}

func measureOps(co2, t, rh uint16) []i2ctest.IO {
	return append(readyOps(0x8006), // ready: low 11 bits non-zero
		i2ctest.IO{Addr: 0x62, W: []byte{0xEC, 0x05}}, // read_measurement
		i2ctest.IO{Addr: 0x62, R: reply(co2, t, rh)})  // CO2, T, RH words
}

func newDev(t *testing.T, opts *Opts, more ...i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	bus := &i2ctest.Playback{Ops: append(initOps(0x21B1), more...), DontPanic: true}
	d, err := New(bus, 0x62, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, bus
}

func TestSampleDatasheetExample(t *testing.T) {
	slept := noSleep(t)
	// The words of the datasheet's read_measurement example (section 3.5.2): 0x01F4 = 500 ppm,
	// 0x6667 = 25 °C, 0x5EB9 = 37 %RH. The CRC bytes are written out here, computed with a separate
	// (Python) implementation of the CRC, so the driver's CRC8 is not checked against itself.
	example := []byte{0x01, 0xF4, 0x33, 0x66, 0x67, 0xA2, 0x5E, 0xB9, 0x3C}
	ops := append(readyOps(0x8006), i2ctest.IO{Addr: 0x62, W: []byte{0xEC, 0x05}}, i2ctest.IO{Addr: 0x62, R: example})
	d, bus := newDev(t, nil, ops...)
	if d.Serial() != 0xF8969F073BB2 || d.String() != "scd4x(playback@0x62)" {
		t.Fatalf("serial %#x name %q", d.Serial(), d)
	}
	ch := d.Channels()
	if len(ch) != 3 || ch[0] != (sensor.Channel{Name: "co2", Unit: "ppm", Resolution: 1}) || ch[1].Unit != "Cel" || ch[2].Unit != "%RH" {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 3)
	if err := d.Sample(time.Unix(100, 0), dst); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 500 || math.Abs(dst[1]-25) > 0.01 || math.Abs(dst[2]-37) > 0.01 {
		t.Errorf("got %v, want [500 25 37]", dst)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	// wake_up, stop, get_serial_number, 3 settings, get_data_ready_status, read_measurement.
	ms := time.Millisecond
	want := []time.Duration{30 * ms, 500 * ms, ms, ms, ms, ms, ms, ms}
	if !slices.Equal(*slept, want) {
		t.Errorf("slept %v, want %v", *slept, want)
	}
}

func TestSenseCO2(t *testing.T) {
	noSleep(t)
	d, bus := newDev(t, nil, measureOps(612, 0x6667, 0x5EB9)...)
	var env physic.Env
	ppm, err := d.SenseCO2(time.Unix(0, 0), &env)
	if err != nil {
		t.Fatal(err)
	}
	if ppm != 612 || math.Abs(env.Temperature.Celsius()-25) > 0.01 || math.Abs(float64(env.Humidity)/float64(physic.PercentRH)-37) > 0.01 {
		t.Errorf("got %d ppm, %v, %v", ppm, env.Temperature, env.Humidity)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLowPowerAndHalt(t *testing.T) {
	slept := noSleep(t)
	ops := append(initOps(0x21AC), i2ctest.IO{Addr: 0x62, W: []byte{0x3F, 0x86}}) // Halt: stop_periodic_measurement
	bus := &i2ctest.Playback{Ops: ops}
	o := DefaultOptions
	o.LowPower = true
	d, err := New(bus, 0x62, &o)
	if err != nil {
		t.Fatal(err)
	}
	if d.opts.DataTimeout != 90*time.Second {
		t.Errorf("low power data timeout %v", d.opts.DataTimeout)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if got := (*slept)[len(*slept)-1]; got != 500*time.Millisecond {
		t.Errorf("Halt waited %v", got)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNoDataThenTimeout(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for range 3 {
		ops = append(ops, readyOps(0x8000)...) // not ready: low 11 bits are 0, high bits undefined
	}
	ops = append(ops, defaultSettings...)                            // the timeout sends the settings (a reset part lost them)
	ops = append(ops, i2ctest.IO{Addr: 0x62, W: []byte{0x21, 0xB1}}) // and start again
	ops = append(ops, readyOps(0x8000)...)                           // still nothing: no second start
	ops = append(ops, measureOps(500, 0x6667, 0x5EB9)...)
	ops = append(ops, readyOps(0x0000)...)
	d, bus := newDev(t, nil, ops...)
	t0 := time.Unix(1000, 0)
	dst := make([]float64, 3)
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("first: %v", err)
	}
	if err := d.Sample(t0.Add(15*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("at the bound: %v", err)
	}
	if err := d.Sample(t0.Add(16*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) || sensor.Kind(err) != sensor.ErrTimeout {
		t.Fatalf("past the bound: %v", err)
	}
	if err := d.Sample(t0.Add(17*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("still past the bound: %v", err)
	}
	if err := d.Sample(t0.Add(18*time.Second), dst); err != nil {
		t.Fatalf("recovered: %v", err)
	}
	if err := d.Sample(t0.Add(20*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("after data: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	noSleep(t)
	if _, err := New(&i2ctest.Playback{}, 0x61, nil); err == nil {
		t.Error("address 0x61 accepted")
	}
	if _, err := New(&i2ctest.Playback{DontPanic: true}, 0x62, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("NACK: %v", err)
	}
	bad := initOps(0x21B1)[:4]
	bad[3].R[8] ^= 0xFF // last serial CRC
	if _, err := New(&i2ctest.Playback{Ops: bad}, 0x62, nil); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("bad serial CRC: %v", err)
	}
	if _, err := New(&i2ctest.Playback{Ops: initOps(0x21B1)[:3], DontPanic: true}, 0x62, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("truncated serial: %v", err)
	}
}

func TestSampleCRC(t *testing.T) {
	noSleep(t)
	ops := measureOps(500, 0x6667, 0x5EB9)
	ops[3].R[4] ^= 0x10 // temperature word corrupted
	bad := readyOps(0x8006)
	bad[1].R[2] ^= 0x01 // status CRC corrupted
	d, _ := newDev(t, nil, append(ops, bad...)...)
	dst := make([]float64, 3)
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("measurement: %v", err)
	}
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("status: %v", err)
	}
}

func TestSampleBusError(t *testing.T) {
	noSleep(t)
	d, _ := newDev(t, nil, measureOps(500, 0x6667, 0x5EB9)[:3]...) // reply to read_measurement NACKed
	if err := d.Sample(time.Time{}, make([]float64, 3)); !errors.Is(err, sensor.ErrBus) {
		t.Fatalf("got %v", err)
	}
}

func TestSampleStuck(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for range 3 {
		ops = append(ops, measureOps(500, 0x6667, 0x5EB9)...)
	}
	ops = append(ops, measureOps(500, 0x6668, 0x5EB9)...)
	o := DefaultOptions
	o.StuckAfter = 3
	d, bus := newDev(t, &o, ops...)
	drivertest.ExpectStuck(t, d, 3)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleOutOfRange(t *testing.T) {
	noSleep(t)
	ops := measureOps(40001, 0x6667, 0x5EB9)              // CO2 beyond the 40000 ppm output range
	ops = append(ops, measureOps(500, 0x05D9, 0x5EB9)...) // -41.0 °C: below the -40 °C storage limit
	ops = append(ops, measureOps(500, 0xAB28, 0x5EB9)...) // 72.0 °C: above 70 °C
	ops = append(ops, measureOps(500, 0x2000, 0x5EB9)...) // -23.1 °C: outside the specified -10..60 °C, reported
	ops = append(ops, measureOps(0, 0x6667, 0x5EB9)...)   // 0 ppm: an invalid sample
	d, _ := newDev(t, nil, ops...)
	dst := make([]float64, 3)
	for _, name := range []string{"co2", "cold", "hot"} {
		if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := d.Sample(time.Time{}, dst); err != nil || dst[0] != 500 || math.Abs(dst[1]+23.125) > 0.01 {
		t.Errorf("a winter cabinet: %v %v", dst, err)
	}
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("0 ppm: %v", err)
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for i := range 101 {
		ops = append(ops, measureOps(500+uint16(i), 0x6667, 0x5EB9)...)
	}
	for range 101 {
		ops = append(ops, readyOps(0)...)
	}
	d, _ := newDev(t, nil, ops...)
	sleep = func(time.Duration) {}
	dst := make([]float64, 3)
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Sample allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrNoData) {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Sample with no data allocates %v times", n)
	}
}

package bh1750

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func noSleep(t *testing.T) *[]time.Duration { return drivertest.RecordSleeps(t, &sleep) }

var initOps = []i2ctest.IO{
	{Addr: 0x23, W: []byte{0x01}}, // power on
	{Addr: 0x23, W: []byte{0x07}}, // reset data register
	{Addr: 0x23, W: []byte{0x42}}, // MTreg high bits: 69 >> 5 = 2
	{Addr: 0x23, W: []byte{0x65}}, // MTreg low bits: 69 & 0x1F = 5
}

func measureOps(mode byte, hi, lo byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x23, W: []byte{0x01}},   // power on
		{Addr: 0x23, W: []byte{mode}},   // one-time measurement
		{Addr: 0x23, R: []byte{hi, lo}}, // result, high byte first
	}
}

func newDev(t *testing.T, opts *Opts, more ...i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	bus := &i2ctest.Playback{Ops: append(append([]i2ctest.IO{}, initOps...), more...), DontPanic: true}
	d, err := New(bus, 0x23, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, bus
}

func TestDatasheetExample(t *testing.T) {
	slept := noSleep(t)
	// Measurement sequence example: high byte 1000_0011, low byte 1001_0000 -> 33680 / 1.2 ≈ 28067 lx.
	d, bus := newDev(t, nil, measureOps(0x20, 0x83, 0x90)...)
	if d.String() != "bh1750(playback@0x23)" {
		t.Errorf("name %q", d)
	}
	if ch := d.Channels(); len(ch) != 1 || ch[0] != (sensor.Channel{Name: "illuminance", Unit: "lx", Resolution: 1}) {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 1)
	if err := d.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	if math.Round(dst[0]) != 28067 {
		t.Errorf("got %v lx, datasheet says 28067", dst[0])
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if len(*slept) != 1 || (*slept)[0] != 180*time.Millisecond {
		t.Errorf("slept %v, want the 180 ms maximum", *slept)
	}
}

func TestModes(t *testing.T) {
	slept := noSleep(t)
	d, bus := newDev(t, &Opts{Mode: HighRes2}, measureOps(0x21, 0x00, 0x78)...) // 120 counts
	dst := make([]float64, 1)
	if err := d.Sample(time.Time{}, dst); err != nil || dst[0] != 50 {
		t.Errorf("H-resolution mode 2: %v %v, want 50 lx", dst, err)
	}
	bus.Close()
	d, bus = newDev(t, &Opts{Mode: LowRes}, measureOps(0x23, 0x00, 0x78)...)
	if err := d.Sample(time.Time{}, dst); err != nil || dst[0] != 100 {
		t.Errorf("L-resolution mode: %v %v, want 100 lx", dst, err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if got := (*slept)[len(*slept)-1]; got != 24*time.Millisecond {
		t.Errorf("L-resolution wait %v, want 24 ms", got)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(&i2ctest.Playback{}, 0x24, nil); err == nil {
		t.Error("address 0x24 accepted")
	}
	if _, err := New(&i2ctest.Playback{}, 0x23, &Opts{Mode: 0x10}); err == nil {
		t.Error("continuous mode accepted")
	}
	if _, err := New(&i2ctest.Playback{DontPanic: true}, 0x5C, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("NACK: %v", err)
	}
}

func TestSampleBusError(t *testing.T) {
	noSleep(t)
	d, _ := newDev(t, nil, measureOps(0x20, 0, 0)[:2]...) // result read NACKed
	if err := d.Sample(time.Time{}, make([]float64, 1)); !errors.Is(err, sensor.ErrBus) {
		t.Fatalf("got %v", err)
	}
}

func TestSampleSaturated(t *testing.T) {
	noSleep(t)
	d, _ := newDev(t, nil, measureOps(0x20, 0xFF, 0xFF)...)
	if err := d.Sample(time.Time{}, make([]float64, 1)); !errors.Is(err, sensor.ErrRange) {
		t.Fatalf("got %v", err)
	}
}

func TestSampleStuck(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for range 3 {
		ops = append(ops, measureOps(0x20, 0x01, 0x00)...)
	}
	ops = append(ops, measureOps(0x20, 0x01, 0x01)...) // the light changed
	d, bus := newDev(t, &Opts{Mode: HighRes, StuckAfter: 3}, ops...)
	drivertest.ExpectStuck(t, d, 3)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for i := range 101 {
		ops = append(ops, measureOps(0x20, 0x10, byte(i))...)
	}
	d, _ := newDev(t, nil, ops...)
	sleep = func(time.Duration) {}
	dst := make([]float64, 1)
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Sample allocates %v times", n)
	}
}

package sht4x

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
)

func TestOptionsValidate(t *testing.T) {
	if got := DefaultOptions.Opts(); got != DefaultOpts {
		t.Fatalf("DefaultOptions are %+v, DefaultOpts %+v", got, DefaultOpts)
	}
	drivertest.ExpectBadOptions(t, DefaultOptions, []drivertest.BadOption[Options]{
		{Field: "repeatability", Set: func(o *Options) { o.Repeatability = "High" }},
		{Field: "heater", Set: func(o *Options) { o.Heater = "200mW_1s" }},
		{Field: "stuck_after", Set: func(o *Options) { o.StuckAfter = -1 }},
	}, func(o *Options) error {
		_, err := NewWithOptions(&i2ctest.Playback{}, 0x44, o)
		return err
	})
}

// TestRepeatabilityOptions: the datasheet's commands (section 4.5: 0xFD high, 0xF6 medium, 0xE0 low)
// and maximum durations (section 3.2: 8.3, 4.5, 1.6 ms).
func TestRepeatabilityOptions(t *testing.T) {
	for _, c := range []struct {
		rep  string
		cmd  byte
		wait time.Duration
	}{{"high", 0xFD, 8300 * time.Microsecond}, {"medium", 0xF6, 4500 * time.Microsecond}, {"low", 0xE0, 1600 * time.Microsecond}} {
		slept := noSleep(t)
		ops := append([]i2ctest.IO{}, initOps...)
		ops = append(ops, i2ctest.IO{Addr: 0x44, W: []byte{c.cmd}}, i2ctest.IO{Addr: 0x44, R: reply(0x6666, 0x6666)})
		bus := &i2ctest.Playback{Ops: ops}
		o := DefaultOptions
		o.Repeatability = c.rep
		d, err := NewWithOptions(bus, 0x44, &o)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Sample(time.Time{}, make([]float64, 2)); err != nil {
			t.Fatal(err)
		}
		if got := (*slept)[len(*slept)-1]; got != c.wait {
			t.Errorf("%s: waited %v, want %v", c.rep, got, c.wait)
		}
		if err := bus.Close(); err != nil {
			t.Fatalf("%s: %v", c.rep, err)
		}
	}
}

package vl53l0x

import (
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
)

func TestOptionsValidate(t *testing.T) {
	if got := DefaultOptions.Opts(); got != DefaultOpts {
		t.Fatalf("DefaultOptions are %+v as Opts, DefaultOpts %+v", got, DefaultOpts)
	}
	drivertest.ExpectBadOptions(t, DefaultOptions, []drivertest.BadOption[Options]{
		{Field: "occupied_below", Set: func(o *Options) { o.OccupiedBelow = 0 }},
		{Field: "occupied_below", Set: func(o *Options) { o.OccupiedBelow = math.NaN() }},
		{Field: "free_above", Set: func(o *Options) { o.FreeAbove = 2.5 }},
		{Field: "free_above", Set: func(o *Options) { o.FreeAbove = 0.5 }}, // below occupied_below 0.8
		{Field: "confirm", Set: func(o *Options) { o.Confirm = 0 }},
		{Field: "no_target", Set: func(o *Options) { o.NoTarget = -1 }},
		{Field: "no_target", Set: func(o *Options) { o.NoTarget = 3 }},
		{Field: "stuck_after", Set: func(o *Options) { o.StuckAfter = -1 }},
		{Field: "invalid_after", Set: func(o *Options) { o.InvalidAfter = -1 }},
		{Field: "timeout", Set: func(o *Options) { o.Timeout = time.Millisecond }},
	}, func(o *Options) error {
		_, err := NewWithOptions(&i2ctest.Playback{}, addr, o)
		return err
	})
	o := Options{OccupiedBelow: 0.25, FreeAbove: 0.4, Confirm: 3, NoTarget: 0, Timeout: 50 * time.Millisecond}
	want := Opts{OccupiedBelow: 250 * physic.MilliMetre, FreeAbove: 400 * physic.MilliMetre, Confirm: 3, Timeout: 50 * time.Millisecond}
	if err := o.Validate(); err != nil || o.Opts() != want {
		t.Errorf("%+v: %v, Opts %+v", o, err, o.Opts())
	}
}

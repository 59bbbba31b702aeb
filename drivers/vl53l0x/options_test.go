package vl53l0x

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if got := DefaultOptions.Opts(); got != DefaultOpts {
		t.Fatalf("DefaultOptions are %+v as Opts, DefaultOpts %+v", got, DefaultOpts)
	}
	for _, c := range []struct {
		field string
		set   func(o *Options)
	}{
		{"occupied_below", func(o *Options) { o.OccupiedBelow = 0 }},
		{"occupied_below", func(o *Options) { o.OccupiedBelow = math.NaN() }},
		{"free_above", func(o *Options) { o.FreeAbove = 2.5 }},
		{"free_above", func(o *Options) { o.FreeAbove = 0.5 }}, // below occupied_below 0.8
		{"confirm", func(o *Options) { o.Confirm = 0 }},
		{"no_target", func(o *Options) { o.NoTarget = -1 }},
		{"no_target", func(o *Options) { o.NoTarget = 3 }},
		{"stuck_after", func(o *Options) { o.StuckAfter = -1 }},
		{"invalid_after", func(o *Options) { o.InvalidAfter = -1 }},
		{"timeout", func(o *Options) { o.Timeout = time.Millisecond }},
	} {
		o := DefaultOptions
		c.set(&o)
		var fe *sensor.FieldError
		if err := o.Validate(); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: got %v, want a FieldError for %s", o, err, c.field)
		}
		if _, err := NewWithOptions(&i2ctest.Playback{}, addr, &o); !errors.As(err, &fe) {
			t.Errorf("NewWithOptions accepted %+v: %v", o, err)
		}
	}
	o := Options{OccupiedBelow: 0.25, FreeAbove: 0.4, Confirm: 3, NoTarget: 0, Timeout: 50 * time.Millisecond}
	want := Opts{OccupiedBelow: 250 * physic.MilliMetre, FreeAbove: 400 * physic.MilliMetre, Confirm: 3, Timeout: 50 * time.Millisecond}
	if err := o.Validate(); err != nil || o.Opts() != want {
		t.Errorf("%+v: %v, Opts %+v", o, err, o.Opts())
	}
}

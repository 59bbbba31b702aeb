package vl53l0x

import (
	"errors"
	"math"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Options configures a Dev from sensors[].options; the registry decodes the mapping over a copy of
// DefaultOptions. Distances are in metres. It converts to Opts.
type Options struct {
	// OccupiedBelow: a distance below it (m) makes the bay occupied.
	OccupiedBelow float64 `yaml:"occupied_below"`
	// FreeAbove: a distance above it (m) makes the bay free; between the two the state holds.
	FreeAbove float64 `yaml:"free_above"`
	// Confirm is how many consecutive samples beyond the far side of the band change the state.
	Confirm int `yaml:"confirm"`
	// NoTarget is the distance (m) a no-target reading stands for (a ground sensor under an empty
	// bay sees nothing); 0 makes such a Sample sensor.ErrNoData instead.
	NoTarget float64 `yaml:"no_target"`
	// StuckAfter: identical 12-byte result blocks in a row that are sensor.ErrStuck; 0 disables.
	StuckAfter int `yaml:"stuck_after"`
	// InvalidAfter: measurements in a row without a valid range that are sensor.ErrRange (a fogged
	// or dirty cover); 0 disables. Too-close readings do not count.
	InvalidAfter int `yaml:"invalid_after"`
	// Timeout bounds one measurement ("100ms"); at least 5ms, the poll interval.
	Timeout time.Duration `yaml:"timeout"`
	// IO2V8 sets the I/O pads to 2.8 V (Pololu and Adafruit boards); false keeps 1.8 V.
	IO2V8 bool `yaml:"io_2v8"`
}

// DefaultOptions are DefaultOpts in configuration units: occupied below 0.8 m, free above 1.2 m,
// confirm 2, no target = 2 m, stuck after 10, invalid after 30, timeout 100 ms, 2.8 V I/O.
var DefaultOptions = Options{
	OccupiedBelow: 0.8,
	FreeAbove:     1.2,
	Confirm:       2,
	NoTarget:      2,
	StuckAfter:    10,
	InvalidAfter:  30,
	Timeout:       100 * time.Millisecond,
	IO2V8:         true,
}

const maxRangeM = float64(MaxRange) / float64(physic.Metre)

// Validate checks every field and the band; it returns nil or the joined *sensor.FieldError values.
func (o *Options) Validate() error {
	var errs []error
	bad := func(v float64) bool { return math.IsNaN(v) || v < 0 || v > maxRangeM }
	okBelow := !bad(o.OccupiedBelow) && o.OccupiedBelow > 0
	if !okBelow {
		errs = append(errs, sensor.Fieldf("occupied_below", "%v m is outside (0, 2] m, the part's range", o.OccupiedBelow))
	}
	if bad(o.FreeAbove) || o.FreeAbove == 0 {
		errs = append(errs, sensor.Fieldf("free_above", "%v m is outside (0, 2] m, the part's range", o.FreeAbove))
	} else if okBelow && o.FreeAbove < o.OccupiedBelow {
		errs = append(errs, sensor.Fieldf("free_above", "%v m is below occupied_below (%v m); the band needs occupied_below <= free_above", o.FreeAbove, o.OccupiedBelow))
	}
	if o.Confirm < 1 {
		errs = append(errs, sensor.Fieldf("confirm", "%d: need at least 1 sample to change the state", o.Confirm))
	}
	if bad(o.NoTarget) {
		errs = append(errs, sensor.Fieldf("no_target", "%v m is outside 0..2 m; 0 reports no data for an empty view", o.NoTarget))
	}
	if o.StuckAfter < 0 {
		errs = append(errs, sensor.Fieldf("stuck_after", "%d is negative; 0 disables the check", o.StuckAfter))
	}
	if o.InvalidAfter < 0 {
		errs = append(errs, sensor.Fieldf("invalid_after", "%d is negative; 0 disables the check", o.InvalidAfter))
	}
	if o.Timeout < pollEvery {
		errs = append(errs, sensor.Fieldf("timeout", "%v is below the 5ms poll interval; a measurement takes about 30ms (default 100ms)", o.Timeout))
	}
	return errors.Join(errs...)
}

// Opts converts o, valid, to the driver's Opts (distances rounded to the micrometre).
func (o *Options) Opts() Opts {
	m := func(v float64) physic.Distance {
		return physic.Distance(math.Round(v*1e6)) * physic.MicroMetre
	}
	return Opts{
		OccupiedBelow: m(o.OccupiedBelow),
		FreeAbove:     m(o.FreeAbove),
		Confirm:       o.Confirm,
		NoTarget:      m(o.NoTarget),
		StuckAfter:    o.StuckAfter,
		InvalidAfter:  o.InvalidAfter,
		Timeout:       o.Timeout,
		IO2V8:         o.IO2V8,
	}
}

// NewWithOptions validates o and opens the VL53L0X at addr with it; see New.
func NewWithOptions(bus i2c.Bus, addr uint16, o *Options) (*Dev, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := o.Opts()
	return New(bus, addr, &opts)
}

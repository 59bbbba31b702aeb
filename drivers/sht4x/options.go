package sht4x

import (
	"errors"

	"periph.io/x/conn/v3/i2c"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Options configures a Dev from sensors[].options; the registry decodes the mapping over a copy of
// DefaultOptions. It converts to Opts.
type Options struct {
	// Repeatability is the measurement command (datasheet section 4.5): "high" (0xFD, 8.3 ms max,
	// 0.04 %RH / 0.04 °C repeatability), "medium" (0xF6, 4.5 ms) or "low" (0xE0, 1.6 ms). Lower
	// repeatability is noisier and uses less energy.
	Repeatability string `yaml:"repeatability"`
	// Heater is "off", the only value: the driver never runs the heater (section 4.9 limits it to
	// 10 % of the time and a cabinet gateway has no condensation to burn off). The key exists so a
	// configuration states it and a future heater mode has its place.
	Heater string `yaml:"heater"`
	// StuckAfter reports ErrStuck when both raw words are identical this many Samples in a row; 0
	// disables the check.
	StuckAfter int `yaml:"stuck_after"`
}

// DefaultOptions: high repeatability, heater off, ErrStuck after 20 identical readings; the same as
// DefaultOpts.
var DefaultOptions = Options{Repeatability: "high", Heater: "off", StuckAfter: 20}

var repeatabilities = map[string]Repeatability{"high": High, "medium": Medium, "low": Low}

// Validate checks every field; it returns nil or the joined *sensor.FieldError values.
func (o *Options) Validate() error {
	var errs []error
	if _, ok := repeatabilities[o.Repeatability]; !ok {
		errs = append(errs, sensor.Fieldf("repeatability", "%q is not valid; valid: high, medium, low", o.Repeatability))
	}
	if o.Heater != "off" {
		errs = append(errs, sensor.Fieldf("heater", "%q is not supported; valid: off (the heater is never run)", o.Heater))
	}
	if o.StuckAfter < 0 {
		errs = append(errs, sensor.Fieldf("stuck_after", "%d is negative; 0 disables the check", o.StuckAfter))
	}
	return errors.Join(errs...)
}

// Opts converts o, valid, to the driver's Opts.
func (o *Options) Opts() Opts {
	return Opts{Repeatability: repeatabilities[o.Repeatability], StuckAfter: o.StuckAfter}
}

// NewWithOptions validates o and opens the SHT4x at addr (0x44, 0x45 or 0x46) with it; see New.
func NewWithOptions(bus i2c.Bus, addr uint16, o *Options) (*Dev, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := o.Opts()
	return New(bus, addr, &opts)
}

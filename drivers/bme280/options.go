package bme280

import (
	"errors"

	"periph.io/x/conn/v3/i2c"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Options configures a Dev from sensors[].options; the registry decodes the mapping over a copy of
// DefaultOptions. It converts to Opts.
//
// The driver runs the part in forced mode (one measurement per Sample, asleep in between), so there is
// no standby time option: t_sb (config[7:5]) only paces normal mode (section 3.3.4).
type Options struct {
	// Oversampling per quantity: "skip", "1", "2", "4", "8" or "16" (BME280 section 3.4, tables 20,
	// 22, 23). More averages less noise (pressure 1.3 Pa at 1x down to 0.2 Pa at 16x, table 3) and
	// takes longer (section 9.1). "skip" drops the quantity's channel; temperature cannot be skipped
	// (the pressure and humidity compensation needs it), humidity is ignored on a BMP280.
	Oversampling struct {
		Temperature string `yaml:"temperature"`
		Pressure    string `yaml:"pressure"`
		Humidity    string `yaml:"humidity"`
	} `yaml:"oversampling"`
	// Filter is the IIR filter coefficient: "off", "2", "4", "8" or "16" (section 3.4.4, table 28).
	// In forced mode each Sample is one filter step: a coefficient c reaches 75 % of a step change
	// after about c samples (figure 7), so it smooths over c intervals.
	Filter string `yaml:"filter"`
	// StuckAfter reports ErrStuck when the raw ADC values are identical this many Samples in a row;
	// 0 disables the check.
	StuckAfter int `yaml:"stuck_after"`
}

// DefaultOptions is the datasheet's "weather monitoring" profile (section 3.5.1: 1x everywhere,
// filter off) with stuck detection after 20 identical readings; the same as DefaultOpts.
var DefaultOptions = func() Options {
	var o Options
	o.Oversampling.Temperature, o.Oversampling.Pressure, o.Oversampling.Humidity = "1", "1", "1"
	o.Filter, o.StuckAfter = "off", 20
	return o
}()

var (
	oversamplings = map[string]Oversampling{"skip": Off, "1": O1x, "2": O2x, "4": O4x, "8": O8x, "16": O16x}
	filters       = map[string]Filter{"off": NoFilter, "2": F2, "4": F4, "8": F8, "16": F16}
)

// Validate checks every field; it returns nil or the joined *sensor.FieldError values.
func (o *Options) Validate() error {
	var errs []error
	for _, f := range []struct{ key, v string }{
		{"oversampling.temperature", o.Oversampling.Temperature},
		{"oversampling.pressure", o.Oversampling.Pressure},
		{"oversampling.humidity", o.Oversampling.Humidity},
	} {
		if _, ok := oversamplings[f.v]; !ok {
			errs = append(errs, sensor.Fieldf(f.key, "%q is not an oversampling; valid: skip, 1, 2, 4, 8, 16", f.v))
		} else if f.v == "skip" && f.key == "oversampling.temperature" {
			errs = append(errs, sensor.Fieldf(f.key, "temperature cannot be skipped: pressure and humidity are compensated with it; valid: 1, 2, 4, 8, 16"))
		}
	}
	if _, ok := filters[o.Filter]; !ok {
		errs = append(errs, sensor.Fieldf("filter", "%q is not a filter coefficient; valid: off, 2, 4, 8, 16", o.Filter))
	}
	if o.StuckAfter < 0 {
		errs = append(errs, sensor.Fieldf("stuck_after", "%d is negative; 0 disables the check", o.StuckAfter))
	}
	return errors.Join(errs...)
}

// Opts converts o, valid, to the driver's Opts.
func (o *Options) Opts() Opts {
	return Opts{
		Temperature: oversamplings[o.Oversampling.Temperature],
		Pressure:    oversamplings[o.Oversampling.Pressure],
		Humidity:    oversamplings[o.Oversampling.Humidity],
		Filter:      filters[o.Filter],
		StuckAfter:  o.StuckAfter,
	}
}

// NewWithOptions validates o and opens the BME280 or BMP280 at addr (0x76 or 0x77) with it; see New.
func NewWithOptions(bus i2c.Bus, addr uint16, o *Options) (*Dev, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := o.Opts()
	return New(bus, addr, &opts)
}

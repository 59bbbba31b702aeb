package bh1750

import (
	"errors"

	"periph.io/x/conn/v3/i2c"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Options configures a Dev; the registry decodes sensors[].options over a copy of DefaultOptions.
type Options struct {
	// Mode is the one-time measurement mode: "h" (H-resolution, 1 lx at MTreg 69, opcode 0x20),
	// "h2" (H-resolution mode 2, 0.5 lx, 0x21) or "l" (L-resolution, 4 lx, 0x23).
	Mode string `yaml:"mode"`
	// MT is the measurement time register, 31..254 (datasheet, "adjust measurement result for
	// influence of optical window"): the sensitivity scales with MT/69, so the full scale is
	// 65535/1.2 * 69/MT lx in mode h (half in h2) and the measurement time 180 ms * MT/69. Values
	// other than 69 need mode h or h2 (the datasheet gives the scaling for H-resolution).
	MT int `yaml:"mt"`
	// Range "sunlight" is a shortcut for mode h with MT 31: up to 121,557 lx (direct sun reaches
	// about 100,000 lx) at 1.85 lx per count, measured in at most 81 ms. Leave mode and mt at their
	// defaults with it. Empty uses mode and mt as given.
	Range string `yaml:"range"`
	// StuckAfter reports ErrStuck when the count is identical this many Samples in a row; 0 (the
	// default) disables the check: at night the count is legitimately 0 for hours.
	StuckAfter int `yaml:"stuck_after"`
}

// DefaultOptions: mode h, MT 69 (up to 54,612 lx at 0.83 lx per count), no stuck check.
var DefaultOptions = Options{Mode: "h", MT: MTDefault}

var modes = map[string]Mode{"h": HighRes, "h2": HighRes2, "l": LowRes}

// Validate checks every field; it returns nil or the joined *sensor.FieldError values.
func (o *Options) Validate() error {
	var errs []error
	_, okMode := modes[o.Mode]
	if !okMode {
		errs = append(errs, sensor.Fieldf("mode", "%q is not a mode; valid: h, h2, l", o.Mode))
	}
	okMT := o.MT >= MTMin && o.MT <= MTMax
	if !okMT {
		errs = append(errs, sensor.Fieldf("mt", "%d is outside 31..254, the measurement time register's range (default 69)", o.MT))
	} else if o.Mode == "l" && o.MT != MTDefault {
		errs = append(errs, sensor.Fieldf("mt", "%d needs mode h or h2; mode l runs with the default 69", o.MT))
	}
	switch o.Range {
	case "":
	case "sunlight":
		if o.Mode != DefaultOptions.Mode || o.MT != MTDefault {
			errs = append(errs, sensor.Fieldf("range", "sunlight sets mode h and mt 31; remove mode (%q) and mt (%d)", o.Mode, o.MT))
		}
	default:
		errs = append(errs, sensor.Fieldf("range", "%q is not a range; valid: sunlight, or leave it out and set mt", o.Range))
	}
	if o.StuckAfter < 0 {
		errs = append(errs, sensor.Fieldf("stuck_after", "%d is negative; use 0 to disable the check", o.StuckAfter))
	}
	return errors.Join(errs...)
}

// opts converts valid Options to Opts.
func (o *Options) opts() Opts {
	if o.Range == "sunlight" {
		return Opts{Mode: HighRes, MTreg: MTMin, StuckAfter: o.StuckAfter}
	}
	return Opts{Mode: modes[o.Mode], MTreg: uint8(o.MT), StuckAfter: o.StuckAfter}
}

// NewWithOptions validates o and opens the BH1750 at addr (0x23 or 0x5C) with it; see New.
func NewWithOptions(bus i2c.Bus, addr uint16, o *Options) (*Dev, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := o.opts()
	return New(bus, addr, &opts)
}

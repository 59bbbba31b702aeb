package scd4x

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/internal/ident"
)

// Options configures a Dev; the registry decodes sensors[].options over a copy of DefaultOptions.
//
// Altitude, TemperatureOffset and ASC are written to the part's RAM at every start (they are accepted
// only in idle mode: New stops periodic measurement, waits 500 ms, sets them, starts again). They are
// never persisted with persist_settings (0x3615): the datasheet guarantees its EEPROM for 2000 write
// cycles only, a gateway that persisted on every start or reload would wear it out in a few years of
// restarts, and the driver sends the settings on every start anyway, so nothing needs to survive a
// power cycle in the part.
type Options struct {
	// LowPower starts the 30 s low power periodic mode instead of the 5 s one.
	LowPower bool `yaml:"low_power"`
	// DataTimeout turns ErrNoData into ErrTimeout once no new measurement arrived for this long,
	// measured on Sample's at. 0 means 3 measurement periods (15 s, or 90 s in low power mode).
	DataTimeout time.Duration `yaml:"data_timeout"`
	// StuckAfter reports ErrStuck when all three raw words are identical this many measurements in a
	// row; 0 disables the check. The temperature word jitters on every measurement.
	StuckAfter int `yaml:"stuck_after"`
	// Altitude is the installation's height above sea level in metres, 0..3000, for the part's
	// pressure compensation (set_sensor_altitude, datasheet section 3.6.3). Live ambient pressure,
	// once it arrives, overrides it (section 3.6.5).
	Altitude int `yaml:"altitude"`
	// PressureFrom names the gateway channel ("<sensor>/<channel>", e.g. "env1/pressure") whose
	// readings, in Pa, the gateway passes to SetAmbientPressure. The driver only checks its spelling;
	// empty means no live pressure (Altitude alone compensates).
	PressureFrom string `yaml:"pressure_from"`
	// ASC enables the automatic self-calibration (set_automatic_self_calibration_enabled, section
	// 3.7.2), on at the factory. It assumes the part sees fresh air (about 400 ppm) at least once a
	// week; a cabinet that never does should turn it off.
	ASC bool `yaml:"asc"`
	// TemperatureOffset in °C, 0..20, is what the part subtracts from its temperature (and corrects
	// RH for): its own self-heating plus the cabinet's (set_temperature_offset, section 3.6.1). The
	// factory value is 4 °C. It does not change the CO₂ reading.
	TemperatureOffset float64 `yaml:"temperature_offset"`
}

// DefaultOptions: 5 s periodic mode, stuck detection after 20 identical measurements, the part's
// factory settings (altitude 0 m, ASC on, temperature offset 4 °C) and no live pressure.
var DefaultOptions = Options{StuckAfter: 20, ASC: true, TemperatureOffset: 4}

// Opts is the former name of Options.
type Opts = Options

// DefaultOpts is the former name of DefaultOptions.
var DefaultOpts = DefaultOptions

// Ranges the part accepts, datasheet section 3.6.
const (
	MaxAltitude          = 3000   // m, set_sensor_altitude
	MaxTemperatureOffset = 20     // °C, set_temperature_offset's recommended range is 0..20 °C
	MinPressure          = 70000  // Pa, set_ambient_pressure accepts 700..1200 hPa
	MaxPressure          = 120000 // Pa
)

// Validate checks every field; it returns nil or the joined *sensor.FieldError values.
func (o *Options) Validate() error {
	var errs []error
	if o.DataTimeout < 0 {
		errs = append(errs, sensor.Fieldf("data_timeout", "%v is negative; use 0 for 3 measurement periods or a duration such as 30s", o.DataTimeout))
	}
	if o.StuckAfter < 0 {
		errs = append(errs, sensor.Fieldf("stuck_after", "%d is negative; use 0 to disable the check or a count such as 20", o.StuckAfter))
	}
	if o.Altitude < 0 || o.Altitude > MaxAltitude {
		errs = append(errs, sensor.Fieldf("altitude", "%d m is outside 0..3000 m, the range of set_sensor_altitude", o.Altitude))
	}
	if t := o.TemperatureOffset; math.IsNaN(t) || t < 0 || t > MaxTemperatureOffset {
		errs = append(errs, sensor.Fieldf("temperature_offset", "%v °C is outside 0..20 °C (the part subtracts it; it cannot add)", t))
	}
	if p := o.PressureFrom; p != "" {
		s, c, ok := strings.Cut(p, "/")
		if !ok || !ident.Valid(s) || !ident.Valid(c) {
			errs = append(errs, sensor.Fieldf("pressure_from", "%q is not <sensor>/<channel>, e.g. env1/pressure (letters, digits, '-', '_', '.')", p))
		}
	}
	return errors.Join(errs...)
}

// TemperatureOffsetWord encodes an offset in °C for set_temperature_offset: word = offset * 2^16 / 175
// (datasheet section 3.6.1; its example: 5.4 °C is 0x07E6).
func TemperatureOffsetWord(c float64) uint16 {
	return uint16(math.Round(min(max(c, 0), 175) * 65536 / 175))
}

// TemperatureOffsetCelsius decodes get_temperature_offset's word: offset = word * 175 / 2^16 (section
// 3.6.2; its example: 0x0912 is 6.2 °C).
func TemperatureOffsetCelsius(w uint16) float64 { return float64(w) * 175 / 65536 }

// PressureWord encodes a pressure in Pa for set_ambient_pressure, whose unit is hPa (section 3.6.5;
// its example: 98700 Pa is 0x03DB).
func PressureWord(pa float64) uint16 { return uint16(math.Round(min(max(pa, 0), 6553500) / 100)) }

// AmbientPressureFrom implements sensor.PressureSourced: the gateway feeds the named channel's
// readings to SetAmbientPressure.
func (o *Options) AmbientPressureFrom() string { return o.PressureFrom }

var _ sensor.PressureSourced = (*Options)(nil)

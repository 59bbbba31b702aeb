package ops243

import (
	"errors"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Unit is a speed unit the sensor can report in.
type Unit uint8

// Speed units, with the OPS243 command that selects each (UM-003-A, "Speed Output Units").
const (
	MetrePerSecond      Unit = iota // UM, factory default.
	KilometrePerHour                // UK
	MilePerHour                     // US; the international mile, 1609.344 m.
	FootPerSecond                   // UF
	CentimetrePerSecond             // UC
)

// Command returns the 2-character command selecting u.
func (u Unit) Command() string {
	return [...]string{"UM", "UK", "US", "UF", "UC"}[u]
}

// AnswerName is the name the sensor gives u in its answers to U commands and U?
// (UM-003-A "Speed Output Units": {"Units":"m-per-sec"}).
func (u Unit) AnswerName() string {
	return [...]string{"m-per-sec", "km-per-hr", "mph", "ft-per-sec", "cm-per-sec"}[u]
}

// ReportName is the short name the sensor prints with speeds when the unit is in the output
// ("mps",12.4; {"unit":"mps",...}).
func (u Unit) ReportName() string {
	return [...]string{"mps", "kmph", "mph", "fps", "cmps"}[u]
}

// speed converts v in unit u.
func (u Unit) speed(v float64) physic.Speed {
	return physic.Speed(math.Round(v * u.metres() * float64(physic.MetrePerSecond)))
}

// MetresPerSecond is one u in m/s: 1/3.6 for km/h, 0.44704 for mph.
func (u Unit) MetresPerSecond() float64 { return u.metres() }

// metres is one u in m/s.
func (u Unit) metres() float64 {
	return [...]float64{1, 1 / 3.6, 1609.344 / 3600, 0.3048, 0.01}[u]
}

func (u Unit) String() string {
	if u > CentimetrePerSecond {
		return fmt.Sprintf("Unit(%d)", uint8(u))
	}
	return [...]string{"m/s", "km/h", "mph", "ft/s", "cm/s"}[u]
}

// ParseUnit returns the unit an option names: "m/s", "km/h", "mph", "ft/s" or "cm/s".
func ParseUnit(s string) (Unit, bool) {
	for u := MetrePerSecond; u <= CentimetrePerSecond; u++ {
		if u.String() == s {
			return u, true
		}
	}
	return 0, false
}

// Direction filter values (UM-003-A "Reported Speed/Range/Direction Filter": R+, R-, R|).
const (
	DirectionBoth     = "both"
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// Output forms the driver can set (UM-003-A "Data Output": OJ, Oj).
const (
	OutputJSON  = "json"
	OutputPlain = "plain"
)

// sampleRates are the rates the OPS243-A can sample at, with their commands (UM-003-A "Sampling
// Rate/Buffer Size": SI 1k, SV 5k, SX 10k, S2 20k, SL 50k, SC 100k samples/s).
var sampleRates = []struct {
	rate int
	cmd  string
}{{1000, "SI"}, {5000, "SV"}, {10000, "SX"}, {20000, "S2"}, {50000, "SL"}, {100000, "SC"}}

func sampleRateCommand(rate int) (string, bool) {
	for _, r := range sampleRates {
		if r.rate == rate {
			return r.cmd, true
		}
	}
	return "", false
}

// DopplerLimit is the fastest speed the radar measures at a sample rate (samples/s): the Doppler
// shift of a target at v is 2·v·f0/c (f0 = 24.125 GHz, UM-003-A "Frequency Control"), and
// sampling at fs resolves shifts up to fs/2, so v max = fs·c/(4·f0): 31.1 m/s at 10 ksps,
// 62.1 m/s at 20 ksps. A faster target aliases to a wrong, lower speed that no filter can catch.
func DopplerLimit(rate int) float64 {
	return float64(rate) * 299792458 / (4 * 24.125e9)
}

// Options configure the radar and the interval statistics. The gateway's registry decodes a
// sensor's `options` mapping over a copy of DefaultOptions.
type Options struct {
	// Units is the unit the driver sets the radar to ("m/s", "km/h", "mph", "ft/s", "cm/s"). The
	// driver converts every report to m/s whatever it is; the option matters to whoever also
	// reads the radar's output (a display on the same port) and for resolution with few decimals.
	Units string `yaml:"units"`
	// Output is the output form the driver sets: "json" (OJ, the default) or "plain" (Oj). In
	// JSON mode a plain line tells the driver the radar lost its settings (a power cycle reverts
	// it to its saved ones) and it sets them again; plain mode cannot notice that.
	Output string `yaml:"output"`
	// Direction is the direction filter: "both" (R|), "inbound" (R+, approaching only) or
	// "outbound" (R-, receding only). The driver applies it to the reports too.
	Direction string `yaml:"direction"`
	// MinSpeed is the slowest reported speed in m/s (R>n in the radar's unit; 0 no limit): slower
	// reports are not vehicles (foliage, pedestrians). The driver applies it too.
	MinSpeed float64 `yaml:"min_speed"`
	// MaxSpeed is the fastest reported speed in m/s (R<n; 0 no limit). At most the Doppler limit
	// of SampleRate.
	MaxSpeed float64 `yaml:"max_speed"`
	// SampleRate is the radar's sampling rate in samples/s: 1000, 5000, 10000, 20000, 50000 or
	// 100000. It bounds the speeds it can measure (DopplerLimit): the factory 10000 stops at
	// 31 m/s (112 km/h), so the default is 20000 (62 m/s, 223 km/h, resolution 0.12 m/s).
	SampleRate int `yaml:"sample_rate"`
	// VehicleGap ends a vehicle: consecutive reports closer than this are one vehicle. It must be
	// longer than the radar's report period (about 50 to 200 ms, UM-003-A "Sampling Rate/Buffer
	// Size") and shorter than the time headway between vehicles.
	VehicleGap time.Duration `yaml:"vehicle_gap"`
	// AnswerTimeout bounds the wait for each answer while configuring at open.
	AnswerTimeout time.Duration `yaml:"answer_timeout"`
}

// DefaultOptions are the options a sensor without an options mapping gets.
var DefaultOptions = Options{
	Units:         "m/s",
	Output:        OutputJSON,
	Direction:     DirectionBoth,
	MinSpeed:      2,
	MaxSpeed:      0,
	SampleRate:    20000,
	VehicleGap:    300 * time.Millisecond,
	AnswerTimeout: time.Second,
}

// Validate returns nil or the joined *sensor.FieldError values of every bad field.
func (o *Options) Validate() error {
	var errs []error
	if _, ok := ParseUnit(o.Units); !ok {
		errs = append(errs, sensor.Fieldf("units", "%q is not a unit; valid: m/s, km/h, mph, ft/s, cm/s", o.Units))
	}
	if o.Output != OutputJSON && o.Output != OutputPlain {
		errs = append(errs, sensor.Fieldf("output", "%q is not an output form; valid: json, plain", o.Output))
	}
	switch o.Direction {
	case DirectionBoth, DirectionInbound, DirectionOutbound:
	default:
		errs = append(errs, sensor.Fieldf("direction", "%q is not a direction; valid: both, inbound, outbound", o.Direction))
	}
	_, rateOK := sampleRateCommand(o.SampleRate)
	if !rateOK {
		errs = append(errs, sensor.Fieldf("sample_rate", "%d is not a sampling rate; valid: 1000, 5000, 10000, 20000, 50000, 100000", o.SampleRate))
	}
	limit := math.Inf(1)
	if rateOK {
		limit = DopplerLimit(o.SampleRate)
	}
	if !(o.MinSpeed >= 0 && o.MinSpeed < limit) {
		errs = append(errs, sensor.Fieldf("min_speed", "%g m/s: valid 0 (no limit) up to %.1f m/s (the Doppler limit at sample_rate %d)", o.MinSpeed, limit, o.SampleRate))
	}
	switch {
	case !(o.MaxSpeed >= 0):
		errs = append(errs, sensor.Fieldf("max_speed", "%g m/s: valid 0 (no limit) or a speed above min_speed", o.MaxSpeed))
	case o.MaxSpeed > limit:
		errs = append(errs, sensor.Fieldf("max_speed", "%g m/s is above the %.1f m/s the radar measures at sample_rate %d: raise sample_rate or lower max_speed", o.MaxSpeed, limit, o.SampleRate))
	case o.MaxSpeed > 0 && o.MaxSpeed <= o.MinSpeed:
		errs = append(errs, sensor.Fieldf("max_speed", "%g m/s is not above min_speed %g m/s", o.MaxSpeed, o.MinSpeed))
	}
	if o.VehicleGap < 10*time.Millisecond || o.VehicleGap > 10*time.Second {
		errs = append(errs, sensor.Fieldf("vehicle_gap", "%s: valid 10ms to 10s (longer than the radar's report period, about 100ms)", o.VehicleGap))
	}
	if o.AnswerTimeout < 10*time.Millisecond || o.AnswerTimeout > 30*time.Second {
		errs = append(errs, sensor.Fieldf("answer_timeout", "%s: valid 10ms to 30s", o.AnswerTimeout))
	}
	return errors.Join(errs...)
}

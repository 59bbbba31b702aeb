package ads1115

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Options are the driver's configuration options, as a sensor's `options:` mapping writes them.
// DefaultOptions holds every default; doc.go describes each key.
type Options struct {
	// Kind is "noise" (an analog sound level meter, aggregated per interval) or "analog" (one
	// scaled voltage).
	Kind string `yaml:"kind"`
	// Channel is the input: "ain0".."ain3" against GND, or the differential pairs "ain0-ain1",
	// "ain0-ain3", "ain1-ain3", "ain2-ain3" (datasheet table 8, MUX field).
	Channel string `yaml:"channel"`
	// Gain is the PGA setting named by its full-scale range in volts: 6.144, 4.096, 2.048, 1.024,
	// 0.512 or 0.256 (table 1).
	Gain float64 `yaml:"gain"`
	// Rate is the data rate in samples per second: 8, 16, 32, 64, 128, 250, 475 or 860 (table 8).
	Rate int `yaml:"rate"`
	// StuckAfter reports ErrStuck after this many identical conversion codes in a row (Samples for
	// kind analog, fast samples for kind noise); 0 disables the check.
	StuckAfter int `yaml:"stuck_after"`

	// Kind analog: value = volts·Scale + Offset, in Unit, on the channel named Name.
	Name   string  `yaml:"name"`
	Unit   string  `yaml:"unit"`
	Scale  float64 `yaml:"scale"`
	Offset float64 `yaml:"offset"`
	// InLow..OutHigh are the two-point form of Scale and Offset: InLow volts read as OutLow,
	// InHigh volts as OutHigh. Used when any of them is non-zero, instead of Scale and Offset.
	InLow   float64 `yaml:"in_low"`
	InHigh  float64 `yaml:"in_high"`
	OutLow  float64 `yaml:"out_low"`
	OutHigh float64 `yaml:"out_high"`
	// Min and Max bound a plausible value (e.g. a 4-20 mA loop below 3.6 mA is a broken wire);
	// outside is ErrRange. Both 0 disables the check.
	Min float64 `yaml:"min"`
	Max float64 `yaml:"max"`

	// Kind noise: a fast sample every Fast, converted to dB by Meter, plus CalibrationDB.
	Fast          time.Duration `yaml:"fast"`
	CalibrationDB float64       `yaml:"calibration_db"`
	Meter         Meter         `yaml:"meter"`
}

// Meter is a sound level meter's linear analog output: LowVolts at LowDB, HighVolts at HighDB.
type Meter struct {
	LowVolts  float64 `yaml:"low_volts"`
	LowDB     float64 `yaml:"low_db"`
	HighVolts float64 `yaml:"high_volts"`
	HighDB    float64 `yaml:"high_db"`
	// MarginDB is how far outside LowDB..HighDB a level may read before it is ErrRange: an
	// unplugged meter reads about 0 V, far below the bottom.
	MarginDB float64 `yaml:"margin_db"`
}

// DB maps the meter's output voltage to dB with its linear calibration.
func (m Meter) DB(volts float64) float64 {
	return m.LowDB + (volts-m.LowVolts)*(m.HighDB-m.LowDB)/(m.HighVolts-m.LowVolts)
}

// SEN0232 is DFRobot's Gravity analog sound level meter (SEN0232): 0.6..2.6 V for 30..130 dBA,
// 50 dB per volt (DFRobot wiki, SKU SEN0232).
var SEN0232 = Meter{LowVolts: 0.6, LowDB: 30, HighVolts: 2.6, HighDB: 130, MarginDB: 3}

// Kinds.
const (
	KindNoise  = "noise"
	KindAnalog = "analog"
)

// DefaultOptions: a SEN0232 noise meter on AIN0, ±4.096 V, 128 SPS, a fast sample every 125 ms
// (IEC 61672-1's Fast time constant). Kind noise is the default so that configurations written
// before the options existed keep reading their meter; kind analog's keys are refused unless kind
// is analog.
var DefaultOptions = Options{
	Kind:    KindNoise,
	Channel: "ain0",
	Gain:    4.096,
	Rate:    128,
	Name:    "voltage",
	Unit:    "V",
	Scale:   1,
	Fast:    125 * time.Millisecond,
	Meter:   SEN0232,
}

// channels maps Options.Channel to the MUX field (table 8).
var channelMux = map[string]Mux{
	"ain0-ain1": Diff01, "ain0-ain3": Diff03, "ain1-ain3": Diff13, "ain2-ain3": Diff23,
	"ain0": AIN0, "ain1": AIN1, "ain2": AIN2, "ain3": AIN3,
}

var channelNames = "ain0, ain1, ain2, ain3, ain0-ain1, ain0-ain3, ain1-ain3, ain2-ain3"

// gains in volts, indexed by Gain; rates in SPS by DataRate (table 1, table 8).
var gainVolts = [...]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256}

// Fast bounds: IEC 61672-1's Fast time constant is 125 ms and Slow 1 s.
const (
	minFast = 10 * time.Millisecond
	maxFast = time.Second
)

// Validate implements the options contract: nil, or one *sensor.FieldError per bad key, joined.
func (o *Options) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, sensor.Fieldf(field, format, args...)) }
	finite := func(field string, v float64) bool {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad(field, "%v is not a number", v)
			return false
		}
		return true
	}
	switch o.Kind {
	case KindNoise, KindAnalog:
	default:
		bad("kind", "%q is not a kind; valid: noise (a sound level meter's output, as LAeq, LAmax, LAmin, L10, L90 per interval), analog (a scaled voltage)", o.Kind)
	}
	if _, ok := channelMux[o.Channel]; !ok {
		bad("channel", "%q is not an input; valid: %s", o.Channel, channelNames)
	}
	gain, gainOK := gainOf(o.Gain)
	if !gainOK {
		bad("gain", "%v is not a full-scale range; valid (volts): 6.144, 4.096, 2.048, 1.024, 0.512, 0.256", o.Gain)
	}
	rate, rateOK := rateOf(o.Rate)
	if !rateOK {
		bad("rate", "%d is not a data rate; valid (samples per second): 8, 16, 32, 64, 128, 250, 475, 860", o.Rate)
	}
	if o.StuckAfter < 0 {
		bad("stuck_after", "%d is negative; valid: 0 (off) or a count of identical codes", o.StuckAfter)
	}
	fs := gainVolts[min(gain, FS256)]

	d := &DefaultOptions
	if o.Kind == KindNoise {
		for _, f := range []struct {
			key string
			set bool
		}{
			{"name", o.Name != d.Name}, {"unit", o.Unit != d.Unit}, {"scale", o.Scale != d.Scale},
			{"offset", o.Offset != d.Offset}, {"in_low", o.InLow != 0}, {"in_high", o.InHigh != 0},
			{"out_low", o.OutLow != 0}, {"out_high", o.OutHigh != 0}, {"min", o.Min != 0}, {"max", o.Max != 0},
		} {
			if f.set {
				bad(f.key, "applies to kind analog only, and kind is noise (the default): add kind: analog")
			}
		}
		if o.Fast < minFast || o.Fast > maxFast {
			bad("fast", "%s is outside 10ms..1s (125ms is IEC 61672-1's Fast time weighting)", o.Fast)
		} else if rateOK && o.Fast < conversionWait(rate) {
			bad("fast", "%s is shorter than one conversion at %d SPS (%s); raise rate or fast", o.Fast, o.Rate, conversionWait(rate))
		}
		if finite("calibration_db", o.CalibrationDB) && math.Abs(o.CalibrationDB) > 20 {
			bad("calibration_db", "%v dB is beyond ±20 dB: a calibrator corrects a meter by a few dB", o.CalibrationDB)
		}
		m := &o.Meter
		ok := finite("meter.low_volts", m.LowVolts)
		ok = finite("meter.high_volts", m.HighVolts) && ok
		ok = finite("meter.low_db", m.LowDB) && ok
		ok = finite("meter.high_db", m.HighDB) && ok
		ok = finite("meter.margin_db", m.MarginDB) && ok
		if ok {
			if m.HighDB <= m.LowDB {
				bad("meter.high_db", "%v dB is not above low_db %v dB", m.HighDB, m.LowDB)
			}
			if m.HighVolts == m.LowVolts {
				bad("meter.high_volts", "%v V equals low_volts: the meter's output must span two voltages", m.HighVolts)
			}
			if m.MarginDB < 0 {
				bad("meter.margin_db", "%v dB is negative; valid: 0 or more", m.MarginDB)
			}
			if gainOK {
				for _, v := range []struct {
					key string
					v   float64
				}{{"meter.low_volts", m.LowVolts}, {"meter.high_volts", m.HighVolts}} {
					if math.Abs(v.v) >= fs {
						bad(v.key, "%v V is outside the ±%v V range of gain %v; choose a larger gain", v.v, fs, o.Gain)
					}
				}
			}
		}
	} else if o.Kind == KindAnalog {
		for _, f := range []struct {
			key string
			set bool
		}{
			{"fast", o.Fast != d.Fast}, {"calibration_db", o.CalibrationDB != d.CalibrationDB}, {"meter", o.Meter != d.Meter},
		} {
			if f.set {
				bad(f.key, "applies to kind noise only, and kind is analog")
			}
		}
		if !validName(o.Name) {
			bad("name", "%q is not a SenML name: 1..32 of a-z A-Z 0-9 - : . / _, starting with a letter or digit (RFC 8428 section 4.5.1)", o.Name)
		}
		if !sensor.IsSenMLUnit(o.Unit) {
			bad("unit", "%q is not a SenML unit (RFC 8428 section 12.1, RFC 8798), e.g. V, mA, A, m, Pa, hPa, Cel, %%RH, /, ppm, m/s, m3/s, lx", o.Unit)
		}
		twoPoint := o.InLow != 0 || o.InHigh != 0 || o.OutLow != 0 || o.OutHigh != 0
		if twoPoint {
			if o.Scale != d.Scale || o.Offset != d.Offset {
				bad("scale", "scale and offset conflict with in_low/in_high/out_low/out_high: give one form")
			}
			ok := finite("in_low", o.InLow)
			ok = finite("in_high", o.InHigh) && ok
			ok = finite("out_low", o.OutLow) && ok
			ok = finite("out_high", o.OutHigh) && ok
			if ok && o.InHigh == o.InLow {
				bad("in_high", "%v V equals in_low: the two points need two different voltages", o.InHigh)
			}
			if ok && o.OutHigh == o.OutLow {
				bad("out_high", "%v equals out_low: the two points need two different values", o.OutHigh)
			}
			if ok && gainOK {
				for _, v := range []struct {
					key string
					v   float64
				}{{"in_low", o.InLow}, {"in_high", o.InHigh}} {
					if math.Abs(v.v) > fs {
						bad(v.key, "%v V is outside the ±%v V range of gain %v; choose a larger gain or a divider", v.v, fs, o.Gain)
					}
				}
			}
		} else {
			if finite("scale", o.Scale) && o.Scale == 0 {
				bad("scale", "0 would read every voltage as offset; valid: any non-zero number")
			}
			finite("offset", o.Offset)
		}
		okMin := finite("min", o.Min)
		if finite("max", o.Max) && okMin && (o.Min != 0 || o.Max != 0) && o.Min >= o.Max {
			bad("max", "%v is not above min %v; valid: min < max, or both 0 for no check", o.Max, o.Min)
		}
	}
	return errors.Join(errs...)
}

// ScaleOffset returns the linear map of kind analog, value = volts·scale + offset, from Scale and
// Offset or from the two-point form: scale = (out_high-out_low)/(in_high-in_low), offset =
// out_low - in_low·scale.
func (o *Options) ScaleOffset() (scale, offset float64) {
	if o.InLow != 0 || o.InHigh != 0 || o.OutLow != 0 || o.OutHigh != 0 {
		scale = (o.OutHigh - o.OutLow) / (o.InHigh - o.InLow)
		return scale, o.OutLow - o.InLow*scale
	}
	return o.Scale, o.Offset
}

// InputVolts returns the voltage across the channel's inputs that the driver reports as value: the
// inverse of the analog map for kind analog, and of the meter's calibration plus calibration_db
// for kind noise (value in dB). The sim board sets its emulator with it.
func (o *Options) InputVolts(value float64) float64 {
	if o.Kind == KindNoise {
		m := &o.Meter
		return m.LowVolts + (value-o.CalibrationDB-m.LowDB)*(m.HighVolts-m.LowVolts)/(m.HighDB-m.LowDB)
	}
	scale, offset := o.ScaleOffset()
	return (value - offset) / scale
}

// NewLevels returns an empty aggregate with the histogram kind noise uses for o: the meter's range
// plus margin, shifted by calibration_db. With InputVolts, an emulator and Meter.DB it lets the sim
// board compute what Sample reports for a given sequence of fast levels.
func (o *Options) NewLevels() *Levels {
	m := &o.Meter
	return NewLevels(m.LowDB-m.MarginDB+o.CalibrationDB, m.HighDB+m.MarginDB+o.CalibrationDB)
}

// Inputs returns the channel's positive and negative AIN number; negative is -1 for GND.
func (o *Options) Inputs() (pos, neg int) {
	p := muxPairs[channelMux[o.Channel]&7]
	return p[0], p[1]
}

// muxPairs are the inputs of each MUX code; -1 is GND (table 8).
var muxPairs = [8][2]int{{0, 1}, {0, 3}, {1, 3}, {2, 3}, {0, -1}, {1, -1}, {2, -1}, {3, -1}}

// adcOpts converts validated options to Opts.
func (o *Options) adcOpts() Opts {
	g, _ := gainOf(o.Gain)
	r, _ := rateOf(o.Rate)
	return Opts{Mux: channelMux[o.Channel], Gain: g, Rate: r, StuckAfter: o.StuckAfter}
}

func gainOf(v float64) (Gain, bool) {
	i := slices.Index(gainVolts[:], v)
	return Gain(max(i, 0)), i >= 0
}

func rateOf(sps int) (DataRate, bool) {
	i := slices.Index(rates[:], sps)
	return DataRate(max(i, 0)), i >= 0
}

// validName: RFC 8428 section 4.5.1 allows A-Z a-z 0-9 - : . / _ in names, starting with a letter
// or digit. 32 characters is our own bound.
func validName(s string) bool {
	if s == "" || len(s) > 32 || strings.IndexByte("-:./_", s[0]) >= 0 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-:./_", c) >= 0) {
			return false
		}
	}
	return true
}

// NewWithOptions opens the ADS1115 at addr as o.Kind says: a *Dev for kind analog, a *NoiseMeter
// (whose goroutine starts at once) for kind noise. o nil means DefaultOptions. It returns
// o.Validate's error when o is invalid.
func NewWithOptions(bus i2c.Bus, addr uint16, o *Options) (sensor.Sensor, error) {
	if o == nil {
		o = &DefaultOptions
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Kind == KindNoise {
		return newNoise(bus, addr, o, false)
	}
	adc := o.adcOpts()
	d, err := newDev(bus, addr, &adc)
	if err != nil {
		return nil, err
	}
	d.name = fmt.Sprintf("ads1115(%s@%#x)", bus, addr)
	d.channels = []sensor.Channel{{Name: o.Name, Unit: o.Unit}}
	d.scale, d.offset = o.ScaleOffset()
	d.min, d.max = o.Min, o.Max
	return d, nil
}

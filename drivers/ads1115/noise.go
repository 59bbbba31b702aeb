package ads1115

import (
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// NoiseOpts configures a NoiseMeter: the ADC input and the meter's linear calibration, which maps
// VoltsAtLow to LowDB and VoltsAtHigh to HighDB.
type NoiseOpts struct {
	// ADC selects the input the meter's analog output is wired to. Its StuckAfter applies to the
	// raw code.
	ADC Opts
	// LowDB and VoltsAtLow are the bottom of the meter's range, HighDB and VoltsAtHigh the top.
	LowDB, VoltsAtLow   float64
	HighDB, VoltsAtHigh float64
	// MarginDB is how far outside LowDB..HighDB a reading may fall before it is ErrRange. A meter
	// that is unplugged reads about 0 V, far below the bottom.
	MarginDB float64
}

// DefaultNoiseOpts fits meters with a 0.6..2.6 V output for 30..130 dB(A), such as DFRobot's
// Gravity SEN0232 (check the meter's own sheet), read on AIN0 with the ±4.096 V range. Stuck
// detection is on: the output of a live meter always moves by some codes (125 µV each).
var DefaultNoiseOpts = NoiseOpts{
	ADC:   Opts{Mux: AIN0, Gain: FS4096, Rate: SPS128, StuckAfter: 20},
	LowDB: 30, VoltsAtLow: 0.6,
	HighDB: 130, VoltsAtHigh: 2.6,
	MarginDB: 3,
}

// NoiseMeter is an analog sound level meter read through an ADS1115. It reports one channel,
// "noise" in dB.
type NoiseMeter struct {
	adc      *Dev
	opts     NoiseOpts
	slope    float64 // dB per V
	channels []sensor.Channel
}

// NewNoiseMeter opens the ADS1115 at addr and reads the meter wired to opts.ADC.Mux. opts nil means
// DefaultNoiseOpts.
func NewNoiseMeter(bus i2c.Bus, addr uint16, opts *NoiseOpts) (*NoiseMeter, error) {
	if opts == nil {
		opts = &DefaultNoiseOpts
	}
	if opts.VoltsAtHigh == opts.VoltsAtLow || opts.HighDB <= opts.LowDB || opts.MarginDB < 0 ||
		math.IsNaN(opts.VoltsAtLow+opts.VoltsAtHigh+opts.LowDB+opts.HighDB+opts.MarginDB) {
		return nil, fmt.Errorf("ads1115: noise calibration %v V at %v dB, %v V at %v dB (margin %v dB): need two different voltages, HighDB > LowDB and a non-negative margin",
			opts.VoltsAtLow, opts.LowDB, opts.VoltsAtHigh, opts.HighDB, opts.MarginDB)
	}
	adc, err := newDev(bus, addr, &opts.ADC)
	if err != nil {
		return nil, err
	}
	adc.name = fmt.Sprintf("noise-ads1115(%s@%#x)", bus, addr)
	return &NoiseMeter{
		adc:      adc,
		opts:     *opts,
		slope:    (opts.HighDB - opts.LowDB) / (opts.VoltsAtHigh - opts.VoltsAtLow),
		channels: []sensor.Channel{{Name: "noise", Unit: "dB"}},
	}, nil
}

// String implements sensor.Sensor.
func (m *NoiseMeter) String() string { return m.adc.name }

// Channels implements sensor.Sensor: noise in dB.
func (m *NoiseMeter) Channels() []sensor.Channel { return m.channels }

// Sample implements sensor.Sensor.
func (m *NoiseMeter) Sample(_ time.Time, dst []float64) error {
	db, err := m.Level()
	if err != nil {
		return err
	}
	dst[0] = db
	return nil
}

// Level converts once and returns the sound level in dB.
func (m *NoiseMeter) Level() (float64, error) {
	code, err := m.adc.convert()
	if err != nil {
		return 0, err
	}
	db := m.DB(Volts(code, m.opts.ADC.Gain))
	if db < m.opts.LowDB-m.opts.MarginDB || db > m.opts.HighDB+m.opts.MarginDB {
		return 0, errNoiseRange
	}
	return db, nil
}

// DB maps the meter's output voltage to dB with the linear calibration.
func (m *NoiseMeter) DB(volts float64) float64 {
	return m.opts.LowDB + (volts-m.opts.VoltsAtLow)*m.slope
}

// Halt implements sensor.Sensor.
func (m *NoiseMeter) Halt() error { return nil }

var errNoiseRange = fmt.Errorf("ads1115: noise level outside the meter's calibrated range: %w", sensor.ErrRange)

var _ sensor.Sensor = (*NoiseMeter)(nil)

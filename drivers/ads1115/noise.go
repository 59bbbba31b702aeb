package ads1115

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// newTicker is the fast loop's clock seam: tests replace it to deliver ticks by hand.
var newTicker = func(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// NoiseMeter is an analog sound level meter read through an ADS1115 (kind noise). Its goroutine
// takes a fast sample every Options.Fast and feeds Levels; Sample reports the interval's LAeq,
// LAmax, LAmin, L10, L90 in dB and the number of fast samples, and starts the next interval.
//
// The goroutine owns the device's bus transactions from open to Halt: nothing else converts on
// it. Other devices on the same bus are fine (see doc.go).
type NoiseMeter struct {
	adc      *Dev
	meter    Meter
	slope    float64 // dB per V
	cal      float64 // dB added after the meter's calibration
	channels []sensor.Channel

	mu      sync.Mutex
	levels  *Levels // mu
	lastErr error   // mu: the last failed fast sample of the interval

	steps chan time.Time // Step's ticks; nil with the driver's own ticker
	acks  chan struct{}  // one per Step's fast sample, once aggregated
	stop  chan struct{}
	done  chan struct{}
	halt  sync.Once
}

// NoiseChannels are kind noise's channels, in Sample's order.
var NoiseChannels = []sensor.Channel{
	// Levels at 0.1 dB, the display resolution IEC 61672-1 asks of a sound level meter (and finer
	// than a class 2 meter's tolerance of about 1 dB); the sample count is an integer.
	{Name: "laeq", Unit: "dB", Resolution: 0.1}, {Name: "lamax", Unit: "dB", Resolution: 0.1},
	{Name: "lamin", Unit: "dB", Resolution: 0.1}, {Name: "l10", Unit: "dB", Resolution: 0.1},
	{Name: "l90", Unit: "dB", Resolution: 0.1}, {Name: "samples", Unit: "count", Resolution: 1},
}

// NewStepped opens a noise meter (o.Kind must be noise) whose goroutine takes a fast sample on each
// Step call instead of every o.Fast: for the sim board and tests, which place fast samples exactly.
func NewStepped(bus i2c.Bus, addr uint16, o *Options) (*NoiseMeter, error) {
	if o == nil {
		o = &DefaultOptions
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Kind != KindNoise {
		return nil, sensor.Fieldf("kind", "%q: NewStepped opens kind noise only", o.Kind)
	}
	return newNoise(bus, addr, o, true)
}

func newNoise(bus i2c.Bus, addr uint16, o *Options, stepped bool) (*NoiseMeter, error) {
	return openNoise(bus, addr, o.adcOpts(), o.Meter, o.CalibrationDB, o.Fast, stepped)
}

func openNoise(bus i2c.Bus, addr uint16, adc Opts, meter Meter, cal float64, fast time.Duration, stepped bool) (*NoiseMeter, error) {
	d, err := newDev(bus, addr, &adc)
	if err != nil {
		return nil, err
	}
	d.name = fmt.Sprintf("noise-ads1115(%s@%#x)", bus, addr)
	m := &NoiseMeter{
		adc:      d,
		meter:    meter,
		slope:    (meter.HighDB - meter.LowDB) / (meter.HighVolts - meter.LowVolts),
		cal:      cal,
		channels: NoiseChannels,
		levels:   (&Options{Meter: meter, CalibrationDB: cal}).NewLevels(),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	var tick <-chan time.Time
	stopTick := func() {}
	if stepped {
		m.steps, m.acks = make(chan time.Time), make(chan struct{})
		tick = m.steps
	} else {
		tick, stopTick = newTicker(fast)
	}
	go m.run(tick, stopTick)
	return m, nil
}

// run is the fast loop: one fast sample per tick until Halt.
func (m *NoiseMeter) run(tick <-chan time.Time, stopTick func()) {
	defer close(m.done)
	defer stopTick()
	for {
		select {
		case <-m.stop:
			return
		case <-tick:
		}
		m.fastSample()
		if m.acks != nil {
			select {
			case m.acks <- struct{}{}:
			case <-m.stop:
				return
			}
		}
	}
}

// fastSample converts once and adds the level to the interval, or records why it could not.
func (m *NoiseMeter) fastSample() {
	code, err := m.adc.convert()
	var db float64
	if err == nil {
		db = m.DB(Volts(code, m.adc.opts.Gain))
		if db < m.meter.LowDB-m.meter.MarginDB || db > m.meter.HighDB+m.meter.MarginDB {
			err = errNoiseRange
		}
		db += m.cal
	}
	m.mu.Lock()
	if err != nil {
		m.lastErr = err
	} else {
		m.levels.Add(db)
	}
	m.mu.Unlock()
}

// Step takes one fast sample on the goroutine of a meter from NewStepped and returns once it is in
// the interval's aggregate (or recorded as the interval's error).
func (m *NoiseMeter) Step() error {
	if m.steps == nil {
		return errors.New("ads1115: Step: the meter runs on its own ticker (open it with NewStepped)")
	}
	select {
	case m.steps <- time.Time{}:
	case <-m.done:
		return errHalted
	}
	select {
	case <-m.acks:
		return nil
	case <-m.done:
		return errHalted
	}
}

// String implements sensor.Sensor.
func (m *NoiseMeter) String() string { return m.adc.name }

// Channels implements sensor.Sensor: NoiseChannels.
func (m *NoiseMeter) Channels() []sensor.Channel { return m.channels }

// Sample implements sensor.Sensor: the interval's LAeq, LAmax, LAmin, L10, L90 (dB) and fast
// sample count since the previous Sample, then a new interval. Fast samples that failed are left
// out; when none succeeded Sample returns the last one's error, or ErrNoData when the interval
// held no fast sample at all (shorter than fast, or just opened).
func (m *NoiseMeter) Sample(_ time.Time, dst []float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.lastErr
	m.lastErr = nil
	if m.levels.N() == 0 {
		if err == nil {
			err = errNoFast
		}
		return err
	}
	m.levels.Result(dst)
	m.levels.Reset()
	return nil
}

// DB maps the meter's output voltage to dB with its linear calibration, before calibration_db.
func (m *NoiseMeter) DB(volts float64) float64 {
	return m.meter.LowDB + (volts-m.meter.LowVolts)*m.slope
}

// Halt implements sensor.Sensor: it stops the fast loop and waits for it. A conversion under way
// completes first (at most one conversion time plus the polls).
func (m *NoiseMeter) Halt() error {
	m.halt.Do(func() { close(m.stop) })
	<-m.done
	return nil
}

var (
	errNoiseRange = fmt.Errorf("ads1115: noise level outside the meter's calibrated range: %w", sensor.ErrRange)
	errNoFast     = fmt.Errorf("ads1115: no fast sample in the interval: %w", sensor.ErrNoData)
	errHalted     = errors.New("ads1115: noise meter halted")
)

// NoiseOpts configures a NoiseMeter opened with NewNoiseMeter, the constructor from before
// Options. New code uses NewWithOptions.
type NoiseOpts struct {
	// ADC selects the input the meter's analog output is wired to. Its StuckAfter counts fast
	// samples.
	ADC Opts
	// LowDB and VoltsAtLow are the bottom of the meter's range, HighDB and VoltsAtHigh the top.
	LowDB, VoltsAtLow   float64
	HighDB, VoltsAtHigh float64
	// MarginDB is how far outside LowDB..HighDB a reading may fall before it is ErrRange.
	MarginDB float64
}

// DefaultNoiseOpts is the SEN0232 on AIN0 at ±4.096 V, 128 SPS.
var DefaultNoiseOpts = NoiseOpts{
	ADC:   Opts{Mux: AIN0, Gain: FS4096, Rate: SPS128},
	LowDB: SEN0232.LowDB, VoltsAtLow: SEN0232.LowVolts,
	HighDB: SEN0232.HighDB, VoltsAtHigh: SEN0232.HighVolts,
	MarginDB: SEN0232.MarginDB,
}

// NewNoiseMeter opens a noise meter with a fast sample every 125 ms, as NewWithOptions does for kind
// noise. opts nil means DefaultNoiseOpts.
func NewNoiseMeter(bus i2c.Bus, addr uint16, opts *NoiseOpts) (*NoiseMeter, error) {
	if opts == nil {
		opts = &DefaultNoiseOpts
	}
	fast := DefaultOptions.Fast
	if opts.VoltsAtHigh == opts.VoltsAtLow || opts.HighDB <= opts.LowDB || opts.MarginDB < 0 ||
		math.IsNaN(opts.VoltsAtLow+opts.VoltsAtHigh+opts.LowDB+opts.HighDB+opts.MarginDB) {
		return nil, fmt.Errorf("ads1115: noise calibration %v V at %v dB, %v V at %v dB (margin %v dB): need two different voltages, HighDB > LowDB and a non-negative margin",
			opts.VoltsAtLow, opts.LowDB, opts.VoltsAtHigh, opts.HighDB, opts.MarginDB)
	}
	if opts.ADC.Rate <= SPS860 && conversionWait(opts.ADC.Rate) > fast {
		return nil, fmt.Errorf("ads1115: a conversion at %d SPS takes longer than a fast sample (%s)", rates[opts.ADC.Rate], fast)
	}
	meter := Meter{LowVolts: opts.VoltsAtLow, LowDB: opts.LowDB, HighVolts: opts.VoltsAtHigh, HighDB: opts.HighDB, MarginDB: opts.MarginDB}
	return openNoise(bus, addr, opts.ADC, meter, 0, fast, false)
}

var _ sensor.Sensor = (*NoiseMeter)(nil)

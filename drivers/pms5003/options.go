package pms5003

import (
	"errors"
	"io"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Options configures a Dev from sensors[].options; the registry decodes the mapping over a copy of
// DefaultOptions. It converts to Opts.
type Options struct {
	// SleepBetween puts the part to sleep (fan and laser off; command 0x42 0x4D 0xE4 0x00 0x00) after
	// each reading and wakes it (0xE4 0x00 0x01) WarmUp + 5 s before the next Sample is due, which
	// stretches the fan's and laser's rated life (about a year running continuously). It only applies
	// when the sensor's interval is longer than WarmUp + 10 s (40 s by default): the driver learns the
	// interval from successive Samples and stays awake at shorter ones. With an interval of 5 min the
	// part runs 35 s in 300.
	SleepBetween bool `yaml:"sleep_between"`
	// WarmUp is how long after a wake-up (and after the start) frames are not readings: the manual's
	// "stable data should be got at least 30 seconds after the sensor wakeup from the sleep mode
	// because of the fan's performance". At least 30s.
	WarmUp time.Duration `yaml:"warm_up"`
	// MaxAge is how long the part, awake and warmed up, may go without a good frame before Sample
	// reports ErrTimeout instead of ErrNoData. The part sends at least one frame every 2.3 s.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxConcentration (µg/m³) bounds the atmospheric values; above it Sample reports ErrRange.
	MaxConcentration int `yaml:"max_concentration"`
}

// DefaultOptions: awake all the time, 30 s warm-up after the start, ErrTimeout after 10 s without a
// frame, ErrRange above 5000 µg/m³.
var DefaultOptions = Options{WarmUp: 30 * time.Second, MaxAge: 10 * time.Second, MaxConcentration: 5000}

// MinWarmUp is the manual's minimum stable time after a wake-up.
const MinWarmUp = 30 * time.Second

// Validate checks every field; it returns nil or the joined *sensor.FieldError values.
func (o *Options) Validate() error {
	var errs []error
	if o.WarmUp < MinWarmUp {
		errs = append(errs, sensor.Fieldf("warm_up", "%v is below the 30s the manual asks for after a wake-up (fan settling)", o.WarmUp))
	}
	if o.MaxAge <= 0 {
		errs = append(errs, sensor.Fieldf("max_age", "%v must be positive, e.g. 10s (the part sends a frame at least every 2.3 s)", o.MaxAge))
	}
	if o.MaxConcentration < 1 || o.MaxConcentration > 65535 {
		errs = append(errs, sensor.Fieldf("max_concentration", "%d µg/m³ is outside 1..65535; the manual's maximum range is at least 1000", o.MaxConcentration))
	}
	return errors.Join(errs...)
}

// NewWithOptions validates o and starts the driver on port, the serial port the board opened (9600
// 8N1), named name in String ("ttyAMA1"). Unlike New it writes to the part: it wakes it and sets
// active mode (a part a previous run left asleep streams again), waits WarmUp before frames count,
// and with SleepBetween sleeps between readings. It never closes the port.
func NewWithOptions(port io.ReadWriter, name string, o *Options) (*Dev, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if port == nil {
		return nil, errors.New("pms5003: nil port: pass the opened serial port")
	}
	opts := DefaultOpts
	opts.MaxAge, opts.MaxConcentration = o.MaxAge, uint16(o.MaxConcentration)
	opts.WarmUp, opts.SleepBetween = o.WarmUp, o.SleepBetween
	return newDev(port, port, name, &opts)
}

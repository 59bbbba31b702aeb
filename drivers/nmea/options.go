package nmea

import (
	"errors"
	"io"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Options configures a Dev from sensors[].options; the registry decodes the mapping over a copy of
// DefaultOptions.
type Options struct {
	// Sentences says which sentences make a fix and so which channels there are:
	//   - "gga" (default): GGA gives position, altitude, fix quality and satellites; an RMC with
	//     status V invalidates the fix until the next GGA. Channels lat, lon, altitude, fix_quality,
	//     satellites.
	//   - "rmc": for receivers that send RMC and no GGA: RMC gives position and validity (status A).
	//     Channels lat, lon only: RMC carries no altitude, quality or satellite count.
	//   - "both": GGA and RMC must each be fresh and valid; channels as for gga.
	Sentences string `yaml:"sentences"`
	// MaxAge is how old the sentences a fix comes from may be at Sample; older is sensor.ErrNoData.
	// Receivers send once a second by default.
	MaxAge time.Duration `yaml:"max_age"`
}

// DefaultOptions: GGA fixes, 5 s maximum age.
var DefaultOptions = Options{Sentences: SentencesGGA, MaxAge: 5 * time.Second}

// Validate checks every field; it returns nil or the joined *sensor.FieldError values.
func (o *Options) Validate() error {
	var errs []error
	switch o.Sentences {
	case SentencesGGA, SentencesRMC, SentencesBoth:
	default:
		errs = append(errs, sensor.Fieldf("sentences", "%q is not valid; valid: gga, rmc, both", o.Sentences))
	}
	if o.MaxAge <= 0 {
		errs = append(errs, sensor.Fieldf("max_age", "%v must be positive, e.g. 5s", o.MaxAge))
	}
	return errors.Join(errs...)
}

// NewWithOptions validates o and starts reading NMEA sentences from port, named name in String
// ("ttyS1"); see New. The driver only reads the port and never closes it.
func NewWithOptions(port io.ReadWriter, name string, o *Options) (*Dev, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := DefaultOpts
	opts.Name, opts.MaxAge, opts.Sentences = name, o.MaxAge, o.Sentences
	return New(port, &opts)
}

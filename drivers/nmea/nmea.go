package nmea

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wayside-iot/wayside/drivers/internal/serialread"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Opts configures a Dev.
type Opts struct {
	// Name says where the receiver sits, for String: "ttyS1". Empty is "uart".
	Name string
	// MaxAge is how old the last GGA may be for Sample to report it; older is a stale fix and
	// Sample returns sensor.ErrNoData. Receivers send GGA every second by default.
	MaxAge time.Duration
	// Poll is the read deadline step when the reader has SetReadDeadline: how often the reader
	// goroutine checks whether Halt was called. It bounds how long Halt waits.
	Poll time.Duration
	// HaltTimeout bounds how long Halt waits for the reader goroutine when the reader has no
	// SetReadDeadline: the owner must close the port to end the goroutine (see Dev.Halt).
	HaltTimeout time.Duration
	// Sentences says which sentences make a fix: SentencesGGA (or empty), SentencesRMC or
	// SentencesBoth; see Options.Sentences.
	Sentences string
}

// Sentences values.
const (
	SentencesGGA  = "gga"
	SentencesRMC  = "rmc"
	SentencesBoth = "both"
)

// DefaultOpts suits a 1 Hz receiver at 9600 baud.
var DefaultOpts = Opts{
	MaxAge:      5 * time.Second,
	Poll:        200 * time.Millisecond,
	HaltTimeout: 2 * time.Second,
}

// Stats counts what the reader goroutine saw since New.
type Stats struct {
	GGA, RMC uint64 // Sentences decoded.
	Other    uint64 // Well-formed sentences of other types (GSV, VTG, TXT, ...).
	CRC      uint64 // Sentences with a wrong checksum.
	Frame    uint64 // Truncated, overlong or malformed sentences.
	Garbage  uint64 // Runs of bytes outside any sentence.
}

// now is the clock seam: when a fix was received, compared to Sample's at.
var now = time.Now

// Dev is a GPS receiver on a UART.
type Dev struct {
	rd   *serialread.Loop
	opts Opts
	name string

	mu sync.Mutex
	// The fields below are protected by mu.
	fix     Fix       // Latest merged fix.
	fixAt   time.Time // When the last GGA arrived, by now.
	haveGGA bool
	rmcAt   time.Time // When the last RMC arrived, by now.
	haveRMC bool
	rmcOK   bool // The last RMC's status was A.
	stats   Stats
	err     error // Why the reader stopped, nil while it runs.
}

// New starts reading NMEA sentences from r. r is the serial port the board opened; the driver never
// closes it. If r implements SetReadDeadline(time.Time) error (os.File, net.Conn, most serial
// packages) the reader uses short deadlines so Halt can stop it.
func New(r io.Reader, opts *Opts) (*Dev, error) {
	if r == nil {
		return nil, errors.New("nmea: nil reader")
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.MaxAge <= 0 {
		return nil, fmt.Errorf("nmea: MaxAge %s must be positive, e.g. 5s", o.MaxAge)
	}
	if o.Poll <= 0 || o.HaltTimeout <= 0 {
		return nil, fmt.Errorf("nmea: Poll %s and HaltTimeout %s must be positive", o.Poll, o.HaltTimeout)
	}
	switch o.Sentences {
	case "":
		o.Sentences = SentencesGGA
	case SentencesGGA, SentencesRMC, SentencesBoth:
	default:
		return nil, fmt.Errorf("nmea: Sentences %q is not gga, rmc or both", o.Sentences)
	}
	name := o.Name
	if name == "" {
		name = "uart"
	}
	d := &Dev{rd: serialread.New(r, o.Poll), opts: o, name: "nmea(" + name + ")"}
	d.start()
	return d, nil
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

var channels = []sensor.Channel{
	// Latitude and longitude carry as many decimals of a minute as the receiver prints (NMEA 0183
	// leaves it open; 4 or 5 for most, 1.7e-6° or 1.7e-7°): sent at 1e-7° (1.1 cm), finer than any
	// of them and than an RTK fix resolves. GGA's altitude field is printed to 0.1 m by the
	// receivers we know (u-blox, Quectel); the fix quality and the satellite count are integers.
	{Name: "lat", Unit: "lat", Resolution: 1e-7},
	{Name: "lon", Unit: "lon", Resolution: 1e-7},
	{Name: "altitude", Unit: "m", Resolution: 0.1},
	{Name: "fix_quality", Unit: "/", Resolution: 1},
	{Name: "satellites", Unit: "count", Resolution: 1},
}

// Channels implements sensor.Sensor: latitude and longitude in degrees (SenML "lat"/"lon"), altitude
// above mean sea level in metres, GGA fix quality 0..8 and satellites in use; with Sentences "rmc"
// only lat and lon (RMC has no altitude, quality or satellite count).
func (d *Dev) Channels() []sensor.Channel {
	if d.opts.Sentences == SentencesRMC {
		return channels[:2]
	}
	return channels
}

var (
	errNoFix    = fmt.Errorf("nmea: no fix yet: %w", sensor.ErrNoData)
	errInvalid  = fmt.Errorf("nmea: receiver reports no valid fix: %w", sensor.ErrNoData)
	errStale    = fmt.Errorf("nmea: fix older than MaxAge: %w", sensor.ErrNoData)
	errShortDst = errors.New("nmea: dst shorter than Channels()")
)

// Sample implements sensor.Sensor. It reports the latest fix; sensor.ErrNoData when there is none
// yet, the receiver says it is invalid, or it is older than Opts.MaxAge at `at`. Which sentences
// count depends on Opts.Sentences:
//
//   - gga: a GGA within MaxAge with quality above 0, and no newer RMC with status V.
//   - rmc: an RMC within MaxAge with status A; only lat and lon are reported.
//   - both: a GGA and an RMC each within MaxAge, quality above 0 and status A.
//
// Once the reader stopped on a port error every Sample returns that error wrapped in sensor.ErrBus.
func (d *Dev) Sample(at time.Time, dst []float64) error {
	n := 5
	if d.opts.Sentences == SentencesRMC {
		n = 2
	}
	if len(dst) < n {
		return errShortDst
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	gga, rmc := d.opts.Sentences != SentencesRMC, d.opts.Sentences != SentencesGGA
	if (gga && !d.haveGGA) || (rmc && !d.haveRMC) {
		return errNoFix
	}
	if (gga && (d.fix.Quality == 0 || !d.fix.Valid)) || (rmc && !d.rmcOK) {
		return errInvalid
	}
	if (gga && at.Sub(d.fixAt) > d.opts.MaxAge) || (rmc && at.Sub(d.rmcAt) > d.opts.MaxAge) {
		return errStale
	}
	dst[0] = d.fix.Lat
	dst[1] = d.fix.Lon
	if n == 2 {
		return nil
	}
	dst[2] = float64(d.fix.Altitude) / 1e9
	dst[3] = float64(d.fix.Quality)
	dst[4] = float64(d.fix.Satellites)
	return nil
}

// Fix returns the latest merged fix and when its last GGA arrived; ok is false before the first GGA.
func (d *Dev) Fix() (f Fix, at time.Time, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fix, d.fixAt, d.haveGGA
}

// Stats returns the reader's counters.
func (d *Dev) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Halt implements sensor.Sensor: it stops the reader goroutine and waits for it. It does not close
// the port.
//
// With a reader that supports read deadlines the goroutine stops within Opts.Poll. Without one a
// blocked Read cannot be interrupted from here: the owner must close the port (before or after
// calling Halt), which ends the Read with an error and the goroutine with it. Halt waits up to
// Opts.HaltTimeout for that and then returns an error wrapping sensor.ErrTimeout; the goroutine then
// ends on its own when the port is closed.
func (d *Dev) Halt() error {
	return d.rd.Stop("nmea", d.opts.HaltTimeout)
}

// start starts the reader goroutine: it frames "$...\n" sentences and feeds them to Parse. The
// framing state below belongs to that goroutine.
func (d *Dev) start() {
	var buf [256]byte
	var line [MaxSentence]byte
	n := 0             // Bytes in line; 0 when outside a sentence.
	inGarbage := false // Inside a run of bytes outside any sentence.
	overflow := false  // The current sentence did not fit: skip to the next '$'.
	fix := Fix{}
	feed := func(b []byte) {
		for _, c := range b {
			switch {
			case c == '$':
				if n > 0 || overflow {
					d.count(func(s *Stats) { s.Frame++ }) // Truncated: a new sentence began.
				}
				line[0] = '$'
				n, overflow, inGarbage = 1, false, false
			case overflow:
				if c == '\n' {
					overflow = false
				}
			case n == 0:
				if c != '\r' && c != '\n' && !inGarbage {
					inGarbage = true
					d.count(func(s *Stats) { s.Garbage++ })
				}
			case c == '\n':
				if n < len(line) {
					line[n] = c
					n++
				}
				d.sentence(line[:n], &fix)
				n = 0
			case n == len(line):
				overflow, n = true, 0
				d.count(func(s *Stats) { s.Frame++ })
			default:
				line[n] = c
				n++
			}
		}
	}
	d.rd.Start(func() []byte { return buf[:] }, feed, d.fail)
}

// sentence parses one framed sentence into the goroutine's fix and publishes it.
func (d *Dev) sentence(b []byte, fix *Fix) {
	t, err := Parse(b, fix)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case errors.Is(err, sensor.ErrCRC):
		d.stats.CRC++
		return
	case err != nil:
		d.stats.Frame++
		return
	}
	switch t {
	case TypeGGA:
		d.stats.GGA++
		d.haveGGA = true
		d.fixAt = now()
		// GGA has no status field: a GGA with a fix after a void RMC revalidates it.
		fix.Valid = fix.Quality != 0
	case TypeRMC:
		d.stats.RMC++
		d.haveRMC, d.rmcOK = true, fix.Valid
		d.rmcAt = now()
	default:
		d.stats.Other++
	}
	d.fix = *fix
}

func (d *Dev) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}

func (d *Dev) fail(err error) {
	d.mu.Lock()
	d.err = fmt.Errorf("nmea: read: %w: %w", sensor.ErrBus, err)
	d.mu.Unlock()
}

var _ sensor.Sensor = (*Dev)(nil)

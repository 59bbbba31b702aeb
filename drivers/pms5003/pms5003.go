package pms5003

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
	// MaxAge is how long the part may go without a good frame before Sample reports ErrTimeout
	// instead of ErrNoData. The part sends at least one frame every 2.3 s.
	MaxAge time.Duration
	// MaxConcentration (µg/m³) bounds the atmospheric values; above it Sample reports ErrRange. It is
	// a plausibility bound, not the accuracy range: the datasheet's 1000 µg/m³ "maximum range" is a
	// floor ("≥ 1000"), and in wildfire smoke or next to roadworks readings above it are still
	// measurements (Linux's pms7003 driver reports them, clamped).
	MaxConcentration uint16
	// ReadTimeout is the read deadline used when the reader has SetReadDeadline: the goroutine checks
	// for Halt this often.
	ReadTimeout time.Duration
	// HaltTimeout bounds how long Halt waits for the reader goroutine. Without deadlines the goroutine
	// is blocked in Read until the next byte arrives (at most 2.3 s while the part streams) or the
	// owner closes the port.
	HaltTimeout time.Duration
	// WarmUp is how long after a wake-up frames are not readings yet (the fan settles; the manual
	// asks for at least 30 s). It needs a port the driver can write (NewWithOptions): New, which only
	// reads, ignores it and never wakes the part.
	WarmUp time.Duration
	// SleepBetween puts the part to sleep after each reading and wakes it WarmUp plus a margin before
	// the next Sample is due (see Options.SleepBetween). Needs NewWithOptions.
	SleepBetween bool
}

// DefaultOpts: ErrTimeout after 10 s without a frame, ErrRange above 5000 µg/m³ (five times the
// datasheet's maximum range: a frame that passed its checksum but cannot be air), 200 ms read
// deadlines, and a 3 s Halt bound (longer than the 2.3 s frame interval).
var DefaultOpts = Opts{
	MaxAge:           10 * time.Second,
	MaxConcentration: 5000,
	ReadTimeout:      200 * time.Millisecond,
	HaltTimeout:      3 * time.Second,
}

// now is the clock seam for frame arrival times.
var now = time.Now

// Dev is a PMS5003 on a UART. Its methods follow sensor.Sensor's call order; the reader goroutine
// shares state with them under mu.
type Dev struct {
	rd       *serialread.Loop
	name     string
	opts     Opts
	channels []sensor.Channel

	mu sync.Mutex
	// All below: mu must be held.
	latest    Frame
	latestAt  time.Time // arrival of latest; zero before the first good frame
	seq       uint64    // good frames so far
	badSeq    uint64    // bad frames so far
	badErr    error     // kind of the last bad frame
	readErr   error     // why the goroutine ended; nil while it runs
	startedAt time.Time

	asleep   bool      // the sleep command was sent and no wake-up since
	stableAt time.Time // frames before it arrived during the warm-up and are dropped
	warming  uint64    // frames dropped during warm-ups

	// Sample's own state (one goroutine at a time, no lock needed).
	sampledSeq uint64
	sampledBad uint64
	prevAt     time.Time // Sample's at last time: the gateway's interval is the difference

	// Duty cycle, when the driver may write (NewWithOptions): w is the port, wmu orders the writes
	// of Sample, Halt and the wake timer's goroutine.
	w     io.Writer
	wmu   sync.Mutex
	timer timer
}

// New starts parsing frames from r, usually the serial port the board opened for the part. name
// says where it sits (e.g. "ttyAMA1") and shows in String. opts nil means DefaultOpts.
func New(r io.Reader, name string, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	o := *opts
	o.WarmUp, o.SleepBetween = 0, false // New never writes to the part
	return newDev(r, nil, name, &o)
}

func newDev(r io.Reader, w io.Writer, name string, opts *Opts) (*Dev, error) {
	if r == nil {
		return nil, errors.New("pms5003: nil reader: pass the opened serial port")
	}
	if opts.MaxAge <= 0 || opts.ReadTimeout <= 0 || opts.HaltTimeout <= 0 || opts.MaxConcentration == 0 {
		return nil, fmt.Errorf("pms5003: Opts %+v: MaxAge, MaxConcentration, ReadTimeout and HaltTimeout must be positive (start from DefaultOpts)", *opts)
	}
	d := &Dev{
		rd:   serialread.New(r, opts.ReadTimeout),
		name: fmt.Sprintf("pms5003(%s)", name),
		opts: *opts,
		channels: []sensor.Channel{
			// Appendix I: the frame carries each concentration as an integer in ug/m3 (1 ug/m3).
			{Name: "pm1", Unit: "ug/m3", Resolution: 1}, {Name: "pm2_5", Unit: "ug/m3", Resolution: 1},
			{Name: "pm10", Unit: "ug/m3", Resolution: 1},
		},
		startedAt: now(),
		w:         w,
	}
	if w != nil {
		d.timer = newTimer(d.wake)
		if err := d.wakeUp(); err != nil {
			return nil, err
		}
	}
	// The parser belongs to the reader goroutine.
	p := new(parser)
	d.rd.Start(p.space, func(b []byte) {
		p.n += len(b)
		p.parse(d)
	}, d.end)
	return d, nil
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// Channels implements sensor.Sensor: pm1, pm2_5, pm10 (atmospheric).
func (d *Dev) Channels() []sensor.Channel { return d.channels }

// Sample implements sensor.Sensor. It returns the latest good frame if it is newer than the one the
// previous Sample returned. Otherwise: ErrBus once the stream ended, ErrCRC or ErrFrame when only
// bad frames arrived since the previous Sample, ErrTimeout when no good frame arrived for
// Opts.MaxAge before at, and ErrNoData otherwise.
//
// With WarmUp (NewWithOptions), a Sample while the part sleeps wakes it, and until WarmUp has passed
// since the wake-up Sample returns ErrNoData (warming up, not a fault). With SleepBetween, a Sample
// that returned a reading puts the part to sleep when the interval since the previous Sample is
// longer than WarmUp + 10 s, and the wake timer wakes it WarmUp + 5 s before the next one is due.
func (d *Dev) Sample(at time.Time, dst []float64) error {
	interval := at.Sub(d.prevAt)
	first := d.prevAt.IsZero()
	d.prevAt = at
	if d.w != nil {
		d.mu.Lock()
		asleep, warm := d.asleep, now().Before(d.stableAt)
		d.mu.Unlock()
		if asleep {
			// The wake timer has not fired (the interval shrank) or its wake-up failed.
			if err := d.wakeUp(); err != nil {
				return err
			}
			return errWarmUp
		}
		if warm {
			return errWarmUp
		}
	}
	f, err := d.next(at)
	if err != nil {
		return err
	}
	dst[0], dst[1], dst[2] = float64(f.PM1), float64(f.PM25), float64(f.PM10)
	if d.opts.SleepBetween && !first && interval > d.opts.WarmUp+2*wakeMargin {
		// A failed sleep command keeps the part awake and the reading good: the next one tries again.
		if d.sleep() == nil {
			d.timer.Reset(interval - d.opts.WarmUp - wakeMargin)
		}
	}
	return nil
}

// Latest returns the latest good frame (all 12 values) and its arrival time; ok is false before the
// first one. Unlike Sample it does not consume the frame.
func (d *Dev) Latest() (f Frame, at time.Time, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.latest, d.latestAt, d.seq > 0
}

func (d *Dev) next(at time.Time) (Frame, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seq != d.sampledSeq {
		d.sampledSeq, d.sampledBad = d.seq, d.badSeq
		f := d.latest
		if f.PM1 > d.opts.MaxConcentration || f.PM25 > d.opts.MaxConcentration || f.PM10 > d.opts.MaxConcentration {
			return f, errRange
		}
		// The classes are cumulative (PM1 is part of PM2.5, which is part of PM10).
		if f.PM1 > f.PM25 || f.PM25 > f.PM10 {
			return f, errOrder
		}
		return f, nil
	}
	if d.readErr != nil {
		return Frame{}, d.readErr
	}
	if d.badSeq != d.sampledBad {
		d.sampledBad = d.badSeq
		return Frame{}, d.badErr
	}
	last := d.latestAt
	if last.IsZero() {
		last = d.startedAt
	}
	if last.Before(d.stableAt) {
		last = d.stableAt // no frames while asleep or warming up
	}
	if at.Sub(last) > d.opts.MaxAge {
		return Frame{}, errTimeout
	}
	return Frame{}, errNoData
}

// Halt implements sensor.Sensor: it stops the reader goroutine and waits for it, at most
// Opts.HaltTimeout. With a reader that has SetReadDeadline the goroutine notices within
// Opts.ReadTimeout. Otherwise it notices after its blocked Read returns: when the next byte arrives
// or when the owner closes the port. Halt never closes the port.
//
// With SleepBetween it stops the wake timer and puts the part to sleep, so the fan does not run while
// the gateway is stopped; the next NewWithOptions wakes it.
func (d *Dev) Halt() error {
	if d.timer != nil {
		d.timer.Stop()
	}
	if d.opts.SleepBetween {
		d.rd.Signal() // before the sleep command: its answer must find the reader stopping
		_ = d.sleep() // best effort: the reader is stopped either way
	}
	if !d.rd.Halt(d.opts.HaltTimeout) {
		return fmt.Errorf("pms5003: halt: reader still blocked after %v; it ends when the port is closed: %w", d.opts.HaltTimeout, sensor.ErrTimeout)
	}
	return nil
}

func (d *Dev) end(err error) {
	d.mu.Lock()
	d.readErr = fmt.Errorf("pms5003: read: %w: %w", sensor.ErrBus, err)
	d.mu.Unlock()
}

func (d *Dev) good(f *Frame) {
	at := now()
	d.mu.Lock()
	if at.Before(d.stableAt) {
		d.warming++ // the fan is still settling: not a reading
		d.mu.Unlock()
		return
	}
	d.latest, d.latestAt = *f, at
	d.seq++
	d.mu.Unlock()
}

func (d *Dev) bad(kind error) {
	d.mu.Lock()
	d.badSeq++
	d.badErr = kind
	d.mu.Unlock()
}

// Errors returned on hot paths are built once so they do not allocate.
var (
	errNoData   = fmt.Errorf("pms5003: no frame since the previous sample: %w", sensor.ErrNoData)
	errWarmUp   = fmt.Errorf("pms5003: warming up after wake-up (fan settling): %w", sensor.ErrNoData)
	errTimeout  = fmt.Errorf("pms5003: no good frame within Opts.MaxAge: %w", sensor.ErrTimeout)
	errChecksum = fmt.Errorf("pms5003: frame check code mismatch: %w", sensor.ErrCRC)
	errShort    = fmt.Errorf("pms5003: frame cut short: %w", sensor.ErrFrame)
	errLength   = fmt.Errorf("pms5003: frame length is not 28: %w", sensor.ErrFrame)
	errRange    = fmt.Errorf("pms5003: concentration above Opts.MaxConcentration: %w", sensor.ErrRange)
	errOrder    = fmt.Errorf("pms5003: PM1 > PM2.5 or PM2.5 > PM10: %w", sensor.ErrRange)
)

var _ sensor.Sensor = (*Dev)(nil)

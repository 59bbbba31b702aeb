package ops243

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/serialread"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Time seams: tests replay report timelines exactly.
var (
	now   = time.Now
	sleep = time.Sleep
)

// poll is the read deadline step when the port has SetReadDeadline: Halt returns within it.
const poll = 200 * time.Millisecond

// haltTimeout bounds how long Halt waits when the port has no SetReadDeadline (see Dev.Halt).
const haltTimeout = 2 * time.Second

// resyncEvery bounds how often the driver sends its settings again to a radar that lost them.
const resyncEvery = 2 * time.Second

// Stats counts the reader's lines since New.
type Stats struct {
	Lines        uint64 // Lines read, of any kind.
	Speeds       uint64 // Speed reports that passed the direction and speed filters.
	Filtered     uint64 // Speed reports of the wrong direction, or outside min_speed..max_speed.
	Vehicles     uint64 // Vehicles closed (counted in an interval).
	Ignored      uint64 // JSON objects without a speed (command answers).
	Garbage      uint64 // Malformed or overlong lines.
	Unconfigured uint64 // Plain lines in JSON mode: the radar lost its settings; not used.
	Resyncs      uint64 // Times the settings were sent again after such lines.
	Overflow     uint64 // Vehicles beyond MaxVehicles in an interval, left out of its percentile.
}

// Settings are what the radar answered when the driver read its settings back at New.
type Settings struct {
	Product    string  // from ??, e.g. "OPS243"; empty if the radar did not say.
	Unit       Unit    // from U?
	MinSpeed   float64 // from R?, in Unit; 0 no limit.
	MaxSpeed   float64 // from R?, in Unit; 0 no limit.
	Direction  string  // from R? when the radar reports it, as it printed it; else empty.
	SampleRate int     // from ??, samples/s.
}

// Dev is an OPS243-A radar on a UART, configured at New, counting vehicles.
type Dev struct {
	now  func() time.Time // the clock seam as it was at New: the reader goroutine may outlive a test
	port io.ReadWriter
	rd   *serialread.Loop
	opts Options
	name string
	unit Unit
	json bool
	dir  int     // +1 inbound only, -1 outbound only, 0 both
	min  float64 // m/s
	max  float64 // m/s, 0 no limit
	gap  time.Duration
	// setup is the write commands, sent at New and again when the radar lost them.
	setup    []byte
	answered chan struct{} // a command answer arrived (capacity 1)

	mu sync.Mutex
	// Protected by mu.
	stats      Stats
	ans        answers
	settings   Settings
	configured bool      // New finished configuring: plain lines in JSON mode mean a reset
	open       bool      // a vehicle is in the beam
	peak       float64   // its fastest |speed|, m/s
	last       time.Time // its latest report
	iv         interval
	ivLines    uint64 // lines since the previous Sample
	ivGarbage  uint64 // of which garbage
	lastResync time.Time
	err        error
}

// maxLine is the longest line accepted; speed lines are under 60 bytes, JSON ones under 150.
const maxLine = 200

// New configures the OPS243 on port (the serial port the board opened, 19200 8N1 by default,
// UM-003-A "UART Control"; the driver never closes it) as o says, reads the settings back, and
// starts counting vehicles. name says where it sits, for String: "ttyACM0". A nil o is
// DefaultOptions. An invalid o returns o.Validate's error. A radar that does not answer returns an
// error wrapping sensor.ErrTimeout, one whose answers do not match the settings sensor.ErrFrame,
// both naming the setting; a failed write sensor.ErrBus. After an error the reader goroutine may
// remain blocked in Read until the board closes the port.
func New(port io.ReadWriter, name string, o *Options) (*Dev, error) {
	if port == nil {
		return nil, errors.New("ops243: nil port")
	}
	if o == nil {
		o = &DefaultOptions
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("ops243: %w", err)
	}
	if name == "" {
		name = "uart"
	}
	unit, _ := ParseUnit(o.Units)
	d := &Dev{
		now: now, port: port, rd: serialread.New(port, poll), opts: *o, name: "ops243(" + name + ")",
		unit: unit, json: o.Output == OutputJSON, min: o.MinSpeed, max: o.MaxSpeed, gap: o.VehicleGap,
		answered: make(chan struct{}, 1), iv: newInterval(),
	}
	switch o.Direction {
	case DirectionInbound:
		d.dir = 1
	case DirectionOutbound:
		d.dir = -1
	}
	for _, c := range d.setupCommands() {
		d.setup = append(d.setup, c+eol...)
	}
	d.start()
	if err := d.configure(); err != nil {
		d.rd.Halt(d.rd.Bound(0))
		return nil, err
	}
	return d, nil
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

var channels = []sensor.Channel{
	// Speeds are reported to 0.1 of the configured unit at most (the F1 decimals setting; 0.1 km/h
	// = 0.028 m/s): sent at 0.01 m/s, finer than any unit's step.
	{Name: "count", Unit: "count", Resolution: 1},
	{Name: "speed", Unit: "m/s", Resolution: 0.01},
	{Name: "speed_p85", Unit: "m/s", Resolution: 0.01},
	{Name: "speed_max", Unit: "m/s", Resolution: 0.01},
}

// Channels implements sensor.Sensor: per interval, the vehicles counted, their mean speed, 85th
// percentile speed and fastest speed in m/s (see the package documentation). The speeds are 0 in
// an interval whose count is 0.
func (d *Dev) Channels() []sensor.Channel { return channels }

var (
	errGarbage  = fmt.Errorf("ops243: only malformed lines since the previous sample (wrong baud rate?): %w", sensor.ErrFrame)
	errShortDst = errors.New("ops243: dst shorter than Channels()")
)

// Sample implements sensor.Sensor: the vehicles closed since the previous Sample (count, mean,
// 85th percentile and max of their peak speeds, m/s). An interval without vehicles is a valid
// reading of zeros. It returns an error wrapping sensor.ErrFrame when the interval brought lines
// and all were malformed, and sensor.ErrBus after a port error once the vehicles read before it
// were reported. It does not allocate.
func (d *Dev) Sample(at time.Time, dst []float64) error {
	if len(dst) < len(channels) {
		return errShortDst
	}
	t := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.open && t.Sub(d.last) > d.gap {
		d.closeLocked()
	}
	lines, garbage := d.ivLines, d.ivGarbage
	d.ivLines, d.ivGarbage = 0, 0
	if d.iv.n == 0 {
		if d.err != nil {
			return d.err
		}
		if garbage > 0 && garbage == lines {
			return errGarbage
		}
	}
	n, mean, p85, max := d.iv.take()
	dst[0], dst[1], dst[2], dst[3] = float64(n), mean, p85, max
	return nil
}

// Stats returns the reader's counters.
func (d *Dev) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Settings returns the settings read back from the radar at New.
func (d *Dev) Settings() Settings {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settings
}

// Halt implements sensor.Sensor: it stops the reader goroutine and waits for it. It does not close
// the port.
//
// With a port that supports read deadlines the goroutine stops within 200 ms. Without, a blocked
// Read cannot be interrupted from here: the owner must close the port, before or after Halt,
// which ends the goroutine. Halt waits up to 2 s for that and then returns an error wrapping
// sensor.ErrTimeout.
func (d *Dev) Halt() error {
	return d.rd.Stop("ops243", haltTimeout)
}

// start starts the reader goroutine: it cuts lines at CR or LF and hands them to line. The state
// below belongs to that goroutine.
func (d *Dev) start() {
	var buf [128]byte
	var line [maxLine]byte
	n, overflow := 0, false
	feed := func(b []byte) {
		for _, c := range b {
			switch {
			case c == '\n' || c == '\r':
				if overflow {
					overflow = false
				} else if n > 0 {
					d.line(line[:n])
				}
				n = 0
			case overflow:
			case n == len(line):
				overflow, n = true, 0
				d.mu.Lock()
				d.stats.Lines++
				d.stats.Garbage++
				d.ivLines++
				d.ivGarbage++
				d.mu.Unlock()
			default:
				line[n] = c
				n++
			}
		}
	}
	d.rd.Start(func() []byte { return buf[:] }, feed, d.fail)
}

// line handles one line without its terminator, on the reader goroutine.
func (d *Dev) line(b []byte) {
	r, res := ParseLine(b, d.unit)
	t := d.now()
	d.mu.Lock()
	d.stats.Lines++
	d.ivLines++
	switch res {
	case ResultIgnored:
		d.stats.Ignored++
		d.ans.record(b)
		d.mu.Unlock()
		select {
		case d.answered <- struct{}{}:
		default:
		}
		return
	case ResultGarbage:
		d.stats.Garbage++
		d.ivGarbage++
		d.mu.Unlock()
		return
	}
	if d.json && r.Form == FormPlain && !r.HasUnit {
		// A plain line in JSON mode: the radar reverted to its saved settings (a power cycle or
		// brown-out); its unit is unknown, so the report is not used.
		d.stats.Unconfigured++
		resync := d.configured && (d.lastResync.IsZero() || t.Sub(d.lastResync) >= resyncEvery)
		if resync {
			d.lastResync = t
			d.stats.Resyncs++
		}
		d.mu.Unlock()
		if resync {
			// Write errors show up as read errors soon enough.
			_, _ = d.port.Write(d.setup)
		}
		return
	}
	d.report(float64(r.Speed)/float64(physic.MetrePerSecond), t)
	d.mu.Unlock()
}

// report takes one speed report v (m/s, signed) received at t. mu must be held.
func (d *Dev) report(v float64, t time.Time) {
	s := v
	if s < 0 {
		s = -s
	}
	if s == 0 || (d.dir > 0 && v < 0) || (d.dir < 0 && v > 0) || s < d.min || (d.max > 0 && s > d.max) {
		d.stats.Filtered++
		return
	}
	d.stats.Speeds++
	if d.open && t.Sub(d.last) > d.gap {
		d.closeLocked()
	}
	if !d.open {
		d.open, d.peak = true, 0
	}
	if s > d.peak {
		d.peak = s
	}
	d.last = t
}

// closeLocked counts the vehicle in the beam. mu must be held.
func (d *Dev) closeLocked() {
	d.open = false
	d.stats.Vehicles++
	if !d.iv.add(d.peak) {
		d.stats.Overflow++
	}
}

func (d *Dev) fail(err error) {
	d.mu.Lock()
	d.err = fmt.Errorf("ops243: read: %w: %w", sensor.ErrBus, err)
	d.mu.Unlock()
	select {
	case d.answered <- struct{}{}:
	default:
	}
}

var _ sensor.Sensor = (*Dev)(nil)

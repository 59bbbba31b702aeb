package ops243

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/serialread"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Unit is a speed unit the sensor can report in.
type Unit uint8

// Speed units, with the OPS243 command that selects each (UM-003-A, "Speed Output Units").
const (
	MetrePerSecond      Unit = iota // UM, factory default.
	KilometrePerHour                // UK
	MilePerHour                     // US
	FootPerSecond                   // UF
	CentimetrePerSecond             // UC
)

// command returns the 2-character command selecting u.
func (u Unit) command() string {
	return [...]string{"UM", "UK", "US", "UF", "UC"}[u]
}

// speed converts v in unit u.
func (u Unit) speed(v float64) physic.Speed {
	f := [...]float64{
		float64(physic.MetrePerSecond),
		float64(physic.MetrePerSecond) / 3.6,
		float64(physic.MilePerHour),
		float64(physic.FootPerSecond),
		float64(physic.MetrePerSecond) / 100,
	}[u]
	return physic.Speed(math.Round(v * f))
}

func (u Unit) String() string {
	if u > CentimetrePerSecond {
		return fmt.Sprintf("Unit(%d)", uint8(u))
	}
	return [...]string{"m/s", "km/h", "mph", "ft/s", "cm/s"}[u]
}

// Report selects which speed Sample returns when several arrived since the previous Sample.
type Report uint8

const (
	// Max reports the speed with the largest magnitude, sign kept: the peak speed of a passing
	// vehicle.
	Max Report = iota
	// Latest reports the last speed received.
	Latest
)

// Opts configures a Dev.
type Opts struct {
	// Name says where the sensor sits, for String: "ttyACM0". Empty is "uart".
	Name string
	// Unit is the unit the sensor reports in. Plain numeric lines carry no unit.
	Unit Unit
	// Setup, when not nil, receives the setup commands at New: the unit command for Unit and Oj
	// (JSON off) unless JSON is set. It is usually the same port as the reader.
	Setup io.Writer
	// JSON sends OJ instead of Oj during setup. The parser accepts both forms either way.
	JSON bool
	// Report picks the value Sample returns.
	Report Report
	// MaxSpeed bounds plausible speeds; larger magnitudes are counted as out of range and skipped.
	// What the radar can measure depends on its sampling rate: at the factory 10 ksps the Doppler
	// limit is about 31 m/s (112 km/h; faster targets alias to wrong, lower speeds, which no bound
	// here can catch), and about 310 m/s at 100 ksps. The driver does not change the sampling rate:
	// for roads faster than 110 km/h, set the radar's rate with OmniPreSense's tools first.
	MaxSpeed physic.Speed
	// Poll is the read deadline step when the reader has SetReadDeadline: Halt returns within it.
	Poll time.Duration
	// HaltTimeout bounds how long Halt waits when the reader has no SetReadDeadline (see Dev.Halt).
	HaltTimeout time.Duration
}

// DefaultOpts matches the sensor's factory settings (m/s, plain numbers) and does not write to it.
var DefaultOpts = Opts{
	Unit:        MetrePerSecond,
	Report:      Max,
	MaxSpeed:    150 * physic.MetrePerSecond,
	Poll:        200 * time.Millisecond,
	HaltTimeout: 2 * time.Second,
}

// Stats counts the reader's lines since New.
type Stats struct {
	Speeds  uint64 // Speed reports accepted.
	Ignored uint64 // JSON objects without a speed (command answers).
	Garbage uint64 // Malformed or overlong lines.
	Range   uint64 // Speeds beyond Opts.MaxSpeed.
}

// Dev is an OPS243-A radar on a UART.
type Dev struct {
	rd   *serialread.Loop
	opts Opts
	name string

	mu sync.Mutex
	// Protected by mu.
	n                 int          // Speeds since the previous Sample.
	max, latest, last physic.Speed // Since the previous Sample; last is the latest ever.
	garbage, rng      uint64       // Stats.Garbage and Stats.Range at the previous Sample.
	stats             Stats
	err               error
}

// maxLine is the longest line accepted; speed lines are under 20 bytes, JSON ones under 100.
const maxLine = 160

// New sends the setup commands to opts.Setup if set and starts reading speed reports from r. r is
// the port the board opened; the driver never closes it. If r implements SetReadDeadline the reader
// uses short deadlines so Halt can stop it.
func New(r io.Reader, opts *Opts) (*Dev, error) {
	if r == nil {
		return nil, errors.New("ops243: nil reader")
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.Unit > CentimetrePerSecond {
		return nil, fmt.Errorf("ops243: unknown %s: use MetrePerSecond, KilometrePerHour, MilePerHour, FootPerSecond or CentimetrePerSecond", o.Unit)
	}
	if o.Report > Latest {
		return nil, fmt.Errorf("ops243: unknown Report %d: use Max or Latest", o.Report)
	}
	if o.MaxSpeed <= 0 || o.Poll <= 0 || o.HaltTimeout <= 0 {
		return nil, errors.New("ops243: MaxSpeed, Poll and HaltTimeout must be positive")
	}
	if o.Setup != nil {
		// UM-003-A: unit first, then output format; commands take effect immediately.
		jc := "Oj"
		if o.JSON {
			jc = "OJ"
		}
		for _, c := range []string{o.Unit.command(), jc} {
			if _, err := io.WriteString(o.Setup, c+"\r\n"); err != nil {
				return nil, fmt.Errorf("ops243: setup %s: %w: %w", c, sensor.ErrBus, err)
			}
		}
	}
	name := o.Name
	if name == "" {
		name = "uart"
	}
	d := &Dev{rd: serialread.New(r, o.Poll), opts: o, name: "ops243(" + name + ")"}
	d.start()
	return d, nil
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

var channels = []sensor.Channel{{Name: "speed", Unit: "m/s"}}

// Channels implements sensor.Sensor: one speed in m/s, negative for receding targets when the
// sensor reports direction.
func (d *Dev) Channels() []sensor.Channel { return channels }

var (
	errNoTarget = fmt.Errorf("ops243: no target: %w", sensor.ErrNoData)
	errGarbage  = fmt.Errorf("ops243: only malformed lines since the previous sample: %w", sensor.ErrFrame)
	errRange    = fmt.Errorf("ops243: only out-of-range speeds since the previous sample: %w", sensor.ErrRange)
	errShortDst = errors.New("ops243: dst shorter than Channels()")
)

// Sample implements sensor.Sensor: the fastest (Opts.Report Max) or latest speed received since the
// previous Sample. With no speed since then it returns an error wrapping sensor.ErrFrame if
// malformed lines arrived, sensor.ErrRange if implausible speeds did, else sensor.ErrNoData (no
// target, the normal case between vehicles). After a port error it returns sensor.ErrBus.
func (d *Dev) Sample(at time.Time, dst []float64) error {
	if len(dst) < 1 {
		return errShortDst
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == 0 && d.err != nil {
		return d.err
	}
	garbage, rng := d.stats.Garbage-d.garbage, d.stats.Range-d.rng
	d.garbage, d.rng = d.stats.Garbage, d.stats.Range
	if d.n == 0 {
		switch {
		case garbage > 0:
			return errGarbage
		case rng > 0:
			return errRange
		}
		return errNoTarget
	}
	v := d.max
	if d.opts.Report == Latest {
		v = d.latest
	}
	d.n = 0
	dst[0] = float64(v) / float64(physic.MetrePerSecond)
	return nil
}

// Last returns the latest speed ever received and whether there was one.
func (d *Dev) Last() (physic.Speed, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last, d.stats.Speeds > 0
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
// With a reader that supports read deadlines the goroutine stops within Opts.Poll. Without, a
// blocked Read cannot be interrupted from here: the owner must close the port, before or after
// Halt, which ends the goroutine. Halt waits up to Opts.HaltTimeout for that and then returns an
// error wrapping sensor.ErrTimeout.
func (d *Dev) Halt() error {
	return d.rd.Stop("ops243", d.opts.HaltTimeout)
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
				d.stats.Garbage++
				d.mu.Unlock()
			default:
				line[n] = c
				n++
			}
		}
	}
	d.rd.Start(func() []byte { return buf[:] }, feed, d.fail)
}

// line handles one line without its terminator.
func (d *Dev) line(b []byte) {
	v, res := ParseLine(b, d.opts.Unit)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch res {
	case ResultSpeed:
	case ResultIgnored:
		d.stats.Ignored++
		return
	default:
		d.stats.Garbage++
		return
	}
	if v > d.opts.MaxSpeed || v < -d.opts.MaxSpeed {
		d.stats.Range++
		return
	}
	d.stats.Speeds++
	if d.n == 0 || abs(v) > abs(d.max) {
		d.max = v
	}
	d.latest, d.last = v, v
	d.n++
}

func (d *Dev) fail(err error) {
	d.mu.Lock()
	d.err = fmt.Errorf("ops243: read: %w: %w", sensor.ErrBus, err)
	d.mu.Unlock()
}

func abs(v physic.Speed) physic.Speed {
	if v < 0 {
		return -v
	}
	return v
}

var _ sensor.Sensor = (*Dev)(nil)

package pulse

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Opts is the older, periph-typed configuration of the count mode, kept for callers of New.
// Options (NewWithOptions) is the configuration of every mode.
type Opts struct {
	// Edge is the edge counted: gpio.RisingEdge, gpio.FallingEdge or gpio.BothEdges.
	Edge gpio.Edge
	// Pull is the input's pull resistor; gpio.Float for detectors that drive the line both ways.
	Pull gpio.Pull
	// Debounce drops edges closer than this to the last counted edge. 0 counts every edge.
	Debounce time.Duration
	// Rate adds a second channel, "rate" in 1/min: the count divided by the time since the previous
	// Sample.
	Rate bool
	// MaxRate is the highest edge rate the installation can produce legitimately; edges closer than
	// 1/MaxRate are counted in Stats.OverRate. 0 disables the check.
	MaxRate physic.Frequency
	// ReArm is how soon after WaitForEdge is called an edge must arrive to count as already pending
	// (Stats.Queued). It should be a little above the backend's wake-up latency.
	ReArm time.Duration
	// Poll is the WaitForEdge timeout: how often the goroutine checks whether Halt was called when
	// the pin's Halt cannot interrupt the wait. It bounds how long Halt takes. gpioioctl treats a
	// 0 timeout as "forever", so it must be positive.
	Poll time.Duration
}

// DefaultOpts is the count mode of an open-collector output: falling edge with pull-up, 20 ms
// debounce, at most 10 pulses a second.
var DefaultOpts = Opts{
	Edge:     gpio.FallingEdge,
	Pull:     gpio.PullUp,
	Debounce: 20 * time.Millisecond,
	MaxRate:  10 * physic.Hertz,
	ReArm:    50 * time.Microsecond,
	Poll:     100 * time.Millisecond,
}

// Stats are the edge loops' counters since New. All are monotonic except MinInterval.
type Stats struct {
	Edges   uint64 // Edges the pins reported.
	Counted uint64 // Vehicles (presence, speed-trap: upstream loop; axle), or pulses (count).
	Bounced uint64 // Edges dropped: debounce (axle, count), or a level reported twice (presence).
	// Rejected is presence runs shorter than MinOn (presence, speed-trap).
	Rejected uint64
	// Matched and Unmatched are speed-trap vehicles paired across the loops, and actuations seen
	// on one loop only.
	Matched, Unmatched uint64
	Queued             uint64 // Edges already pending when a loop re-armed: see "Edge timing" in the doc.
	OverRate           uint64 // Edges closer than 1/Opts.MaxRate to the previous one on their line.
	// MinInterval is the shortest time seen between two edges of one line; 0 before the second.
	MinInterval time.Duration
}

// Edge is an edge as a TimedPin reports it: when it happened and the line's level after it.
type Edge struct {
	At    time.Time
	Level gpio.Level
}

// TimedPin is a pin that knows when each edge happened, such as a GPIO character-device line
// whose kernel event timestamps are kept, or an emulator replaying a timeline
// (drivers/pulse/pulsesim). The driver uses its times and levels instead of stamping edges with
// its own clock and reading the level after each.
type TimedPin interface {
	gpio.PinIn
	// WaitForTimedEdge is WaitForEdge returning the edge.
	WaitForTimedEdge(timeout time.Duration) (Edge, bool)
}

// now is the clock seam for edge timestamps.
var now = time.Now

// Dev is a vehicle detector (or pulse counter) on one or two pins.
type Dev struct {
	pins  []gpio.PinIn
	cfg   config
	name  string
	chans []sensor.Channel
	epoch time.Time
	stop  atomic.Bool
	wg    sync.WaitGroup
	done  chan struct{}

	mu sync.Mutex
	m  *machine // mu must be held.

	// Written by the edge goroutines.
	edges, queued, overRate atomic.Uint64
	minInterval             atomic.Int64 // Nanoseconds, 0 unknown.
}

// New starts a pulse counter (ModeCount) on pin configured with opts (DefaultOpts when nil).
// It is the older constructor; NewWithOptions covers every mode.
func New(pin gpio.PinIn, opts *Opts) (*Dev, error) {
	if pin == nil {
		return nil, errors.New("pulse: nil pin")
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	switch o.Edge {
	case gpio.RisingEdge, gpio.FallingEdge, gpio.BothEdges:
	default:
		return nil, fmt.Errorf("pulse: Edge %s: use gpio.RisingEdge, gpio.FallingEdge or gpio.BothEdges", o.Edge)
	}
	if o.Debounce < 0 || o.MaxRate < 0 || o.ReArm < 0 {
		return nil, errors.New("pulse: Debounce, MaxRate and ReArm must not be negative")
	}
	if o.Poll <= 0 {
		return nil, fmt.Errorf("pulse: Poll %s must be positive, e.g. 100ms", o.Poll)
	}
	c := config{mode: ModeCount, pull: o.Pull, edge: o.Edge, debounce: o.Debounce, rate: o.Rate,
		reArm: o.ReArm, poll: o.Poll, activeLow: o.Edge == gpio.FallingEdge}
	if o.MaxRate > 0 {
		c.minGap = o.MaxRate.Period()
	}
	return startDev([]gpio.PinIn{pin}, c)
}

// NewWithOptions validates o (DefaultOptions when nil), configures the pins and starts the
// detector. pins holds one line, or two for the speed trap (upstream first). The driver does not
// own the pins: Halt stops edge detection but leaves them configured as inputs.
func NewWithOptions(pins []gpio.PinIn, o *Options) (*Dev, error) {
	if o == nil {
		o = &DefaultOptions
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if want := o.Mode.pinCount(); len(pins) != want {
		return nil, fmt.Errorf("pulse: mode %s reads %d line(s), got %d", o.Mode, want, len(pins))
	}
	for _, p := range pins {
		if p == nil {
			return nil, errors.New("pulse: nil pin")
		}
	}
	return startDev(pins, o.config())
}

func startDev(pins []gpio.PinIn, c config) (*Dev, error) {
	for _, p := range pins {
		if err := p.In(c.pull, c.edge); err != nil {
			return nil, fmt.Errorf("pulse: configure %s: %w: %w", p, sensor.ErrBus, err)
		}
	}
	d := &Dev{
		pins:  pins,
		cfg:   c,
		chans: channelsFor(c.mode, c.rate),
		m:     newMachine(&c),
		done:  make(chan struct{}),
	}
	d.name = "pulse(" + pins[0].String()
	for _, p := range pins[1:] {
		d.name += "," + p.String()
	}
	d.name += ")"
	d.epoch = now()
	if c.mode == ModePresence || c.mode == ModeSpeedTrap {
		for i, p := range pins {
			d.m.loops[i].start(0, d.active(p.Read()))
		}
	}
	d.wg.Add(len(pins))
	for i := range pins {
		go d.run(i)
	}
	go func() { d.wg.Wait(); close(d.done) }()
	return d, nil
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// Channels implements sensor.Sensor; they depend on the mode (see the package doc).
func (d *Dev) Channels() []sensor.Channel { return d.chans }

var errShortDst = errors.New("pulse: dst shorter than Channels()")

// Sample implements sensor.Sensor: the aggregates of the interval since the previous Sample (since
// New for the first), closed at at. It never waits for the edge goroutines beyond the short
// critical section they hold per edge, and does not allocate.
func (d *Dev) Sample(at time.Time, dst []float64) error {
	if len(dst) < len(d.chans) {
		return errShortDst
	}
	d.mu.Lock()
	d.m.sample(at.Sub(d.epoch), dst[:len(d.chans)])
	d.mu.Unlock()
	return nil
}

// Count returns the vehicles (or pulses in the count mode) counted since New.
func (d *Dev) Count() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.countLocked()
}

func (d *Dev) countLocked() uint64 {
	if d.cfg.mode == ModeCount || d.cfg.mode == ModeAxle {
		if d.cfg.mode == ModeAxle {
			return d.m.axles.vehiclesTotal
		}
		return d.m.axles.total
	}
	return d.m.lanes[0].vehicles
}

// Stats returns the edge loops' counters. Edges is read last: a goroutine counts an edge there
// after its other effects, so a snapshot never shows the effects of an edge it does not count.
func (d *Dev) Stats() Stats {
	d.mu.Lock()
	s := Stats{
		Counted:   d.countLocked(),
		Bounced:   d.m.axles.bounced + d.m.lanes[0].dups + d.m.lanes[1].dups,
		Rejected:  d.m.lanes[0].rejected + d.m.lanes[1].rejected,
		Matched:   d.m.trap.totalPairs,
		Unmatched: d.m.trap.totalUnm,
	}
	d.mu.Unlock()
	s.Queued = d.queued.Load()
	s.OverRate = d.overRate.Load()
	s.MinInterval = time.Duration(d.minInterval.Load())
	s.Edges = d.edges.Load()
	return s
}

// MaxObservedRate is the fastest edge rate seen, 1/Stats.MinInterval; 0 before two edges.
func (d *Dev) MaxObservedRate() physic.Frequency {
	mi := d.minInterval.Load()
	if mi <= 0 {
		return 0
	}
	return physic.Frequency(math.Round(float64(physic.Hertz) * float64(time.Second) / float64(mi)))
}

// Halt implements sensor.Sensor: it stops the edge goroutines and waits for them. It calls each
// pin's Halt, which interrupts a pending WaitForEdge on gpioioctl; other backends return within
// the poll period (Opts.Poll, 100 ms).
func (d *Dev) Halt() error {
	d.stop.Store(true)
	var errs []error
	for _, p := range d.pins {
		if err := p.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("pulse: halt %s: %w: %w", p, sensor.ErrBus, err))
		}
	}
	limit := d.cfg.poll + time.Second
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-d.done:
	case <-t.C:
		return fmt.Errorf("pulse: halt: edge loop still running after %s: %w", limit, sensor.ErrTimeout)
	}
	return errors.Join(errs...)
}

func (d *Dev) active(l gpio.Level) bool { return l == gpio.Level(!d.cfg.activeLow) }

// run is line i's edge goroutine.
func (d *Dev) run(i int) {
	defer d.wg.Done()
	pin := d.pins[i]
	timed, _ := pin.(TimedPin)
	levels := d.cfg.mode == ModePresence || d.cfg.mode == ModeSpeedTrap
	var prev time.Time
	for !d.stop.Load() {
		armed := now()
		var e Edge
		var ok bool
		if timed != nil {
			e, ok = timed.WaitForTimedEdge(d.cfg.poll)
		} else if ok = pin.WaitForEdge(d.cfg.poll); ok {
			// periph's WaitForEdge returns no timestamp and no level: stamp the edge now and read
			// the level after it (see "Edge timing" in the package doc).
			e.At = now()
			if levels {
				e.Level = pin.Read()
			}
		}
		if !ok {
			continue
		}
		if d.stop.Load() {
			// pin.Halt interrupted the wait; gpioioctl reports that as no edge, other backends
			// might not.
			return
		}
		if timed == nil && e.At.Sub(armed) <= d.cfg.reArm {
			d.queued.Add(1)
		}
		if !prev.IsZero() {
			gap := e.At.Sub(prev)
			if mi := d.minInterval.Load(); mi == 0 || int64(gap) < mi {
				d.minInterval.Store(max(int64(gap), 1))
			}
			if d.cfg.minGap > 0 && gap < d.cfg.minGap {
				d.overRate.Add(1)
			}
		}
		prev = e.At
		t := e.At.Sub(d.epoch)
		d.mu.Lock()
		if levels {
			if d.m.level(i, t, d.active(e.Level)) {
				d.m.lanes[i].dups++
			}
		} else if timed == nil || d.cfg.edge == gpio.BothEdges || d.active(e.Level) {
			// A TimedPin reports both edges; the pin was asked for the activating one only.
			d.m.pulse(t)
		}
		d.mu.Unlock()
		// Counted after the edge's other effects: a reader that sees Edges == n sees all of edge n.
		d.edges.Add(1)
	}
}

var _ sensor.Sensor = (*Dev)(nil)

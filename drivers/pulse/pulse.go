package pulse

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Opts configures a Dev.
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

// DefaultOpts suits a loop detector card with an open-collector output: falling edge with pull-up,
// 20 ms debounce, at most 10 vehicles a second.
var DefaultOpts = Opts{
	Edge:     gpio.FallingEdge,
	Pull:     gpio.PullUp,
	Debounce: 20 * time.Millisecond,
	MaxRate:  10 * physic.Hertz,
	ReArm:    50 * time.Microsecond,
	Poll:     100 * time.Millisecond,
}

// Stats are the edge loop's counters since New. All are monotonic except MinInterval.
type Stats struct {
	Edges    uint64 // Edges WaitForEdge reported.
	Counted  uint64 // Edges counted as pulses.
	Bounced  uint64 // Edges dropped by the debounce.
	Queued   uint64 // Edges already pending when the loop re-armed: see "Missed edges" in the doc.
	OverRate uint64 // Edges closer than 1/Opts.MaxRate to the previous edge.
	// MinInterval is the shortest time seen between two edges; 0 before the second edge.
	MinInterval time.Duration
}

// now is the clock seam for edge timestamps and rates.
var now = time.Now

// Dev counts pulses on one pin.
type Dev struct {
	pin     gpio.PinIn
	opts    Opts
	name    string
	chans   []sensor.Channel
	minGap  time.Duration // 1/MaxRate, 0 when disabled.
	stop    atomic.Bool
	done    chan struct{}
	started time.Time

	// Written by the edge goroutine, read by Sample and Stats.
	edges, counted, bounced, queued, overRate atomic.Uint64
	minInterval                               atomic.Int64 // Nanoseconds, 0 unknown.

	// Sample's state: Sample is called from one goroutine at a time (sensor.Sensor).
	lastCount uint64
	lastAt    time.Time
}

// New configures pin as an input with opts.Pull and opts.Edge and starts counting. The driver does
// not own the pin: Halt stops edge detection but leaves the pin configured as input.
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
	if err := pin.In(o.Pull, o.Edge); err != nil {
		return nil, fmt.Errorf("pulse: configure %s: %w: %w", pin, sensor.ErrBus, err)
	}
	d := &Dev{
		pin:   pin,
		opts:  o,
		name:  "pulse(" + pin.String() + ")",
		chans: []sensor.Channel{{Name: "count", Unit: "count"}},
		done:  make(chan struct{}),
	}
	if o.Rate {
		// RFC 8798 registers "1/min", events per minute.
		d.chans = append(d.chans, sensor.Channel{Name: "rate", Unit: "1/min"})
	}
	if o.MaxRate > 0 {
		d.minGap = o.MaxRate.Period()
	}
	d.started = now()
	d.lastAt = d.started
	go d.run()
	return d, nil
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// Channels implements sensor.Sensor: "count", and "rate" when Opts.Rate.
func (d *Dev) Channels() []sensor.Channel { return d.chans }

var errShortDst = errors.New("pulse: dst shorter than Channels()")

// Sample implements sensor.Sensor: the pulses counted since the previous Sample (since New for the
// first) and, with Opts.Rate, that count per minute over the same interval measured with at.
// It never blocks on the edge goroutine and does not allocate.
func (d *Dev) Sample(at time.Time, dst []float64) error {
	if len(dst) < len(d.chans) {
		return errShortDst
	}
	c := d.counted.Load()
	n := c - d.lastCount
	d.lastCount = c
	dst[0] = float64(n)
	if d.opts.Rate {
		dst[1] = 0
		if el := at.Sub(d.lastAt); el > 0 {
			dst[1] = float64(n) / el.Minutes()
		}
	}
	d.lastAt = at
	return nil
}

// Count returns the pulses counted since New.
func (d *Dev) Count() uint64 { return d.counted.Load() }

// Stats returns the edge loop's counters. Edges is read last: the loop counts an edge there after its
// other effects, so Counted+Bounced never exceeds Edges in a snapshot.
func (d *Dev) Stats() Stats {
	s := Stats{
		Counted:     d.counted.Load(),
		Bounced:     d.bounced.Load(),
		Queued:      d.queued.Load(),
		OverRate:    d.overRate.Load(),
		MinInterval: time.Duration(d.minInterval.Load()),
	}
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

// Halt implements sensor.Sensor: it stops the edge goroutine and waits for it. It calls the pin's
// Halt, which interrupts a pending WaitForEdge on gpioioctl; other backends return within
// Opts.Poll.
func (d *Dev) Halt() error {
	d.stop.Store(true)
	err := d.pin.Halt()
	limit := d.opts.Poll + time.Second
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-d.done:
	case <-t.C:
		return fmt.Errorf("pulse: halt: edge loop still running after %s: %w", limit, sensor.ErrTimeout)
	}
	if err != nil {
		return fmt.Errorf("pulse: halt %s: %w: %w", d.pin, sensor.ErrBus, err)
	}
	return nil
}

// run is the edge goroutine. It is the only writer of the counters.
func (d *Dev) run() {
	defer close(d.done)
	var s edgeState
	for !d.stop.Load() {
		armed := now()
		if !d.pin.WaitForEdge(d.opts.Poll) {
			continue
		}
		if d.stop.Load() {
			// pin.Halt interrupted the wait; gpioioctl reports that as no edge, other backends
			// might not.
			return
		}
		d.edge(&s, now(), armed)
		// Counted after the edge's other effects: a reader that sees Edges == n sees all of edge n.
		d.edges.Add(1)
	}
}

// edgeState is what the edge goroutine remembers between edges.
type edgeState struct {
	prev, last    time.Time // previous edge, last counted edge
	seen, counted bool      // whether there has been an edge, a counted edge
}

// edge classifies one edge at t, the loop having re-armed at armed.
func (d *Dev) edge(s *edgeState, t, armed time.Time) {
	queued := t.Sub(armed) <= d.opts.ReArm
	if s.seen {
		gap := t.Sub(s.prev)
		if mi := d.minInterval.Load(); mi == 0 || int64(gap) < mi {
			d.minInterval.Store(max(int64(gap), 1))
		}
		if d.minGap > 0 && gap < d.minGap {
			d.overRate.Add(1)
		}
	}
	s.prev, s.seen = t, true
	if s.counted && t.Sub(s.last) < d.opts.Debounce {
		d.bounced.Add(1)
		return
	}
	if queued {
		// Only counted edges matter: a queued bounce is harmless, a queued pulse means the loop
		// was late and its timestamp is unreliable.
		d.queued.Add(1)
	}
	s.last, s.counted = t, true
	d.counted.Add(1)
}

var _ sensor.Sensor = (*Dev)(nil)

// Package pulsesim emulates what the pulse driver's lines see: it turns vehicles (when they
// arrive, how fast, how long, where their axles are) into the edge timeline of each detector, and
// Pin replays a timeline to the driver through pulse.TimedPin, so a simulated board or a test
// drives the real state machines with exact edge times.
//
// Geometry (Traffic Detector Handbook, 3rd ed., FHWA-HRT-06-108, chapter 2): a loop detects a
// vehicle while any part of it is over the loop's detection zone, so a vehicle of length L at
// speed v over a zone of effective length Le is present for (L + Le) / v, starting when its front
// reaches the zone's leading edge. The downstream loop of a speed trap is Spacing metres further
// (leading edge to leading edge). An axle sensor gives one pulse per axle as it crosses.
package pulsesim

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/wayside-iot/wayside/drivers/pulse"
)

// Vehicle is one vehicle crossing the site at a constant speed.
type Vehicle struct {
	// Front is when the front bumper reaches the first detector's leading edge (the upstream loop,
	// or the axle sensor).
	Front time.Time
	// Speed in m/s; must be positive.
	Speed float64
	// Length in m, bumper to bumper.
	Length float64
	// Axles are the axles' distances from the front bumper, m. Nil means a car: two axles, 0.9 m
	// behind the front and 0.9 m before the rear.
	Axles []float64
}

// Line is one detector line as the driver is configured for it.
type Line struct {
	// Offset is the detector's leading edge in metres after the first detector's (0 upstream,
	// the trap spacing downstream).
	Offset float64
	// LoopLength is the loop's effective detection zone along the lane, m (presence lines).
	LoopLength float64
	// ActiveLow: the line reads low while detecting (pulse option active: low).
	ActiveLow bool
	// AxlePulse is how long an axle sensor stays active per axle (axle lines), e.g. 10 ms.
	AxlePulse time.Duration
}

func (l *Line) levels() (active, idle gpio.Level) {
	if l.ActiveLow {
		return gpio.Low, gpio.High
	}
	return gpio.High, gpio.Low
}

func at(t time.Time, metres, speed float64) time.Time {
	return t.Add(time.Duration(metres / speed * float64(time.Second)))
}

// Presence appends to dst the edges a loop detector output on line l produces for vs, which are in
// order of Front, and returns the extended slice (no allocation when dst has the capacity: two
// edges per vehicle). Presences that overlap (vehicles closer than the loop can separate) merge,
// as they do on a real loop.
func Presence(dst []pulse.Edge, vs []Vehicle, l Line) []pulse.Edge {
	active, idle := l.levels()
	start := len(dst)
	for i := range vs {
		v := &vs[i]
		on := at(v.Front, l.Offset, v.Speed)
		off := at(v.Front, l.Offset+l.LoopLength+v.Length, v.Speed)
		if n := len(dst); n > start && !on.After(dst[n-1].At) {
			if off.After(dst[n-1].At) {
				dst[n-1].At = off // Still present: the previous presence lasts longer.
			}
			continue
		}
		dst = append(dst, pulse.Edge{At: on, Level: active}, pulse.Edge{At: off, Level: idle})
	}
	return dst
}

// Axles appends to dst the edges an axle sensor on line l produces for vs (in order of Front): a
// pulse of l.AxlePulse per axle. Pulses that would overlap merge.
func Axles(dst []pulse.Edge, vs []Vehicle, l Line) []pulse.Edge {
	active, idle := l.levels()
	start := len(dst)
	for i := range vs {
		v := &vs[i]
		axles := v.Axles
		if axles == nil {
			axles = []float64{0.9, v.Length - 0.9}
		}
		for _, x := range axles {
			on := at(v.Front, l.Offset+x, v.Speed)
			off := on.Add(l.AxlePulse)
			if n := len(dst); n > start && !on.After(dst[n-1].At) {
				dst[n-1].At = off
				continue
			}
			dst = append(dst, pulse.Edge{At: on, Level: active}, pulse.Edge{At: off, Level: idle})
		}
	}
	return dst
}

// ErrHalted is returned by Feed after the driver halted the pin.
var ErrHalted = errors.New("pulsesim: pin halted")

// Pin is an emulated detector line implementing pulse.TimedPin: Feed hands it a timeline, the
// driver's goroutine takes the edges one by one with their times and levels.
type Pin struct {
	name   string
	level  atomic.Bool // true: High
	work   chan []pulse.Edge
	done   chan struct{}
	closed chan struct{}
	once   sync.Once

	// The driver's goroutine's side.
	cur   []pulse.Edge
	owed  bool
	timer *time.Timer
}

// NewPin returns a line named name that reads idle until its first edge.
func NewPin(name string, idle gpio.Level) *Pin {
	p := &Pin{name: name, work: make(chan []pulse.Edge), done: make(chan struct{}), closed: make(chan struct{})}
	p.level.Store(bool(idle))
	return p
}

// Feed gives the driver edges (in time order) and returns once its goroutine has applied all of
// them and is waiting for more: a Sample after Feed sees every edge. edges must not change until
// Feed returns. It does not allocate.
func (p *Pin) Feed(edges []pulse.Edge) error {
	if len(edges) == 0 {
		return nil
	}
	select {
	case p.work <- edges:
	case <-p.closed:
		return ErrHalted
	}
	select {
	case <-p.done:
		return nil
	case <-p.closed:
		return ErrHalted
	}
}

// WaitForTimedEdge implements pulse.TimedPin.
func (p *Pin) WaitForTimedEdge(timeout time.Duration) (pulse.Edge, bool) {
	if len(p.cur) == 0 {
		if p.owed {
			// Back for more after the batch's last edge: it has been applied.
			p.owed = false
			select {
			case p.done <- struct{}{}:
			case <-p.closed:
				return pulse.Edge{}, false
			}
		}
		var expire <-chan time.Time
		if timeout > 0 {
			if p.timer == nil {
				p.timer = time.NewTimer(timeout)
			} else {
				p.timer.Reset(timeout)
			}
			defer p.timer.Stop()
			expire = p.timer.C
		}
		select {
		case p.cur = <-p.work:
			p.owed = true
		case <-p.closed:
			return pulse.Edge{}, false
		case <-expire:
			return pulse.Edge{}, false
		}
	}
	e := p.cur[0]
	p.cur = p.cur[1:]
	p.level.Store(bool(e.Level))
	return e, true
}

// WaitForEdge implements gpio.PinIn.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	_, ok := p.WaitForTimedEdge(timeout)
	return ok
}

func (p *Pin) String() string                { return "sim-" + p.name }
func (p *Pin) Name() string                  { return p.name }
func (p *Pin) Number() int                   { return -1 }
func (p *Pin) Function() string              { return "In" }
func (p *Pin) In(gpio.Pull, gpio.Edge) error { return nil }
func (p *Pin) Read() gpio.Level              { return gpio.Level(p.level.Load()) }
func (p *Pin) Pull() gpio.Pull               { return gpio.PullNoChange }
func (p *Pin) DefaultPull() gpio.Pull        { return gpio.PullNoChange }

// Halt implements gpio.PinIn: it ends pending and later waits and feeds.
func (p *Pin) Halt() error { p.once.Do(func() { close(p.closed) }); return nil }

var _ pulse.TimedPin = (*Pin)(nil)

// FeedLines feeds the timelines of several lines of one driver (one per pin, each in time order)
// in global time order: the driver's state machine takes edges in the order they arrive, and the
// speed trap pairs the lines by time. Consecutive edges of one line go in one Feed. It does not
// allocate.
func FeedLines(pins []*Pin, lines [][]pulse.Edge) error {
	if len(pins) != len(lines) {
		return errors.New("pulsesim: FeedLines: one timeline per pin")
	}
	var next [4]int
	if len(pins) > len(next) {
		return errors.New("pulsesim: FeedLines: at most 4 lines")
	}
	for {
		// The line with the earliest pending edge, and how far it stays earliest.
		best := -1
		for i, l := range lines {
			if next[i] < len(l) && (best < 0 || l[next[i]].At.Before(lines[best][next[best]].At)) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		l := lines[best]
		end := next[best] + 1
		for ; end < len(l); end++ {
			other := false
			for i, o := range lines {
				if i != best && next[i] < len(o) && o[next[i]].At.Before(l[end].At) {
					other = true
				}
			}
			if other {
				break
			}
		}
		if err := pins[best].Feed(l[next[best]:end]); err != nil {
			return err
		}
		next[best] = end
	}
}

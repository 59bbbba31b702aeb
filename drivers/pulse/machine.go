package pulse

import (
	"math"
	"time"
)

// This file is the pure part of the driver: state machines fed with timestamped edges, no
// goroutines, no clock, no pins. Times are durations since the device's epoch (New), so tests can
// write timelines out exactly ("edges at 0, 1 and 3 ms"). Nothing here allocates after newMachine.

// loop is the presence state machine of one detector line (see "Presence" in the package doc).
//
// A run is a stretch of presence: it starts at the first active edge (its front), absorbs every
// inactive stretch shorter than minOff (closing bounce, release chatter, a trailer's dropout) and
// ends at the inactive edge (its rear) that starts an inactive stretch of at least minOff. A run
// shorter than minOn from front to rear is rejected as noise; a longer one is a vehicle. Each
// decision is taken as soon as it is certain: a vehicle is confirmed at front+minOn if the line is
// still active then, or at the active edge that ends a short dropout after front+minOn; a run
// ends minOff after its rear.
type loop struct {
	minOn, minOff time.Duration

	seen      bool          // the line's level is known
	raw       bool          // the line is active (a vehicle is over the loop, before filtering)
	rawAt     time.Duration // when raw last changed
	inRun     bool
	front     time.Duration
	confirmed bool // the run is a vehicle
	partial   bool // the run was in progress when the driver started: its front is unknown
	acc       time.Duration
	// acc: presence of a confirmed run is added to the lane's occupancy up to acc; the rest is
	// not decided yet (the line went inactive at rawAt < now, less than minOff ago).
}

// run is a finished vehicle run on one loop.
type run struct {
	front, rear time.Duration
	partial     bool
}

// lane accumulates one loop's vehicles over the current interval.
type lane struct {
	volume       int
	occ          time.Duration
	hwSum, gpSum time.Duration
	hwN, gpN     int

	lastFront, lastRear time.Duration
	haveFront, haveRear bool

	vehicles, rejected, dups uint64 // Since New.
}

func (ln *lane) arrive(front time.Duration) {
	ln.volume++
	ln.vehicles++
	if ln.haveFront {
		// HCM: headway, front to front of successive vehicles.
		ln.hwSum += front - ln.lastFront
		ln.hwN++
	}
	if ln.haveRear && ln.lastRear <= front {
		// HCM: gap, rear of the leading vehicle to front of the following one.
		ln.gpSum += front - ln.lastRear
		ln.gpN++
	}
	ln.lastFront, ln.haveFront = front, true
}

func (ln *lane) reset() {
	ln.volume, ln.occ, ln.hwSum, ln.gpSum, ln.hwN, ln.gpN = 0, 0, 0, 0, 0, 0
}

// start sets the line's level when the driver starts: a line already active is a vehicle already
// over the loop, whose occupancy counts but which is not a new vehicle.
func (l *loop) start(t time.Duration, active bool) {
	l.seen, l.raw, l.rawAt = true, active, t
	if active {
		l.inRun, l.front, l.confirmed, l.partial, l.acc = true, t, true, true, t
	}
}

func (l *loop) confirm(ln *lane, at time.Duration) {
	l.confirmed = true
	ln.arrive(l.front)
	ln.occ += at - l.acc
	l.acc = at
}

// pendingEnd is when the current run ends if the line stays inactive, or -1.
func (l *loop) pendingEnd() time.Duration {
	if l.inRun && !l.raw {
		return l.rawAt + l.minOff
	}
	return -1
}

// advance takes the decisions that time t makes certain. ended reports a vehicle run that ended.
func (l *loop) advance(ln *lane, t time.Duration) (r run, ended bool) {
	if !l.inRun {
		return r, false
	}
	if l.raw {
		if !l.confirmed && t-l.front >= l.minOn {
			l.confirm(ln, l.front+l.minOn)
		}
		if l.confirmed {
			ln.occ += t - l.acc
			l.acc = t
		}
		return r, false
	}
	if t-l.rawAt < l.minOff {
		return r, false // The dropout may still be a bounce: nothing after rawAt is decided.
	}
	l.inRun = false
	if !l.confirmed {
		ln.rejected++ // Front to rear shorter than minOn: noise.
		return r, false
	}
	ln.occ += l.rawAt - l.acc
	ln.lastRear, ln.haveRear = l.rawAt, true
	return run{front: l.front, rear: l.rawAt, partial: l.partial}, true
}

// edge applies the line's level after an edge at t; duplicates (the same level again) are
// harmless. The caller has advanced the loop to t.
func (l *loop) edge(ln *lane, t time.Duration, active bool) (dup bool) {
	if l.seen && active == l.raw {
		return true
	}
	l.seen, l.raw, l.rawAt = true, active, t
	if !active {
		return false
	}
	if !l.inRun {
		l.inRun, l.front, l.confirmed, l.partial, l.acc = true, t, false, false, t
	} else if l.confirmed {
		ln.occ += t - l.acc // The dropout was shorter than minOff: presence throughout.
		l.acc = t
	}
	if !l.confirmed && t-l.front >= l.minOn {
		l.confirm(ln, t)
	}
	return false
}

// trap pairs the runs of two loops into vehicles with a speed and a length (see "Speed trap" in
// the package doc).
type trap struct {
	spacing, loopLength float64       // m
	tmin, tmax          time.Duration // travel time bounds from max and min speed

	pend       [16]run // upstream runs waiting for their downstream one, oldest first
	head, n    int
	matched    int
	unmatched  int
	speedSum   float64
	lengthSum  float64
	hist       []uint32 // matched speeds in 0.1 m/s bins: bin i holds [i-0.5, i+0.5) × 0.1 m/s
	totalPairs uint64
	totalUnm   uint64
}

// speedBin is the histogram resolution, m/s.
const speedBin = 0.1

func (tr *trap) unmatch() { tr.unmatched++; tr.totalUnm++ }

func (tr *trap) pop() run {
	r := tr.pend[tr.head]
	tr.head = (tr.head + 1) % len(tr.pend)
	tr.n--
	return r
}

// upstream queues a vehicle run of loop A.
func (tr *trap) upstream(r run) {
	if r.partial {
		return
	}
	if tr.n == len(tr.pend) {
		tr.pop()
		tr.unmatch()
	}
	tr.pend[(tr.head+tr.n)%len(tr.pend)] = r
	tr.n++
}

// expire drops the upstream runs whose downstream front can no longer come: t is past front+tmax
// and loop B has no run in progress that started within the window (bFront, or -1 without one).
func (tr *trap) expire(t, bFront time.Duration) {
	for tr.n > 0 {
		a := tr.pend[tr.head]
		limit := a.front + tr.tmax
		if t <= limit || (bFront >= 0 && bFront <= limit) {
			return
		}
		tr.pop()
		tr.unmatch()
	}
}

// downstream pairs a vehicle run of loop B with the oldest upstream run whose front is between
// tmin and tmax before B's.
func (tr *trap) downstream(b run) {
	if b.partial {
		return
	}
	for tr.n > 0 && b.front-tr.pend[tr.head].front > tr.tmax {
		tr.pop()
		tr.unmatch() // Seen upstream only (lane change, missed downstream).
	}
	if tr.n == 0 {
		tr.unmatch()
		return
	}
	if dt := b.front - tr.pend[tr.head].front; dt < tr.tmin {
		tr.unmatch() // Seen downstream only, or faster than max_speed.
		return
	}
	a := tr.pop()
	// Traffic Detector Handbook: speed = spacing / (t_on,B - t_on,A); length = speed × on-time -
	// effective loop length, the on-time being the mean of both loops'.
	speed := tr.spacing / (b.front - a.front).Seconds()
	on := ((a.rear - a.front) + (b.rear - b.front)).Seconds() / 2
	tr.matched++
	tr.totalPairs++
	tr.speedSum += speed
	tr.lengthSum += speed*on - tr.loopLength
	i := int(math.Round(speed / speedBin))
	i = min(max(i, 0), len(tr.hist)-1)
	tr.hist[i]++
}

// p85 is the 85th percentile of the interval's matched speeds by the nearest-rank method
// (Hyndman & Fan 1996, definition 1): the smallest binned speed with at least ceil(0.85 n) speeds
// at or below it. 0 when no vehicle matched.
func (tr *trap) p85() float64 {
	if tr.matched == 0 {
		return 0
	}
	rank := uint32((85*tr.matched + 99) / 100)
	var c uint32
	for i, h := range tr.hist {
		c += h
		if c >= rank {
			return float64(i) * speedBin
		}
	}
	return float64(len(tr.hist)-1) * speedBin
}

func (tr *trap) reset() {
	tr.matched, tr.unmatched, tr.speedSum, tr.lengthSum = 0, 0, 0, 0
	clear(tr.hist)
}

// axles groups pulses (count and axle modes): an edge closer than debounce to the last counted
// one is a bounce; a counted pulse starts a new vehicle when it comes gap or more after the
// previous one.
type axles struct {
	debounce, gap time.Duration
	last          time.Duration
	have          bool
	pulses        int
	vehicles      int
	total         uint64 // pulses since New
	vehiclesTotal uint64
	bounced       uint64
}

func (a *axles) pulse(t time.Duration) {
	if a.have && t-a.last < a.debounce {
		a.bounced++
		return
	}
	if !a.have || t-a.last >= a.gap {
		a.vehicles++
		a.vehiclesTotal++
	}
	a.last, a.have = t, true
	a.pulses++
	a.total++
}

// machine is the whole detector: one or two loops or a pulse counter, and the interval's
// aggregates. Its owner serialises calls (Dev holds a mutex).
type machine struct {
	mode  Mode
	last  time.Duration // latest time seen: time never goes back
	loops [2]loop
	lanes [2]lane
	trap  trap
	axles axles
	from  time.Duration // start of the current interval
}

func newMachine(c *config) *machine {
	m := &machine{mode: c.mode}
	for i := range m.loops {
		m.loops[i].minOn, m.loops[i].minOff = c.minOn, c.minOff
	}
	if c.mode == ModeSpeedTrap {
		m.trap.spacing, m.trap.loopLength = c.spacing, c.loopLength
		m.trap.tmin = time.Duration(c.spacing / c.maxSpeed * float64(time.Second))
		m.trap.tmax = time.Duration(c.spacing / c.minSpeed * float64(time.Second))
		m.trap.hist = make([]uint32, int(math.Round(c.maxSpeed/speedBin))+1)
	}
	m.axles.debounce, m.axles.gap = c.debounce, c.axleGap
	if c.mode == ModeCount {
		m.axles.gap = 0 // Every pulse is its own "vehicle"; only pulses are reported.
	}
	return m
}

func (m *machine) clamp(t time.Duration) time.Duration {
	if t < m.last {
		return m.last // An edge stamped before one already applied (two lines, two goroutines).
	}
	m.last = t
	return t
}

// advance takes every decision time t makes certain, in time order across the loops.
func (m *machine) advance(t time.Duration) {
	t = m.clamp(t)
	switch m.mode {
	case ModePresence:
		m.loops[0].advance(&m.lanes[0], t)
	case ModeSpeedTrap:
		// Runs end minOff after their rear; process the ends before t in order so that an upstream
		// run is queued before the downstream run of the same vehicle is paired.
		for {
			ea, eb := m.loops[0].pendingEnd(), m.loops[1].pendingEnd()
			i, e := 0, ea
			if eb >= 0 && (ea < 0 || eb < ea) {
				i, e = 1, eb
			}
			if e < 0 || e > t {
				break
			}
			m.step(i, e)
		}
		m.step(0, t)
		m.step(1, t)
		bFront := time.Duration(-1)
		if b := &m.loops[1]; b.inRun {
			bFront = b.front
		}
		m.trap.expire(t, bFront)
	}
}

// step advances loop i to t and hands a finished run to the trap.
func (m *machine) step(i int, t time.Duration) {
	r, ended := m.loops[i].advance(&m.lanes[i], t)
	if !ended || m.mode != ModeSpeedTrap {
		return
	}
	if i == 0 {
		m.trap.upstream(r)
	} else {
		m.trap.downstream(r)
	}
}

// level applies line i's level after an edge at t (presence and speed-trap modes).
func (m *machine) level(i int, t time.Duration, active bool) (dup bool) {
	m.advance(t)
	return m.loops[i].edge(&m.lanes[i], m.last, active)
}

// pulse applies an activating edge at t (count and axle modes).
func (m *machine) pulse(t time.Duration) {
	m.axles.pulse(m.clamp(t))
}

// sample closes the interval at t, writes the mode's channels to dst (len(channels(mode))) and
// starts the next interval.
func (m *machine) sample(t time.Duration, dst []float64) {
	m.advance(t)
	t = m.last
	span := t - m.from
	m.from = t
	switch m.mode {
	case ModeCount:
		dst[0] = float64(m.axles.pulses)
		if len(dst) > 1 {
			dst[1] = 0
			if span > 0 {
				dst[1] = float64(m.axles.pulses) / span.Minutes()
			}
		}
		m.axles.pulses, m.axles.vehicles = 0, 0
		return
	case ModeAxle:
		dst[0], dst[1] = float64(m.axles.vehicles), float64(m.axles.pulses)
		m.axles.pulses, m.axles.vehicles = 0, 0
		return
	}
	ln := &m.lanes[0]
	dst[0] = float64(ln.volume)
	dst[1] = 0
	if span > 0 {
		// Occupancy: percent of the interval with presence on. Time that was still undecided at
		// the previous boundary is counted when decided, so a sum can exceed the span slightly.
		dst[1] = min(100, 100*ln.occ.Seconds()/span.Seconds())
	}
	dst[2], dst[3] = mean(ln.hwSum, ln.hwN), mean(ln.gpSum, ln.gpN)
	ln.reset()
	m.lanes[1].reset()
	if m.mode != ModeSpeedTrap {
		return
	}
	tr := &m.trap
	dst[4] = float64(tr.matched)
	dst[5], dst[6], dst[7] = 0, tr.p85(), 0
	if tr.matched > 0 {
		dst[5] = tr.speedSum / float64(tr.matched)
		dst[7] = tr.lengthSum / float64(tr.matched)
	}
	dst[8] = float64(tr.unmatched)
	tr.reset()
}

func mean(sum time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return sum.Seconds() / float64(n)
}

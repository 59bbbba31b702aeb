package sensor

import (
	"errors"
	"sync"
	"time"
)

// State is a sensor's health.
type State uint8

// Health states: a sensor is OK after a good read, Degraded after a failed one, Failing after
// FailAfter failed reads in a row, when the gateway backs off its sampling until a read succeeds.
const (
	StateOK State = iota
	StateDegraded
	StateFailing
)

func (s State) String() string {
	switch s {
	case StateOK:
		return "ok"
	case StateDegraded:
		return "degraded"
	case StateFailing:
		return "failing"
	}
	return "unknown"
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// errorKinds lists the fault kinds once: the sentinel drivers wrap, and the name the health counts,
// the local API and the CLI show (the local API's JSON carries these names: do not rename them). Its
// order is ErrorsByKind's; errors that wrap none of them count as OtherKind, after them.
var errorKinds = [...]struct {
	err  error
	name string
}{
	{ErrBus, "bus"}, {ErrTimeout, "timeout"}, {ErrCRC, "crc"}, {ErrFrame, "frame"}, {ErrRange, "range"},
	{ErrStuck, "stuck"}, {ErrException, "exception"},
}

// The names of the errors that are no fault kind: those that wrap none of the sentinels, and ErrNoData.
const (
	OtherKind  = "other"
	NoDataKind = "no-data"
)

// ErrorKindNames names ErrorsByKind's entries: the fault kinds' names, then OtherKind.
var ErrorKindNames = func() (names [len(errorKinds) + 1]string) {
	for i, k := range errorKinds {
		names[i] = k.name
	}
	names[len(errorKinds)] = OtherKind
	return names
}()

// KindName names the kind of error err wraps: a fault kind's name, NoDataKind, or OtherKind.
func KindName(err error) string {
	if errors.Is(err, ErrNoData) {
		return NoDataKind
	}
	return ErrorKindNames[kindIndex(err)]
}

// kindIndex is err's index in ErrorsByKind: the first fault kind it wraps, else OtherKind's.
func kindIndex(err error) int {
	for i, k := range errorKinds {
		if errors.Is(err, k.err) {
			return i
		}
	}
	return len(errorKinds)
}

// Health tracks one sensor's reads. Record is called by the sensor's sampler; Snapshot by anyone.
type Health struct {
	// FailAfter is how many failed reads in a row make a sensor Failing (default 5).
	FailAfter int
	// MaxBackoff caps the sampling interval of a Failing sensor (default 5 minutes).
	MaxBackoff time.Duration

	mu          sync.Mutex
	state       State
	consecutive int
	snap        HealthSnapshot
}

// HealthSnapshot is a copy of a sensor's health.
type HealthSnapshot struct {
	State        State
	Reads        uint64 // attempted reads
	Good         uint64 // reads that produced values
	NoData       uint64 // reads with nothing new (not a fault)
	Errors       uint64
	ErrorsByKind [len(ErrorKindNames)]uint64
	LastError    string
	LastErrorAt  time.Time
	LastGoodAt   time.Time
	Consecutive  int // failed reads in a row
}

// Record accounts one read that ended with err (nil for a good read) at at. It reports the state
// before and after, so the caller can log a change once.
func (h *Health) Record(err error, at time.Time) (from, to State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	from = h.state
	h.snap.Reads++
	switch {
	case err == nil:
		h.snap.Good++
		h.snap.LastGoodAt = at
		h.consecutive = 0
		h.state = StateOK
	case errors.Is(err, ErrNoData):
		h.snap.NoData++
	default:
		h.snap.Errors++
		h.snap.ErrorsByKind[kindIndex(err)]++
		h.snap.LastError = err.Error()
		h.snap.LastErrorAt = at
		h.consecutive++
		h.state = StateDegraded
		if h.consecutive >= h.failAfter() {
			h.state = StateFailing
		}
	}
	return from, h.state
}

func (h *Health) failAfter() int {
	if h.FailAfter > 0 {
		return h.FailAfter
	}
	return 5
}

// Backoff returns how long to wait before the next read of a sensor sampled every interval: the
// interval itself unless the sensor is Failing, then doubling with each further failure up to
// MaxBackoff (or the interval, when that is longer).
func (h *Health) Backoff(interval time.Duration) time.Duration {
	h.mu.Lock()
	n := h.consecutive - h.failAfter()
	failing := h.state == StateFailing
	h.mu.Unlock()
	if !failing {
		return interval
	}
	limit := h.MaxBackoff
	if limit == 0 {
		limit = 5 * time.Minute
	}
	limit = max(limit, interval)
	d := interval
	for i := 0; i <= n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Snapshot returns a copy of the counters.
func (h *Health) Snapshot() HealthSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.snap
	s.State = h.state
	s.Consecutive = h.consecutive
	return s
}

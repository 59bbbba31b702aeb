package buffer

import (
	"runtime"
	"time"
)

// The consumer's wait for work: spin, yield, then park until a producer signals.

// Wait blocks the consumer until a value is ready to pop or timeout has passed, and reports whether a
// value is ready. It spins briefly, then yields the processor a few times, then parks; producers only
// pay for a wake-up while the consumer is parked. A timeout <= 0 only checks. A true result can still
// be followed by a false Pop if the value found was one a producer's Push overwrote. Wait first publishes
// the consumer's position (see Ring).
//
// Wait never misses a wake-up: a value stored before or while Wait parks ends the wait.
func (q *Ring) Wait(timeout time.Duration) bool {
	q.publish()
	if timeout <= 0 {
		return q.ready()
	}
	var x uint32
	for range waitSpins {
		if q.ready() {
			return true
		}
		x = spinPause(x)
	}
	for range waitYields {
		runtime.Gosched()
		if q.ready() {
			return true
		}
	}
	deadline := time.Now().Add(timeout)
	// A producer that saw parked after our last Wait may still have left its wake-up in the channel;
	// the loop below treats such a stale one as spurious.
	select {
	case <-q.wake:
	default:
	}
	for {
		if testHookBeforePark != nil {
			testHookBeforePark(q)
		}
		q.parked.Store(1)
		// Check again after announcing: a producer stores its value before it reads parked, and we
		// store parked before we read the slot, so at least one of us sees the other.
		if q.ready() {
			q.parked.Store(0)
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			q.parked.Store(0)
			return false
		}
		q.timer.Reset(left)
		select {
		case <-q.wake:
			q.timer.Stop()
		case <-q.timer.C:
		}
		q.parked.Store(0)
		if q.ready() {
			return true
		}
	}
}

// testHookBeforePark, when set by a test, runs where a producer's value would race with the consumer
// announcing that it parks.
var testHookBeforePark func(*Ring)

// Consumer wait strategy: spinning covers a producer that is about to push, yielding lets a producer
// on the same processor run, parking stops burning CPU on an idle gateway. The consumer rarely gets
// here under load: it usually finds values. Measured with BenchmarkSPSC and BenchmarkMPSC4 on two
// cores: a pause between looks matters (without it the spinning consumer keeps pulling the slot's line
// away from the producer writing it); pauses of 30, 100 and 250 ns, 16 to 256 spins, 0 to 32 yields,
// and waiting for a run of 8 values before returning made no difference the noise did not swamp. One
// producer to one consumer is bound by the producer's locked store of seq, which waits for the slot's
// line to come back from the consumer's cache once per line (two slots): ~50 ns a value on this VM's
// vCPUs, ~28 ns when they happen to be hyperthreads of one core.
const (
	waitSpins  = 64
	waitYields = 8
)

// spinPause is a short delay between two looks at the ring while spinning, about 30 ns: a chain of
// dependent multiplications. Go offers no PAUSE instruction outside the runtime, the compiler deletes
// an empty loop, and a counter in memory would be one more thing to share; noinline keeps the call.
// Looking less often keeps the spinning consumer from pulling the slot's line away from the producer
// writing it.
//
//go:noinline
func spinPause(x uint32) uint32 {
	for range 32 {
		x = x*1664525 + 1013904223
	}
	return x
}

// ready reports whether the consumer has something to do at its position: a value to take, or
// overwritten values to skip.
func (q *Ring) ready() bool {
	p := q.head
	return q.slots[p&q.mask].seq.Load() >= tag(p, slotFull)
}

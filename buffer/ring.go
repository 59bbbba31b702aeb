package buffer

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync/atomic"
	"time"
)

// Capacity limits of a Ring. The lower bound is not arbitrary: with one slot, the sequence number of a
// filled slot equals the one that marks it free for the next lap, so the ring could not tell full from
// empty.
const (
	minRingCap = 2
	maxRingCap = 1 << 24
)

// cacheLine is the padding between fields written by different goroutines. 128 bytes, not 64: some
// arm64 cores (Apple's) have 128-byte lines, others and x86 prefetch lines in adjacent pairs, and the Go
// runtime pads to 128 on arm64 for the same reason (internal/cpu.CacheLinePadSize).
const cacheLine = 128

type cacheLinePad [cacheLine]byte

// slot is one cell of the ring: 8 + 24 bytes, no pointers, so the garbage collector never scans the
// ring and a full ring of 16384 readings is a single 512 KiB allocation.
//
// seq says who may touch val, for the position pos that maps to this slot on the current lap:
//
//	seq == pos              free: the producer that claims pos may write val
//	seq == pos+1            full: the dequeuer that claims pos may read val
//	seq == pos+Cap()        released: free for the producer of the next lap
//
// Whoever owns val publishes it by storing the next seq; that store is the only synchronisation the
// value needs (Go's atomics are sequentially consistent, so it orders the plain copy of val before it).
type slot struct {
	seq atomic.Uint64
	val Reading
}

// Ring is a bounded FIFO of Readings between many producers (sensor goroutines, GPIO edge handlers)
// and one consumer (the batcher). It is Dmitry Vyukov's bounded MPMC queue: each slot carries a
// sequence number, producers claim positions with a compare-and-swap on one index and the consumer on
// another. Producers never take a lock; only a consumer that Wait has parked is woken through a
// channel, and producers touch that channel only while it is parked.
//
// Call-order guarantees:
//   - Push, TryPush, Len, Cap and Stats may be called from any number of goroutines at once, and at the
//     same time as the consumer.
//   - Pop, PopBatch and Wait belong to the consumer: one goroutine at a time. (Pop and PopBatch would be
//     safe from several goroutines — Push itself dequeues to evict — but Wait parks a single consumer.)
//   - Values one goroutine pushes are popped in the order it pushed them. Values from different
//     producers are ordered by the moment each claimed its position.
//   - Everything a producer wrote before a Push or TryPush that stored a value happens before the Pop or
//     PopBatch that returns that value.
//   - Every stored value is either returned once by Pop or PopBatch or counted once in
//     RingStats.Dropped; none is lost uncounted or delivered twice.
//
// Push, TryPush, Pop and PopBatch allocate nothing. The zero Ring is not usable: call NewRing.
type Ring struct {
	_ cacheLinePad
	// Read by every goroutine, written only in NewRing, except parked which the consumer sets when it
	// has run out of work.
	slots  []slot
	mask   uint64
	parked atomic.Uint32 // 1 while the consumer is (about to be) blocked in Wait
	wake   chan struct{} // capacity 1: a producer's wake-up for the parked consumer
	timer  *time.Timer   // Wait's park timeout, owned by the consumer
	_      cacheLinePad
	// enq is the next position a producer claims; it is also the number of values ever stored.
	enq atomic.Uint64
	_   cacheLinePad
	// deq is the next position to dequeue. The consumer advances it, and so does a producer evicting
	// the oldest value. It counts Popped+Dropped: Popped is not a counter of its own, which saves the
	// consumer an atomic add per Pop.
	deq atomic.Uint64
	_   cacheLinePad
	// Counters only producers write, on the overflow paths.
	dropped  atomic.Uint64
	rejected atomic.Uint64
	_        cacheLinePad
}

// RingStats are a Ring's counters since NewRing. While producers and the consumer run, the fields are
// read one after the other, not as one snapshot: Pushed is never below Popped+Dropped, and Popped may
// briefly include a value a producer is evicting but has not counted in Dropped yet. When the ring is
// quiet the counts are exact and Pushed == Popped + Dropped + Len().
type RingStats struct {
	// Pushed counts values stored by Push or TryPush.
	Pushed uint64
	// Popped counts values returned by Pop and PopBatch.
	Popped uint64
	// Dropped counts the oldest values Push evicted to make room.
	Dropped uint64
	// Rejected counts TryPush calls that failed because the ring was full.
	Rejected uint64
}

// NewRing returns an empty ring of capacity values. capacity must be a power of two between 2 and
// 1<<24 (16777216); a ring uses 32 bytes per value.
func NewRing(capacity int) (*Ring, error) {
	if capacity < minRingCap || capacity > maxRingCap || capacity&(capacity-1) != 0 {
		return nil, fmt.Errorf("buffer: ring capacity %d is not a power of two between 2 and 1<<24; try %d",
			capacity, suggestCap(capacity))
	}
	q := &Ring{
		slots: make([]slot, capacity),
		mask:  uint64(capacity - 1),
		wake:  make(chan struct{}, 1),
		timer: time.NewTimer(time.Hour),
	}
	q.timer.Stop()
	for i := range q.slots {
		q.slots[i].seq.Store(uint64(i))
	}
	return q, nil
}

// suggestCap is the valid capacity nearest above n.
func suggestCap(n int) int {
	switch {
	case n <= minRingCap:
		return minRingCap
	case n >= maxRingCap:
		return maxRingCap
	}
	return 1 << bits.Len(uint(n-1))
}

// Cap returns the number of values the ring holds when full.
func (q *Ring) Cap() int { return len(q.slots) }

// Len returns the number of values in the ring, counting those a producer is still copying in. Under
// concurrent use it is a moment's estimate, between 0 and Cap().
func (q *Ring) Len() int {
	deq := q.deq.Load() // first: enq only grows and never passes below deq, so the difference is >= 0
	n := q.enq.Load() - deq
	if n > uint64(len(q.slots)) {
		n = uint64(len(q.slots))
	}
	return int(n)
}

// Stats returns the ring's counters.
func (q *Ring) Stats() RingStats {
	// An eviction moves deq before it counts dropped, so reading dropped first keeps Popped from
	// going below zero; deq never passes enq, so reading enq last keeps Pushed >= Popped+Dropped.
	s := RingStats{
		Dropped:  q.dropped.Load(),
		Rejected: q.rejected.Load(),
	}
	s.Popped = q.deq.Load() - s.Dropped
	s.Pushed = q.enq.Load()
	return s
}

// Push stores v and never fails: when the ring is full it evicts the oldest value, counts it in
// RingStats.Dropped and reports droppedOldest. Push never waits for the consumer to make room; it can
// only spin for the moment another goroutine needs to finish copying a value into or out of the slot
// Push needs (Vyukov's queue is lock-free only in that weaker sense).
func (q *Ring) Push(v Reading) (droppedOldest bool) {
	for tries := 0; ; {
		switch q.enqueue(&v) {
		case stored:
			q.signal()
			return droppedOldest
		case full:
			// Dequeue like the consumer would: the compare-and-swap on deq decides whether the
			// consumer or this producer takes the oldest value, never both.
			if _, ok := q.dequeue(); ok {
				q.dropped.Add(1)
				droppedOldest = true
				continue
			}
			// Full, yet the oldest value is still being copied in by its producer.
		}
		backoff(&tries)
	}
}

// TryPush stores v and reports true, or reports false, counted in RingStats.Rejected, when the ring
// holds Cap() values; it never evicts. It is for producers that hand overflow to the disk spool. Like
// Push it never waits for the consumer to make room.
func (q *Ring) TryPush(v Reading) bool {
	for tries := 0; ; {
		switch q.enqueue(&v) {
		case stored:
			q.signal()
			return true
		case full:
			q.rejected.Add(1)
			return false
		}
		backoff(&tries)
	}
}

// Pop removes and returns the oldest value, or reports false when there is none ready. A value whose
// producer is still copying it in is not ready yet; that producer wakes a consumer blocked in Wait once
// it is.
func (q *Ring) Pop() (Reading, bool) {
	return q.dequeue()
}

// PopBatch moves up to len(dst) of the oldest values into dst, oldest first, and returns how many. It
// claims the whole run with one compare-and-swap; each value then costs its copy and the store that
// frees its slot.
func (q *Ring) PopBatch(dst []Reading) int {
	if len(dst) == 0 {
		return 0
	}
	limit := min(len(dst), len(q.slots))
	for {
		pos := q.deq.Load()
		n := 0
		for n < limit && q.slots[(pos+uint64(n))&q.mask].seq.Load() == pos+uint64(n)+1 {
			n++
		}
		if n == 0 {
			if q.deq.Load() != pos {
				continue // an evicting producer moved deq under us
			}
			return 0
		}
		// Slots pos..pos+n-1 were full and stay full until deq passes them, so if deq is still pos
		// they are all ours.
		if !q.deq.CompareAndSwap(pos, pos+uint64(n)) {
			continue
		}
		for i := range n {
			p := pos + uint64(i)
			s := &q.slots[p&q.mask]
			dst[i] = s.val
			s.seq.Store(p + q.mask + 1)
		}
		return n
	}
}

// Wait blocks the consumer until a value is ready to pop or timeout has passed, and reports whether a
// value is ready. It spins briefly, then yields the processor a few times, then parks; producers only
// pay for a wake-up while the consumer is parked. A timeout <= 0 only checks. A true result can still
// be followed by a false Pop if a producer's Push evicted that value in the meantime.
//
// Wait never misses a wake-up: a value stored before or while Wait parks ends the wait.
func (q *Ring) Wait(timeout time.Duration) bool {
	if timeout <= 0 {
		return q.ready()
	}
	for range waitSpins {
		if q.ready() {
			return true
		}
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

// Consumer wait strategy, tuned with BenchmarkSPSC and BenchmarkMPSC4: spinning covers a producer that
// is about to push, yielding lets a producer on the same processor run, parking stops burning CPU on an
// idle gateway.
const (
	waitSpins  = 64
	waitYields = 8
)

// ready reports whether the oldest position holds a value the consumer can take.
func (q *Ring) ready() bool {
	pos := q.deq.Load()
	return q.slots[pos&q.mask].seq.Load() == pos+1
}

// signal wakes the consumer if it has announced that it is parked. The common case is one load of a
// line nobody writes while the consumer is busy.
func (q *Ring) signal() {
	if q.parked.Load() != 0 && q.parked.CompareAndSwap(1, 0) {
		select {
		case q.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

type enqueueResult int

const (
	stored enqueueResult = iota
	full                 // the slot holds the value of the previous lap, not yet dequeued
	busy                 // that value was dequeued but its dequeuer is still copying it out
)

// enqueue is Vyukov's enqueue. It takes v by pointer so that the Reading is copied once, into the slot.
func (q *Ring) enqueue(v *Reading) enqueueResult {
	pos := q.enq.Load()
	for {
		s := &q.slots[pos&q.mask]
		seq := s.seq.Load()
		switch d := int64(seq - pos); {
		case d == 0:
			if q.enq.CompareAndSwap(pos, pos+1) {
				s.val = *v
				s.seq.Store(pos + 1)
				return stored
			}
			pos = q.enq.Load()
		case d < 0:
			// The slot still belongs to position pos-Cap(). enq cannot have moved past pos (nobody
			// could claim it), so pos is current. If deq passed pos-Cap(), a dequeuer owns the slot
			// and is about to free it: the ring is not full.
			if q.deq.Load()+uint64(len(q.slots)) > pos {
				return busy
			}
			return full
		default:
			pos = q.enq.Load() // another producer claimed pos
		}
	}
}

// dequeue is Vyukov's dequeue.
func (q *Ring) dequeue() (Reading, bool) {
	pos := q.deq.Load()
	for {
		s := &q.slots[pos&q.mask]
		seq := s.seq.Load()
		switch d := int64(seq - (pos + 1)); {
		case d == 0:
			if q.deq.CompareAndSwap(pos, pos+1) {
				v := s.val
				s.seq.Store(pos + q.mask + 1)
				return v, true
			}
			pos = q.deq.Load()
		case d < 0:
			return Reading{}, false // empty, or the producer of pos is still copying its value in
		default:
			pos = q.deq.Load() // another dequeuer took pos
		}
	}
}

// backoff is a producer's wait for another goroutine to finish copying a value in or out of a slot it
// needs: a few immediate retries, then yield so that goroutine can run if it shares our processor.
func backoff(tries *int) {
	if *tries < 16 {
		*tries++
		return
	}
	runtime.Gosched()
}

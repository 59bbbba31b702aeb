package buffer

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync/atomic"
	"time"
)

// Capacity limits of a Ring. A ring of one value is no buffer; 2 is also the smallest ring the stress
// tests run (TestRingStressEvictingTiny).
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
// ring and a full ring of 16384 readings is a single 512 KiB allocation. Two slots share a 64-byte
// line. Padding slots to 64 bytes helped the old design, whose consumer wrote every slot, but made no
// measurable difference to this one, whose consumer only reads them, so they stay small.
//
// seq is a position shifted left by two with a state in the low bits (see tag): it says which value the
// slot holds and who may touch w. w is the Reading in three words (see pack), so that a consumer can
// read it with atomic loads.
type slot struct {
	seq atomic.Uint64
	w   [3]uint64
}

// Slot states, for the position p in seq's high bits:
//
//	slotEmpty     never written: free for p (the initial state, seq == tag(i, slotEmpty) for slot i)
//	slotFull      holds p's value; the consumer may take it, or an evicting producer drop it
//	slotEvicting  a producer has reserved p's value for eviction and is racing the consumer for deq
//
// A slot whose seq is tag(p, slotFull) is free for p+Cap() once the consumer has taken p, which a
// producer learns from deq: the consumer never writes a slot, which saves a store per value and keeps
// slot lines from bouncing back to the producers. An evicted slot goes from slotEvicting straight to
// tag(p+Cap(), slotFull), written by the evictor. The order matters: Pop compares with < and >.
const (
	slotEmpty = iota
	slotFull
	slotEvicting
)

func tag(pos, state uint64) uint64 { return pos<<2 | state }

// Ring is a bounded FIFO of Readings between many producers (sensor goroutines, GPIO edge handlers)
// and one consumer (the batcher). It is built for the case where the consumer keeps up: then a Push
// costs two atomic writes (a compare-and-swap claiming the position, a store publishing the slot) and
// a Pop or a whole PopBatch one compare-and-swap. Go's atomic writes are sequentially consistent, a
// locked instruction of ~6 ns each on amd64, and they are what the design counts. A Push has to claim
// and to publish, and a Pop has to win its value against evicting producers, so three is the floor
// for a push and a pop unless the consumer published its progress lazily, which would make Len and
// Stats lag behind Pop.
//
// The consumer copies a value out before it claims it: it checks the slot's seq, copies w with atomic
// loads, then moves deq past it with one compare-and-swap. A successful swap is also what frees the
// slot for the next lap: a producer reuses a slotFull slot only after seeing deq beyond it, so the
// consumer never stores into a slot (Vyukov's MPMC queue, which this replaced, needed a claim and a
// release store per value). Producers cache deq in deqSeen and read deq itself about once a lap.
//
// Push on a full ring evicts the oldest value, the one in the slot it needs. It reserves that slot
// (slotFull -> slotEvicting), which stops other producers from claiming it, then races the consumer for
// the value with a compare-and-swap on deq; the loser backs off, and a winning evictor claims the
// position and stores its value. Because an evictor moves deq only after reserving, a producer that
// reads deq before the slot's seq and finds the value unreserved but deq past it knows that the
// consumer took it. The consumer may still be copying the slot when it loses, so the evictor writes
// the new value with atomic stores; all other writes are plain, because every earlier read of that slot
// by the consumer happens before the consumer's successful swap that the writer observed. Without that
// distinction the copy would be a data race (Go's memory model and the race detector do not accept
// seqlock-style validated reads of plain data), and with atomic stores on every Push the fast path
// would cost three more locked instructions (measured on amd64: push+pop 22 -> 39 ns, SPSC 53 -> 123
// ns). Producers claiming with an atomic add and overwriting lapped slots would need those atomic
// stores on every Push for the same reason. Letting the evictor claim first and evict afterwards saves
// the reservation but makes queued evictors spin on deq, the line they wait to change: MPSC4 with
// evictions went from ~60 to ~100 ns, so the reservation stays.
//
// Call-order guarantees:
//   - Push, TryPush, Len, Cap and Stats may be called from any number of goroutines at once, and at the
//     same time as the consumer.
//   - Pop, PopBatch and Wait belong to the consumer: one goroutine at a time. This is required, not
//     only a matter of parking: a second consumer's discarded copy of a slot would race with the plain
//     stores of the producer that reuses it.
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
	// deqSeen is a value deq had: a producer may reuse a slotFull slot of a position below it without
	// reading deq, the consumer's line. It shares enq's line because every producer has just read that
	// line, and it changes about once a lap.
	deqSeen atomic.Uint64
	_       cacheLinePad
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
		q.slots[i].seq.Store(tag(uint64(i), slotEmpty))
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
// only spin for the moment another goroutine needs to finish copying a value into a slot Push needs,
// or to settle an eviction it is racing the consumer for (lock-free only in that weaker sense, like
// Vyukov's queue).
func (q *Ring) Push(v Reading) (droppedOldest bool) {
	w := pack(v)
	for tries := 0; ; {
		switch res, pos := q.enqueue(&w); res {
		case stored:
			q.signal()
			return droppedOldest
		case full:
			if q.evictAndStore(pos, &w) {
				q.signal()
				return true
			}
			// The consumer took the oldest value first, or it moved: look again.
			continue
		}
		backoff(&tries)
	}
}

// TryPush stores v and reports true, or reports false, counted in RingStats.Rejected, when the ring
// holds Cap() values; it never evicts. It is for producers that hand overflow to the disk spool. Like
// Push it never waits for the consumer to make room.
func (q *Ring) TryPush(v Reading) bool {
	w := pack(v)
	for tries := 0; ; {
		switch res, _ := q.enqueue(&w); res {
		case stored:
			q.signal()
			return true
		case full, fullInFlight:
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
	for {
		pos := q.deq.Load()
		s := &q.slots[pos&q.mask]
		seq := s.seq.Load()
		if seq < tag(pos, slotFull) {
			return Reading{}, false // empty, or the producer of pos is still copying its value in
		}
		if seq > tag(pos, slotEvicting) {
			continue // the slot has moved to the next lap, so has deq
		}
		v := s.load()
		if testHookPopCopied != nil {
			testHookPopCopied(q)
		}
		// If an evicting producer won pos, this fails and the copy, possibly torn, is dropped.
		if q.deq.CompareAndSwap(pos, pos+1) {
			return v, true
		}
	}
}

// Test hooks, set only by tests, at the points where goroutines race: testHookPopCopied runs in Pop and
// PopBatch between copying values and claiming them; in Push, testHookEnqueueDeq runs between reading a
// full slot's seq and reading deq, testHookEvicting between reserving the oldest value and racing the
// consumer for it, testHookEvicted between winning that race and claiming the position.
var testHookPopCopied, testHookEnqueueDeq, testHookEvicting, testHookEvicted func(*Ring)

// PopBatch moves up to len(dst) of the oldest values into dst, oldest first, and returns how many. It
// copies the run of ready values, then claims all of it with one compare-and-swap. It may also use dst
// beyond the returned count as scratch space.
func (q *Ring) PopBatch(dst []Reading) int {
	if len(dst) == 0 {
		return 0
	}
	dst = dst[:min(len(dst), len(q.slots))]
	for {
		pos := q.deq.Load()
		n := 0
		for n < len(dst) {
			p := pos + uint64(n)
			s := &q.slots[p&q.mask]
			if seq := s.seq.Load(); seq != tag(p, slotFull) && seq != tag(p, slotEvicting) {
				break
			}
			dst[n] = s.load()
			n++
		}
		if n == 0 {
			if q.deq.Load() != pos {
				continue // an evicting producer moved deq under us
			}
			return 0
		}
		if testHookPopCopied != nil {
			testHookPopCopied(q)
		}
		// Evictions only take the value at deq, so while deq is still pos none of the n values can
		// have been evicted and rewritten.
		for !q.deq.CompareAndSwap(pos, pos+uint64(n)) {
			// Evicting producers moved deq to d. The copies of positions d and later are still good:
			// deq was at most d while we made them, and a slot is only rewritten once deq has passed
			// its value. Keep them and claim again at once, rather than copying the whole run again
			// while evictions keep moving deq (which starved the consumer under overload).
			d := q.deq.Load()
			if d >= pos+uint64(n) {
				n = 0
				break
			}
			k := int(d - pos)
			n = copy(dst, dst[k:n])
			pos = d
		}
		if n > 0 {
			return n
		}
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
// on the same processor run, parking stops burning CPU on an idle gateway. Measured with BenchmarkSPSC
// and BenchmarkMPSC4 on two cores: the pause between looks matters (MPSC4 with evictions 52-66 ns
// against 75-188 ns without it); the counts (16 to 256 spins, 0 to 32 yields) and a doubling pause
// made no difference that the noise did not swamp. The consumer rarely gets here under load: it
// usually finds values.
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

// ready reports whether the oldest position holds a value the consumer can take.
func (q *Ring) ready() bool {
	pos := q.deq.Load()
	seq := q.slots[pos&q.mask].seq.Load()
	return seq == tag(pos, slotFull) || seq == tag(pos, slotEvicting)
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
	stored       enqueueResult = iota
	full                       // the slot holds the previous lap's value, which nobody has taken
	fullInFlight               // full, and the oldest value is still being copied in by its producer
	busy                       // another producer is evicting the previous lap's value
)

// enqueue claims the next position and stores w in its slot. When the ring is full it returns full
// and the position it tried, for Push to evict the value one lap before it.
func (q *Ring) enqueue(w *[3]uint64) (enqueueResult, uint64) {
	c := uint64(len(q.slots))
	pos := q.enq.Load()
	var seen uint64 // a value of deq read before the slot's seq below
	for {
		// deq must be read before seq. An evictor reserves the slot before it moves deq, so "seq says
		// full(prev), deq read earlier is past prev" proves the consumer took prev. In the other order
		// the seq could predate an eviction whose deq we then see, and two producers would claim pos.
		if d := q.deqSeen.Load(); d > seen {
			seen = d
		}
		s := &q.slots[pos&q.mask]
		seq := s.seq.Load()
		prev := pos - c // the position that last used the slot (wraps on the first lap: then unused)
		switch seq {
		case tag(pos, slotEmpty): // first lap
		case tag(prev, slotFull):
			if prev >= seen {
				if testHookEnqueueDeq != nil {
					testHookEnqueueDeq(q)
				}
				deq := q.deq.Load()
				if deq <= prev {
					return full, pos
				}
				q.deqSeen.Store(deq)
				seen = deq
				continue // read seq again, after deq
			}
		case tag(prev, slotEvicting):
			return busy, pos
		default:
			if seq >= tag(pos, slotEmpty) {
				pos = q.enq.Load() // another producer claimed pos
				continue
			}
			// The producer of prev has claimed it but not stored it yet, so deq cannot have passed
			// prev, and pos is current: nobody can claim it before prev is taken.
			return fullInFlight, pos
		}
		if !q.enq.CompareAndSwap(pos, pos+1) {
			pos = q.enq.Load()
			continue
		}
		// Plain stores: the consumer is done with this slot and its last read of it happens before the
		// deq we read (see Ring).
		s.w = *w
		s.seq.Store(tag(pos, slotFull))
		return stored, pos
	}
}

// evictAndStore drops the oldest value, pos-Cap(), and stores w at pos in its slot. It reports false
// if the consumer took that value first or the ring moved on, and Push should try again.
func (q *Ring) evictAndStore(pos uint64, w *[3]uint64) bool {
	old := pos - uint64(len(q.slots))
	s := &q.slots[pos&q.mask]
	// Reserve the value: from now on no producer can claim pos, and an evictor that read deq long ago
	// cannot reserve a value of another lap because seq carries the position.
	if !s.seq.CompareAndSwap(tag(old, slotFull), tag(old, slotEvicting)) {
		return false
	}
	if testHookEvicting != nil {
		testHookEvicting(q)
	}
	if !q.deq.CompareAndSwap(old, old+1) {
		// The consumer took it. A producer that reused the slot meanwhile has stored a newer seq,
		// which this compare-and-swap must not overwrite.
		s.seq.CompareAndSwap(tag(old, slotEvicting), tag(old, slotFull))
		return false
	}
	if testHookEvicted != nil {
		testHookEvicted(q)
	}
	// pos is ours. enq has reached it (we saw the ring full at pos) and cannot pass it: a producer
	// claims pos only on proof that the consumer took old (enqueue), and deq was still old when we
	// moved it. Once enq moves on, other producers can evict and store behind us.
	if !q.enq.CompareAndSwap(pos, pos+1) {
		panic(fmt.Sprintf("buffer: ring invariant broken: position %d claimed while its slot was being evicted", pos))
	}
	// The consumer may still be copying old out of this slot; atomic stores keep that from being a
	// data race, and the consumer's failed claim discards its copy.
	s.storeAtomic(w)
	s.seq.Store(tag(pos, slotFull))
	// Counted last to keep the slot reserved for as short as possible; Stats allows for the delay.
	q.dropped.Add(1)
	return true
}

// pack turns a Reading into the three words a slot stores.
func pack(v Reading) [3]uint64 {
	return [3]uint64{uint64(v.Time), math.Float64bits(v.Value), uint64(v.Channel) | uint64(v.Flags)<<32}
}

// load copies the slot's value with atomic loads (plain moves on amd64), so that reading a slot an
// evicting producer is rewriting is not a data race; the caller discards such a copy.
func (s *slot) load() Reading {
	w2 := atomic.LoadUint64(&s.w[2])
	return Reading{
		Time:    int64(atomic.LoadUint64(&s.w[0])),
		Value:   math.Float64frombits(atomic.LoadUint64(&s.w[1])),
		Channel: uint32(w2),
		Flags:   uint32(w2 >> 32),
	}
}

// storeAtomic writes w into a slot the consumer may be reading (see Ring).
func (s *slot) storeAtomic(w *[3]uint64) {
	atomic.StoreUint64(&s.w[0], w[0])
	atomic.StoreUint64(&s.w[1], w[1])
	atomic.StoreUint64(&s.w[2], w[2])
}

// backoff is a producer's wait for another goroutine to finish copying a value into a slot it needs or
// to settle an eviction: a few immediate retries, then yield so that goroutine can run if it shares our
// processor.
func backoff(tries *int) {
	if *tries < 16 {
		*tries++
		return
	}
	runtime.Gosched()
}

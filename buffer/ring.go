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

// maxLag is the most positions the consumer runs ahead of deq while it Pops one value at a time (see
// Ring); rings smaller than 8*maxLag lag by Cap()/8, and rings of 8 or fewer values not at all.
const maxLag = 32

// slot is one cell of the ring: 8 + 24 bytes, no pointers, so the garbage collector never scans the
// ring and a full ring of 16384 readings is a single 512 KiB allocation. Two slots share a 64-byte
// line; the consumer only reads slots, so they gain nothing from a line of their own.
//
// seq is a position shifted left by two with a state in the low bits (see tag): it says which value the
// slot holds. w is the Reading in three words (see pack), so that the consumer can read it with atomic
// loads.
type slot struct {
	seq atomic.Uint64
	w   [3]uint64
}

// Slot states, for the position p in seq's high bits:
//
//	slotEmpty    never written: free for p (the initial state, seq == tag(i, slotEmpty) for slot i)
//	slotWriting  a producer that overwrites the previous lap's value is storing p's value
//	slotFull     holds p's value
//
// A slot goes Empty(i) -> Full(i) on the first lap, then Full(p) -> Full(p+Cap()) when the consumer
// took p before the producer of p+Cap() came, or Full(p) -> Writing(p+Cap()) -> Full(p+Cap()) when that
// producer overwrote p. seq only grows, and the consumer at position p reads it as: below Full(p), p
// is not stored yet; Full(p), p is there; above, p has been overwritten and is lost.
const (
	slotEmpty = iota
	slotWriting
	slotFull
)

func tag(pos, state uint64) uint64 { return pos<<2 | state }

// Ring is a bounded FIFO of Readings between many producers (sensor goroutines, GPIO edge handlers)
// and one consumer (the batcher). It is built so that the common case costs as few atomic writes as
// possible: Go's atomic writes are sequentially consistent, a locked instruction of ~6 ns each on amd64,
// and they are what the design counts. A Push costs two (a compare-and-swap on enq claiming the
// position, a store of the slot's seq publishing the value); a Pop costs none and a PopBatch one.
//
// The consumer never writes a slot and keeps its position, head, to itself. It tells producers how
// far it has got by storing head into deq: after every PopBatch, before Wait looks for work, when a Pop
// finds nothing, when a refused TryPush has asked (wantDeq), and otherwise every lag Pops (maxLag). A producer
// reuses a slot with plain stores once deq says the consumer is past the slot's previous value:
// everything the consumer read from the slot happens before its store of deq, which happens before the
// producer's load of it. Producers cache deq in deqSeen and read deq itself about once a lap.
//
// A producer that finds the previous lap's value still in its slot and deq not past it treats the ring
// as full. TryPush refuses the value. Push overwrites the old value: it claims the position like any
// producer, marks the slot Writing, stores the value with atomic stores and marks it Full. It does not
// know, and need not know, whether the consumer took the old value first: the consumer copies a slot
// with atomic loads and then checks that seq has not changed, so it either returns the old value
// intact or finds it overwritten, counts it dropped and moves on. (Go's memory model and the race
// detector do not accept such validated reads of plain data, hence the atomic stores on this path
// only.) Whoever reaches a value decides its fate: there is no race to settle between an overwriting
// producer and the consumer, so neither pays for one. The consumer is also the one that counts: a
// value is dropped when the consumer finds it overwritten, not when a producer overwrites it, which
// may be after the consumer took it.
//
// Both "full" verdicts may be early by the consumer's lag: a Pop that has not yet published can leave
// deq up to lag positions behind. It costs little: an overwritten value the consumer already took is
// not lost (nor counted), and a refused TryPush sets wantDeq, which makes the consumer publish on its
// next Pop.
//
// Call-order guarantees:
//   - Push, TryPush, Len, Cap and Stats may be called from any number of goroutines at once, and at the
//     same time as the consumer.
//   - Pop, PopBatch and Wait belong to the consumer: one goroutine at a time, or several goroutines
//     whose calls are ordered by other synchronization (the consumer's position is a plain field).
//   - Values one goroutine pushes are popped in the order it pushed them. Values from different
//     producers are ordered by the moment each claimed its position.
//   - Everything a producer wrote before a Push or TryPush that stored a value happens before the Pop or
//     PopBatch that returns that value.
//   - Every stored value is either returned once by Pop or PopBatch or counted once in
//     RingStats.Dropped; none is lost uncounted or delivered twice.
//   - Len and Stats see the consumer's progress as of its last publication (above): current once the
//     consumer has returned from PopBatch or Wait or had a Pop find nothing, and at most lag values
//     behind while it Pops. Values overwritten before the consumer got to them are in Stats once it
//     has passed them; until then they are neither in Len nor in Dropped.
//
// Push, TryPush, Pop and PopBatch allocate nothing. The zero Ring is not usable: call NewRing.
type Ring struct {
	_ cacheLinePad
	// Read by every goroutine, written only in NewRing, except parked, which the consumer sets when
	// it has run out of work and producers read on every Push.
	slots  []slot
	mask   uint64
	lag    uint64        // Pops the consumer may make before it publishes head
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
	// rejected counts refused TryPush calls; a refusing producer has just read this line.
	rejected atomic.Uint64
	_        cacheLinePad
	// The consumer's publication: deq is its head, popped and dropped the values it returned and
	// skipped, as of its last publication. deq is for producers; Stats reads the counters, which only
	// grow (deq - popped - dropped would not: two loads can straddle a publication).
	deq     atomic.Uint64
	popped  atomic.Uint64
	dropped atomic.Uint64
	_       cacheLinePad
	// The consumer's own state: nobody else reads it.
	head       uint64 // the next position to take
	skipped    uint64 // positions the consumer found overwritten
	pubHead    uint64 // head as last stored in deq
	pubSkipped uint64 // skipped as last stored in dropped
	_          cacheLinePad
	// Set by a refused TryPush, read by the consumer on every Pop; it changes rarely.
	wantDeq atomic.Uint32 // 1 when a TryPush found the ring full and wants the consumer's position
	_       cacheLinePad
}

// RingStats are a Ring's counters since NewRing. Each only grows. While producers and the consumer
// run, the fields are read one after the other, not as one snapshot, and see the consumer's progress as
// of its last publication (see Ring); Pushed is never below Popped+Dropped. When the ring is quiet and
// the consumer has drained it (its last PopBatch, Wait or Pop found nothing more), the counts are
// exact and Pushed == Popped + Dropped + Len() with Len() == 0.
type RingStats struct {
	// Pushed counts values stored, or being copied in, by Push or TryPush.
	Pushed uint64
	// Popped counts values returned by Pop and PopBatch.
	Popped uint64
	// Dropped counts the values Push overwrote before the consumer took them, as the consumer finds
	// them: the next PopBatch after an overwrite counts it.
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
		lag:   uint64(max(1, min(maxLag, capacity/8))),
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

// Len returns the number of values in the ring, counting those a producer is still copying in, as of
// the consumer's last publication (see Ring). Under concurrent use it is a moment's estimate, between 0
// and Cap().
func (q *Ring) Len() int {
	deq := q.deq.Load() // first: enq only grows and never falls below deq, so the difference is >= 0
	return int(min(q.enq.Load()-deq, uint64(len(q.slots))))
}

// Stats returns the ring's counters.
func (q *Ring) Stats() RingStats {
	// Read in the order that keeps Pushed >= Popped+Dropped: popped+dropped never exceed the head they
	// were published with, which never passes enq.
	s := RingStats{Rejected: q.rejected.Load(), Popped: q.popped.Load(), Dropped: q.dropped.Load()}
	s.Pushed = q.enq.Load()
	return s
}

// Push stores v and never fails: when the ring is full it overwrites the oldest value, which is counted
// in RingStats.Dropped unless the consumer took it first. Push never waits for the consumer to make
// room; it can only spin for the moment another producer needs to finish copying a value into the slot
// Push needs (lock-free only in that weaker sense, like Vyukov's queue).
//
// A Push that overwrote yields its processor (runtime.Gosched) before it returns. A producer that
// overwrites is outrunning the consumer, and when busy goroutines outnumber cores the consumer may be
// waiting for a processor, for a whole scheduler time slice, while the producers overwrite the ring
// many times over. Measured with BenchmarkMPSC4 on two cores: without the yield 160-240 ns per value
// and 50-70% of the values dropped, with it 51-56 ns and under 0.3%. Push still never blocks; the
// yield returns at once when nothing else is runnable.
func (q *Ring) Push(v Reading) {
	w := pack(v)
	for tries := 0; ; {
		switch res, pos := q.enqueue(&w); res {
		case stored:
			q.signal()
			return
		case full:
			if q.overwrite(pos, &w) {
				q.signal()
				runtime.Gosched()
				return
			}
			continue // another producer claimed pos first: look again
		}
		backoff(&tries)
	}
}

// TryPush stores v and reports true, or reports false, counted in RingStats.Rejected, when the ring
// holds Cap() values; it never overwrites. It is for producers that hand overflow to the disk spool.
// Like Push it never waits for the consumer to make room.
func (q *Ring) TryPush(v Reading) bool {
	w := pack(v)
	for tries := 0; ; {
		switch res, _ := q.enqueue(&w); res {
		case stored:
			q.signal()
			return true
		case full, fullInFlight:
			// Ask the consumer to publish: if its unpublished Pops made room, the next TryPush finds
			// it. (fullInFlight means another producer holds the oldest slot: publishing cannot help.)
			if res == full && q.wantDeq.Load() == 0 {
				q.wantDeq.Store(1)
			}
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
		p := q.head
		s := &q.slots[p&q.mask]
		seq := s.seq.Load()
		if seq == tag(p, slotFull) {
			v := s.load()
			if testHookPopCopied != nil {
				testHookPopCopied(q)
			}
			if s.seq.Load() == seq { // not overwritten while we copied: v is whole
				q.head = p + 1
				if q.head-q.pubHead >= q.lag || q.wantDeq.Load() != 0 {
					q.publishAsked()
				}
				return v, true
			}
		} else if seq < tag(p, slotFull) {
			q.publishAsked() // going idle: let producers and Stats see everything taken so far
			return Reading{}, false
		}
		q.skipOverwritten(p)
	}
}

// Test hooks, set only by tests, at the points where goroutines race: testHookPopCopied runs in Pop and
// PopBatch between copying a value and checking that it was not overwritten meanwhile;
// testHookOverwriting runs in Push between claiming a full slot's position and marking the slot, and
// testHookMarked between marking it and storing the value.
var testHookPopCopied, testHookOverwriting, testHookMarked func(*Ring)

// PopBatch moves up to len(dst) of the oldest values into dst, oldest first, and returns how many. It
// copies the run of ready values and then publishes its position once for all of them.
func (q *Ring) PopBatch(dst []Reading) int {
	slots, mask := q.slots, q.mask
	n := 0
	for n < len(dst) {
		p := q.head
		s := &slots[p&mask]
		seq := s.seq.Load()
		if seq == tag(p, slotFull) {
			dst[n] = s.load()
			if testHookPopCopied != nil {
				testHookPopCopied(q)
			}
			if s.seq.Load() == seq {
				n++
				q.head = p + 1
				continue
			}
		} else if seq < tag(p, slotFull) {
			break
		}
		q.skipOverwritten(p)
	}
	q.publish()
	return n
}

// skipOverwritten moves the consumer past position p, which a producer has overwritten, and past every
// later position q whose slot a producer has claimed for q+Cap(): those values are being overwritten,
// and counts them dropped. Every q was stored (q+Cap() can only be claimed after q was), and every
// producer of a q+Cap() saw deq <= q and so overwrites with atomic stores after marking the slot: the
// consumer never reads a q again, and never races a plain store.
func (q *Ring) skipOverwritten(p uint64) {
	next := q.enq.Load() - uint64(len(q.slots)) // > p: p+Cap() has been claimed
	q.skipped += next - p
	q.head = next
}

// publishAsked answers a producer's wantDeq, clearing it before it publishes so that a request made
// meanwhile is not lost. Only Pop reads wantDeq: PopBatch and Wait publish anyway, and leave the flag
// set rather than write the line producers set it on.
func (q *Ring) publishAsked() {
	if q.wantDeq.Load() != 0 {
		q.wantDeq.Store(0)
	}
	q.publish()
}

// publish stores the consumer's position and drop count where producers and Stats read them: deq
// first, see Stats.
func (q *Ring) publish() {
	if q.head == q.pubHead {
		return
	}
	q.deq.Store(q.head)
	q.popped.Store(q.head - q.skipped)
	if q.skipped != q.pubSkipped {
		q.dropped.Store(q.skipped)
	}
	q.pubHead, q.pubSkipped = q.head, q.skipped
}

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
	full                       // the slot holds the previous lap's value and deq is not past it
	fullInFlight               // full, and the oldest value is still being copied in by its producer
)

// enqueue claims the next position and stores w in its slot, unless the ring is full. Then it returns
// full and the position it tried, for Push to overwrite the value one lap before it.
func (q *Ring) enqueue(w *[3]uint64) (enqueueResult, uint64) {
	c := uint64(len(q.slots))
	pos := q.enq.Load()
	seen := q.deqSeen.Load() // a value of deq
	for {
		s := &q.slots[pos&q.mask]
		seq := s.seq.Load()
		prev := pos - c // the position that last used the slot (wraps on the first lap: then unused)
		switch {
		case seq == tag(pos, slotEmpty): // first lap
		case seq == tag(prev, slotFull):
			if prev >= seen {
				d := q.deq.Load()
				if d <= prev {
					return full, pos
				}
				q.deqSeen.Store(d)
				seen = d
			}
		case seq >= tag(pos, slotEmpty):
			pos = q.enq.Load() // another producer claimed pos
			seen = q.deqSeen.Load()
			continue
		default:
			// The producer of prev has claimed it but not stored it yet, so the consumer cannot be
			// past prev and nobody can claim pos before prev is stored.
			return fullInFlight, pos
		}
		if !q.enq.CompareAndSwap(pos, pos+1) {
			pos = q.enq.Load()
			continue
		}
		// Plain stores: the slot is unused, or the consumer is done with it and its last read of it
		// happens before the deq we read (see Ring).
		s.w = *w
		s.seq.Store(tag(pos, slotFull))
		return stored, pos
	}
}

// overwrite claims pos, whose slot holds the value one lap before it that the consumer may not have
// taken, and stores w there. It reports false if another producer claimed pos first.
func (q *Ring) overwrite(pos uint64, w *[3]uint64) bool {
	if !q.enq.CompareAndSwap(pos, pos+1) {
		return false
	}
	if testHookOverwriting != nil {
		testHookOverwriting(q)
	}
	// The consumer may be copying the old value out of this slot. Marking the slot first makes it
	// discard a copy that saw any of our stores; atomic stores keep those copies from being a data race.
	s := &q.slots[pos&q.mask]
	s.seq.Store(tag(pos, slotWriting))
	if testHookMarked != nil {
		testHookMarked(q)
	}
	s.storeAtomic(w)
	s.seq.Store(tag(pos, slotFull))
	return true
}

// pack turns a Reading into the three words a slot stores.
func pack(v Reading) [3]uint64 {
	return [3]uint64{uint64(v.Time), math.Float64bits(v.Value), uint64(v.Channel) | uint64(v.Flags)<<32}
}

// load copies the slot's value with atomic loads (plain moves on amd64), so that reading a slot an
// overwriting producer is rewriting is not a data race; the caller discards such a copy.
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

// backoff is a producer's wait for another producer to finish copying a value into a slot it needs: a few immediate retries, then yield so that goroutine can run if it shares our
// processor.
func backoff(tries *int) {
	if *tries < 16 {
		*tries++
		return
	}
	runtime.Gosched()
}

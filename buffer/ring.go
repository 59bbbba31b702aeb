package buffer

import (
	"fmt"
	"math/bits"
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

// Test hooks, set only by tests, at the points where goroutines race: testHookPopCopied runs in Pop and
// PopBatch between copying a value and checking that it was not overwritten meanwhile;
// testHookOverwriting runs in Push between claiming a full slot's position and marking the slot, and
// testHookMarked between marking it and storing the value.
var testHookPopCopied, testHookOverwriting, testHookMarked func(*Ring)

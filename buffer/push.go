package buffer

import "runtime"

// The producers' side of the Ring: Push, TryPush, claiming a position and overwriting a full slot.

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

// enqueueResult is what enqueue did with a value.
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

// backoff is a producer's wait for another producer to finish copying a value into a slot it needs: a few immediate retries, then yield so that goroutine can run if it shares our
// processor.
func backoff(tries *int) {
	if *tries < 16 {
		*tries++
		return
	}
	runtime.Gosched()
}

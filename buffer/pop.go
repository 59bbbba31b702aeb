package buffer

// The consumer's side of the Ring: Pop, PopBatch, skipping overwritten values and publishing its
// position.

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

package spool

import (
	"fmt"
	"os"
	"sort"
	"time"
)

// The read path: the index of unacknowledged records, and handing them to the link.

// entry indexes one stored record.
type entry struct {
	seq   uint64
	seg   *segment
	off   int64 // of the payload
	n     uint32
	at    time.Time // append time (file mtime of the segment for recovered records)
	sent  bool
	acked bool
}

func (s *Spool) find(seq uint64) int {
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq >= seq })
	if i < len(s.index) && s.index[i].seq == seq {
		return i
	}
	return -1
}

// Next returns a batch to hand to the link and marks it sent: the newest unsent one when newest is
// true (live data), else the oldest (backlog). ok is false when every stored batch has been sent.
func (s *Spool) Next(newest bool) (r Record, ok bool, err error) {
	if newest {
		return s.next(func() int {
			for i := len(s.index) - 1; i >= 0; i-- {
				if !s.index[i].sent && !s.index[i].acked {
					return i
				}
			}
			return -1
		})
	}
	return s.NextAfter(0)
}

// NextAfter returns the oldest unsent batch whose sequence number is above after, marking it sent:
// live data in the order it was made, as opposed to the backlog.
func (s *Spool) NextAfter(after uint64) (r Record, ok bool, err error) {
	return s.next(func() int {
		for i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq > after }); i < len(s.index); i++ {
			if !s.index[i].sent && !s.index[i].acked {
				return i
			}
		}
		return -1
	})
}

// next hands out the record pick chooses (an index, -1 for none; called with mu held).
func (s *Spool) next(pick func() int) (r Record, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := pick()
	if idx < 0 {
		return Record{}, false, nil
	}
	e := &s.index[idx]
	payload, err := s.readLocked(e)
	if err != nil {
		// Unreadable now (a bad sector): drop it from the index rather than retry forever.
		seq := e.seq
		e.seg.live--
		s.index = append(s.index[:idx], s.index[idx+1:]...)
		s.st.Lost++
		return Record{}, false, fmt.Errorf("spool: read batch %d: %w", seq, err)
	}
	e.sent = true
	return Record{Seq: e.seq, Payload: payload}, true, nil
}

func (s *Spool) readLocked(e *entry) ([]byte, error) {
	f, err := os.Open(e.seg.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, headerSize+int(e.n))
	if _, err := f.ReadAt(b, e.off-headerSize); err != nil {
		return nil, err
	}
	seq, payload, _, err := parseRecord(b)
	if err != nil {
		return nil, err
	}
	if seq != e.seq {
		return nil, fmt.Errorf("%w: seq %d at the offset of %d", errCorrupt, seq, e.seq)
	}
	return payload, nil
}

// Unsend returns a batch to the unsent state after its publish failed, so Next offers it again.
func (s *Spool) Unsend(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.find(seq); i >= 0 {
		s.index[i].sent = false
	}
	if full, ok := s.evictedInFlight[seq]; ok { // evicted while in flight, and not delivered after all
		delete(s.evictedInFlight, seq)
		s.st.Evicted++
		if full {
			s.st.EvictedDiskFull++
		}
	}
}

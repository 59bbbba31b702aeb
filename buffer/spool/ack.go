package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wayside-iot/wayside/internal/durable"
	"go.uber.org/zap"
)

// Acknowledgements: acks.log appended on each Ack, read at recovery and compacted when segments go,
// and fully acknowledged segments deleted.

const ackFile = "acks.log"

// Ack records the broker's acknowledgement of seq and deletes segments left with nothing unacknowledged.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.evictedInFlight, seq) // evicted while in flight, but delivered: nothing lost
	i := s.find(seq)
	if i < 0 || s.index[i].acked {
		return nil // evicted meanwhile, or a duplicate ack
	}
	e := &s.index[i]
	e.acked = true
	e.seg.live--
	s.st.Acked++
	if s.acks != nil {
		b := appendAck(nil, seq)
		if n, err := s.acks.Write(b); err != nil {
			if n > 0 { // a torn entry would shift every later one: take it back
				s.acks.Truncate(s.ackBytes)
			}
			s.log.Warn("ack log write failed; the batch may be resent after a restart", zap.Uint64("seq", seq), zap.Error(err))
		} else {
			s.st.BytesWritten += uint64(n)
			s.ackBytes += int64(n)
			if !s.ackDirty {
				s.ackDirty, s.ackSince = true, time.Now()
			}
		}
	}
	return s.collectLocked()
}

// collectLocked drops fully acknowledged segments (never the active one) and acknowledged entries
// at the head of the index; it rewrites acks.log when segments went away.
func (s *Spool) collectLocked() error {
	removed := false
	for len(s.segs) > 0 {
		seg := s.segs[0]
		if seg.live > 0 || (len(s.segs) == 1 && s.active != nil) {
			break
		}
		// Ack log first (durably), then the file: a crash between them leaves a segment whose acks are
		// still in acks.log, which recovery handles.
		if len(s.unsyncd) > 0 || s.ackDirty {
			if err := s.syncLocked(); err != nil {
				return err
			}
		}
		if err := os.Remove(seg.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("spool: remove %s: %w", seg.path, err)
		}
		s.segs = s.segs[1:]
		removed = true
		kept := s.index[:0]
		for _, e := range s.index {
			if e.seg != seg {
				kept = append(kept, e)
			}
		}
		s.index = kept
	}
	if removed && s.ackBytes > 64<<10 {
		return s.rewriteAcks()
	}
	return nil
}

func (s *Spool) readAcks() (map[uint64]bool, error) {
	acked := map[uint64]bool{}
	path := filepath.Join(s.opts.Dir, ackFile)
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("spool: read %s: %w", path, err)
	}
	// Entries are fixed-size and written whole, so a damaged one (a torn tail, a flipped bit) is
	// skipped alone: the acks after it still count. A lost ack only means that batch is sent again.
	for ; len(b) >= ackSize; b = b[ackSize:] {
		seq, ok := parseAck(b)
		if !ok {
			continue
		}
		acked[seq] = true
	}
	return acked, nil
}

// rewriteAcks replaces acks.log with the acks still relevant: those of acknowledged records in
// segments that still exist. mu must be held (or Open in progress).
func (s *Spool) rewriteAcks() error {
	var buf []byte
	for _, e := range s.index {
		if e.acked {
			buf = appendAck(buf, e.seq)
		}
	}
	path := filepath.Join(s.opts.Dir, ackFile)
	if err := durable.WriteFile(path, buf, 0o640); err != nil {
		// Keep appending to the old log (or open it, at start): acks.log only grows longer than needed.
		s.log.Warn("compacting acks.log failed; keeping the old one", zap.Error(err))
		if s.acks == nil {
			f, oerr := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
			if oerr != nil {
				return fmt.Errorf("spool: open %s: %w", path, errors.Join(err, oerr))
			}
			// Appends go after the last whole entry: a torn one is cut, so later entries stay
			// aligned, and a failed append truncates back to here, not to 0.
			if fi, serr := f.Stat(); serr == nil {
				s.ackBytes = fi.Size() - fi.Size()%ackSize
				if fi.Size() != s.ackBytes {
					f.Truncate(s.ackBytes)
				}
			}
			s.acks = f
		}
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", path, err)
	}
	if s.acks != nil {
		s.acks.Close()
	}
	s.acks, s.ackBytes = f, int64(len(buf))
	s.st.BytesWritten += uint64(len(buf))
	return nil
}

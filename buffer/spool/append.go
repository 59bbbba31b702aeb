package spool

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// The write path: a batch encoded and appended to the active segment, making room as it goes.

// Append stores one batch. It never blocks on the network; it fsyncs when the policy says so. An
// error means the batch could not be stored at all (counted as lost); the spool stays usable.
func (s *Spool) Append(seq uint64, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(payload) > MaxRecord {
		s.st.Lost++
		return fmt.Errorf("spool: batch %d of %d bytes exceeds the %d byte record limit", seq, len(payload), MaxRecord)
	}
	if s.closed {
		s.st.Lost++
		return errors.New("spool: closed")
	}
	rec := appendRecord(make([]byte, 0, headerSize+len(payload)), seq, payload)
	if err := s.writeLocked(seq, rec); err != nil {
		s.st.Lost++
		return err
	}
	s.st.Appended++
	s.st.PayloadBytes += uint64(len(payload))
	s.unsyncd = append(s.unsyncd, Record{Seq: seq, Payload: rec[headerSize:]})
	if len(s.unsyncd) == 1 {
		s.firstUns = time.Now()
	}
	if len(s.unsyncd) >= s.opts.SyncEvery || time.Since(s.firstUns) >= s.opts.SyncInterval {
		s.syncLocked()
	}
	return nil
}

// writeLocked writes one encoded record to the active segment, rotating and evicting as needed: the
// oldest segments go when the quota or the filesystem has no room for it. mu must be held.
func (s *Spool) writeLocked(seq uint64, rec []byte) error {
	n := int64(len(rec))
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		s.evictForLocked(n)
		s.roomLocked(n)
		var seg *segment
		if seg, err = s.activeLocked(seq, n); err != nil {
			if errors.Is(err, syscall.ENOSPC) && s.diskFullLocked(err) {
				continue
			}
			return err
		}
		w, werr := s.opts.writeFile(s.active, rec)
		s.st.BytesWritten += uint64(max(w, 0))
		if werr == nil {
			s.index = append(s.index, entry{seq: seq, seg: seg, off: seg.size + headerSize, n: uint32(len(rec) - headerSize), at: time.Now()})
			seg.size += n
			seg.live++
			return nil
		}
		err = fmt.Errorf("spool: write batch %d: %w", seq, werr)
		if errors.Is(werr, syscall.ENOSPC) {
			// Take a partial record back so the segment stays whole and open; if that fails, seal it
			// (recovery cuts the torn tail). Then make room and try again.
			if w > 0 && s.active.Truncate(seg.size) != nil {
				s.syncLocked()
				s.sealLocked()
			}
			if s.diskFullLocked(werr) {
				continue
			}
			return err
		}
		// Another write error (EIO): the partial record is a torn tail. Seal the segment (records
		// before it must still be fsync'd) and try once more in a new one.
		s.syncLocked()
		s.sealLocked()
		if attempt > 0 {
			return err
		}
	}
	return err
}

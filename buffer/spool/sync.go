package spool

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Durability: grouped fsyncs, and rewriting after a failed one (see doc.go).

// Sync fsyncs pending appends and acks now.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncLocked()
}

// MaybeSync fsyncs when the oldest unsynced append is SyncInterval old: call it periodically so a
// quiet gateway still honours the interval.
func (s *Spool) MaybeSync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if (len(s.unsyncd) > 0 && time.Since(s.firstUns) >= s.opts.SyncInterval) ||
		(s.ackDirty && time.Since(s.ackSince) >= s.opts.SyncInterval) {
		return s.syncLocked()
	}
	return nil
}

// syncLocked makes appends and acks durable. After a failed fsync of a segment its unsynced records
// are rewritten into a new segment from memory.
func (s *Spool) syncLocked() error {
	var errs []error
	for tries := 0; len(s.unsyncd) > 0 && tries < 3; tries++ {
		if s.active == nil {
			break
		}
		s.st.Fsyncs++
		if err := s.opts.syncFile(s.active); err == nil {
			s.st.DurableSeq = s.unsyncd[len(s.unsyncd)-1].Seq
			s.unsyncd = s.unsyncd[:0]
			break
		} else {
			s.st.FsyncErrors++
			errs = append(errs, err)
			s.log.Error("fsync failed; rewriting unsynced batches to a new segment", zap.Error(err),
				zap.Int("batches", len(s.unsyncd)))
			pending := s.unsyncd
			s.unsyncd = nil
			s.sealLocked()
			for _, r := range pending {
				if i := s.find(r.Seq); i < 0 || s.index[i].acked {
					continue // acknowledged or evicted meanwhile: nothing to keep durable
				}
				// The old copies stay indexed until acknowledged; recovery keeps the first valid copy.
				rec := appendRecord(nil, r.Seq, r.Payload)
				if err := s.rewriteLocked(r.Seq, rec); err != nil {
					errs = append(errs, err)
					continue
				}
				s.unsyncd = append(s.unsyncd, r)
			}
		}
	}
	if s.ackDirty && s.acks != nil {
		s.st.Fsyncs++
		if err := s.opts.syncFile(s.acks); err != nil {
			s.st.FsyncErrors++
			errs = append(errs, fmt.Errorf("spool: fsync %s: %w", ackFile, err))
		} else {
			s.ackDirty = false
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// rewriteLocked appends a copy of an already indexed record to the active segment and points the
// index at the copy.
func (s *Spool) rewriteLocked(seq uint64, rec []byte) error {
	seg, err := s.activeLocked(seq, int64(len(rec)))
	if err != nil {
		return err
	}
	n, err := s.opts.writeFile(s.active, rec)
	s.st.BytesWritten += uint64(max(n, 0))
	if err != nil {
		// Copies already rewritten into this segment get fsync'd by the caller's retry loop only if it
		// stays active, so sync before sealing it.
		s.opts.syncFile(s.active)
		s.sealLocked()
		return fmt.Errorf("spool: rewrite batch %d: %w", seq, err)
	}
	if i := s.find(seq); i >= 0 {
		s.index[i].seg.live--
		s.index[i].seg, s.index[i].off = seg, seg.size+headerSize
		seg.live++
	}
	seg.size += int64(len(rec))
	return nil
}

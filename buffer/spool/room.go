package spool

import (
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// Making room: the quota, the filesystem's free space, and eviction of the oldest segments.

// diskReserve is the room the spool leaves free on its filesystem for the writes that must not fail
// on a full disk: the ack log, the sequence lease, the command nonce log. The spool evicts its oldest
// segments before an append would eat into it.
const diskReserve = 64 << 10

// minSegment bounds how small the spool makes segments on a small disk.
const minSegment = 16 << 10

// roomLocked evicts the oldest sealed segments (and a fully acknowledged active one) until the
// filesystem has room for n more bytes and diskReserve, so a full disk is met before a write fails.
// Without statfs it does nothing, and ENOSPC alone decides.
//
// It evicts no more than the shortfall statfs showed, and checks that statfs then shows the room
// freed: a filesystem that reports free space late or wrongly (some network and copy-on-write ones)
// would otherwise have every append evict the whole spool. After such a miss statfs is no longer
// trusted for this run and ENOSPC alone decides.
func (s *Spool) roomLocked(n int64) {
	if s.statfsUntrusted {
		return
	}
	avail, _, err := s.opts.diskSpace(s.opts.Dir)
	if err != nil || avail >= n+diskReserve {
		return
	}
	short := n + diskReserve - avail
	var freed int64
	for freed < short && len(s.segs) > 0 {
		if len(s.segs) == 1 && s.active != nil && s.segs[0].live > 0 {
			break // the write decides: it may still fit, and ENOSPC evicts this segment
		}
		size := s.segs[0].size
		if !s.evictOldestLocked(evictDiskFull) {
			break
		}
		freed += size
	}
	if freed == 0 {
		return
	}
	if after, _, err := s.opts.diskSpace(s.opts.Dir); err == nil && after-avail < freed/2 {
		s.statfsUntrusted = true
		s.log.Warn("the filesystem's free space (statfs) did not grow by what the spool removed: making room only on ENOSPC from now on",
			zap.String("dir", s.opts.Dir), zap.Int64("removed_bytes", freed), zap.Int64("free_before", avail), zap.Int64("free_after", after))
	}
}

// diskFullLocked is an append's answer to ENOSPC: count it and evict the oldest segment, even the
// active one, since sampling must go on. It reports whether anything was freed.
func (s *Spool) diskFullLocked(err error) bool {
	s.st.DiskFullEvents++
	if len(s.segs) == 0 {
		s.log.Error("disk full and the spool holds nothing to evict: the batch is lost; free space on the spool's filesystem",
			zap.String("dir", s.opts.Dir), zap.Error(err))
		return false
	}
	return s.evictOldestLocked(evictDiskFull)
}

// capacityLocked is what the spool may hold now: the quota, or what it holds plus what the disk has
// free, less the reserve, when that is less.
func (s *Spool) capacityLocked(avail int64, known bool) int64 {
	c := s.opts.QuotaBytes
	if known {
		c = min(c, max(s.totalLocked()+avail-diskReserve, 0))
	}
	return c
}

// segLimitLocked is the size of the next segment: SegmentBytes, or an eighth of what the spool can
// hold on this disk when that is less (at least minSegment), so that making room on a small or full
// disk drops an eighth of the backlog, not all of it.
func (s *Spool) segLimitLocked() int64 {
	avail, _, err := s.opts.diskSpace(s.opts.Dir)
	return min(s.opts.SegmentBytes, max(s.capacityLocked(avail, err == nil)/8, minSegment))
}

// evictReason says why a segment is evicted: it decides the log line and the counters.
type evictReason int

const (
	evictQuota    evictReason = iota // spool.quota reached
	evictDiskFull                    // the filesystem is full
)

// evictForLocked evicts the oldest segments until n more bytes fit in the quota. It never evicts the
// only, active segment.
func (s *Spool) evictForLocked(n int64) {
	for s.totalLocked()+n > s.opts.QuotaBytes && len(s.segs) > 0 {
		if len(s.segs) == 1 && s.active != nil {
			return
		}
		if !s.evictOldestLocked(evictQuota) {
			return
		}
	}
}

// evictOldestLocked drops the oldest segment with its unacknowledged batches (counted), sealing it
// first when it is the active one.
func (s *Spool) evictOldestLocked(why evictReason) bool {
	if len(s.segs) == 0 {
		return false
	}
	seg := s.segs[0]
	if len(s.segs) == 1 {
		s.sealLocked()
	}
	kept := s.index[:0]
	var evicted uint64
	for _, e := range s.index {
		if e.seg == seg {
			switch {
			case e.acked:
			case e.sent:
				// In flight: the broker may still acknowledge it. It counts as evicted only if
				// its publish fails (Unsend); an acknowledgement means it was delivered.
				s.evictedInFlight[e.seq] = why == evictDiskFull
			default:
				evicted++
			}
			continue
		}
		kept = append(kept, e)
	}
	s.index = kept
	unsyncd := s.unsyncd[:0]
	for _, r := range s.unsyncd {
		if s.find(r.Seq) >= 0 {
			unsyncd = append(unsyncd, r)
		}
	}
	s.unsyncd = unsyncd
	s.st.Evicted += evicted
	s.segs = s.segs[1:]
	if err := os.Remove(seg.path); err != nil && !os.IsNotExist(err) {
		s.log.Error("remove evicted segment", zap.String("file", seg.path), zap.Error(err))
	}
	fields := []zap.Field{zap.String("segment", filepath.Base(seg.path)), zap.Int64("segment_bytes", seg.size),
		zap.Uint64("evicted", evicted), zap.Uint64("evicted_total", s.st.Evicted)}
	if why == evictDiskFull {
		s.st.EvictedDiskFull += evicted
		avail, _, _ := s.opts.diskSpace(s.opts.Dir)
		s.log.Warn("disk full: evicted the oldest spool segment", append(fields, zap.Int64("disk_free", avail))...)
	} else {
		s.log.Warn("spool over quota: evicted oldest unacknowledged batches", append(fields, zap.Int64("quota", s.opts.QuotaBytes))...)
	}
	return true
}

// MakeRoom evicts the oldest segment, counted as dropped for a full disk, so that a write elsewhere in
// the state directory (the sequence lease) that failed with ENOSPC can be retried. It reports whether
// anything was freed.
func (s *Spool) MakeRoom() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.st.DiskFullEvents++
	return s.evictOldestLocked(evictDiskFull)
}

// RecordLost counts a batch that its maker could not store (no sequence number, an encoding error),
// so that Stats.Lost is every batch lost on the way to the broker, wherever it was lost.
func (s *Spool) RecordLost() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Lost++
}

// Losses returns Stats' Evicted and Lost without the rest of Stats (no statfs, no walk of the index):
// cheap enough for a loop that watches them every few milliseconds.
func (s *Spool) Losses() (evicted, lost uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Evicted, s.st.Lost
}

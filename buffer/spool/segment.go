package spool

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/wayside-iot/wayside/internal/durable"
)

// Segment files: naming, opening the active one, sealing it, their total size.

const segSuffix = ".seg"

// segment is one segment file.
type segment struct {
	id     uint64 // creation order; names the file
	path   string
	size   int64
	limit  int64 // rotate past this size (0: SegmentBytes)
	live   int   // records neither acknowledged nor evicted
	sealed bool
}

// segName is the file name of segment id.
func segName(id uint64) string { return fmt.Sprintf("%020d%s", id, segSuffix) }

// activeLocked returns the segment to append a record of n bytes to, opening a new one when there
// is none or the current one is full or sealed.
func (s *Spool) activeLocked(seq uint64, n int64) (*segment, error) {
	if s.active != nil {
		seg := s.segs[len(s.segs)-1]
		if !seg.sealed && seg.size+n <= seg.limit {
			return seg, nil
		}
		s.syncLocked()
		s.sealLocked()
	}
	seg := &segment{id: s.nextID, path: filepath.Join(s.opts.Dir, segName(s.nextID)), limit: s.segLimitLocked()}
	s.nextID++
	f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("spool: create segment %s: %w", seg.path, err)
	}
	if err := durable.SyncDir(s.opts.Dir); err != nil { // the new name must survive a crash
		f.Close()
		os.Remove(seg.path)
		return nil, fmt.Errorf("spool: sync %s: %w", s.opts.Dir, err)
	}
	s.active = f
	s.segs = append(s.segs, seg)
	return seg, nil
}

// sealLocked closes the active segment for appends.
func (s *Spool) sealLocked() {
	if s.active == nil {
		return
	}
	s.active.Close()
	s.active = nil
	s.segs[len(s.segs)-1].sealed = true
}

// totalLocked returns the bytes of all segments.
func (s *Spool) totalLocked() int64 {
	var t int64
	for _, g := range s.segs {
		t += g.size
	}
	return t
}

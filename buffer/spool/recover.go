package spool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Recovery at Open: the index rebuilt from the segments and acks.log, damaged records skipped or cut.

// recover rebuilds the index from acks.log and the segments.
func (s *Spool) recover() error {
	acked, err := s.readAcks()
	if err != nil {
		return err
	}
	names, err := filepath.Glob(filepath.Join(s.opts.Dir, "*"+segSuffix))
	if err != nil {
		return fmt.Errorf("spool: list %s: %w", s.opts.Dir, err)
	}
	sort.Strings(names)
	seen := map[uint64]bool{}
	for _, path := range names {
		id, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), segSuffix), 10, 64)
		if err != nil {
			s.log.Warn("ignoring stray file in spool", zap.String("file", path))
			continue
		}
		s.nextID = max(s.nextID, id+1)
		seg := &segment{id: id, path: path, sealed: true}
		if err := s.scan(seg, acked, seen); err != nil {
			// An unreadable segment must not stop the daemon, and must not be deleted either: a later
			// start may read it. Keep what was read, log it.
			s.log.Error("spool segment unreadable; kept what could be read", zap.String("file", path), zap.Error(err))
			s.segs = append(s.segs, seg)
			continue
		}
		if seg.live == 0 {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("spool: remove %s: %w", path, err)
			}
			continue
		}
		s.segs = append(s.segs, seg)
	}
	sort.Slice(s.index, func(i, j int) bool { return s.index[i].seq < s.index[j].seq })
	for _, e := range s.index {
		if !e.acked {
			s.st.Recovered++
		}
	}
	if err := s.rewriteAcks(); err != nil {
		return err
	}
	if s.st.TornRecords > 0 || s.st.Recovered > 0 {
		s.log.Info("spool recovered", zap.Int("backlog", s.st.Recovered), zap.Int("segments", len(s.segs)),
			zap.Uint64("torn_records", s.st.TornRecords), zap.Int64("cut_bytes", s.st.CutBytes))
	}
	return nil
}

// scan indexes seg's valid records and truncates a torn or corrupt tail.
func (s *Spool) scan(seg *segment, acked, seen map[uint64]bool) error {
	f, err := os.OpenFile(seg.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	var off int64
	var last uint64 // seq of the last good record: sequence numbers only grow within a segment
	for {
		seq, payload, n, err := parseRecord(data[off:])
		if err == io.EOF {
			break
		}
		if err != nil {
			// A damaged record in the middle of a segment (a flipped bit, a bad sector) must not take
			// the intact records after it: look for the next record whose header and checksum hold.
			if next, ok := resync(data, off+1, last); ok {
				skipped := next - off
				s.st.SkippedRecords++
				s.st.SkippedBytes += skipped
				s.log.Warn("skipped a corrupt record; the records after it are kept", zap.String("file", seg.path),
					zap.Int64("offset", off), zap.Int64("skipped_bytes", skipped), zap.Error(err))
				off = next
				continue
			}
			// Nothing valid after it: a torn tail (a power cut mid-write), cut off.
			cut := int64(len(data)) - off
			s.st.TornRecords++
			s.st.CutBytes += cut
			s.log.Warn("cut torn or corrupt record", zap.String("file", seg.path), zap.Int64("offset", off),
				zap.Int64("cut_bytes", cut), zap.Error(err))
			if terr := f.Truncate(off); terr != nil {
				return fmt.Errorf("truncate at %d: %w", off, terr)
			}
			if serr := f.Sync(); serr != nil {
				return fmt.Errorf("sync after truncate: %w", serr)
			}
			break
		}
		last = seq
		if !seen[seq] {
			// Acknowledged records stay indexed (acked) so acks.log keeps them while their segment lives.
			seen[seq] = true
			e := entry{seq: seq, seg: seg, off: off + headerSize, n: uint32(len(payload)), at: fi.ModTime(), acked: acked[seq]}
			if !e.acked {
				seg.live++
			}
			s.index = append(s.index, e)
		}
		off += int64(n)
	}
	seg.size = off
	return nil
}

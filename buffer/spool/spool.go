package spool

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/wayside-iot/wayside/internal/durable"
	"go.uber.org/zap"
)

const (
	headerSize = 16 // u32 length, u32 crc, u64 seq
	ackSize    = 12 // u64 seq, u32 crc
	segSuffix  = ".seg"
	ackFile    = "acks.log"
	// MaxRecord bounds one batch's payload; a longer length field is corruption.
	MaxRecord = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configures a Spool.
type Options struct {
	Dir          string
	SegmentBytes int64         // rotate after this size; default 4 MiB
	QuotaBytes   int64         // total segment bytes; default 256 MiB
	SyncEvery    int           // fsync after this many appends; default 32
	SyncInterval time.Duration // or after this long since the first unsynced append; default 5s
	Log          *zap.Logger

	// fs hooks for fault injection in tests.
	syncFile  func(*os.File) error
	writeFile func(*os.File, []byte) (int, error)
	diskSpace func(dir string) (avail, size int64, err error)
}

// Stats are the spool's counters.
type Stats struct {
	Segments  int
	Bytes     int64  // segment bytes on disk
	Backlog   int    // batches not yet acknowledged
	Unsent    int    // of those, not handed to the link in this run
	OldestSeq uint64 // oldest unacknowledged batch, 0 when none
	OldestAt  time.Time
	Appended  uint64 // batches appended in this run
	Acked     uint64
	Evicted   uint64 // batches dropped unacknowledged to stay within quota or on a full disk
	// EvictedDiskFull is the part of Evicted dropped because the filesystem was full, not the quota.
	EvictedDiskFull uint64
	// DiskFullEvents counts the times an append found the filesystem too full and made room.
	DiskFullEvents uint64
	Lost           uint64 // batches that could not be stored at all (see RecordLost)
	TornRecords    uint64 // torn or corrupt records at a segment's end, cut off at recovery
	CutBytes       int64  // bytes cut off at recovery
	// SkippedRecords counts corrupt regions found at recovery with intact records after them (each at
	// least one damaged batch, whose length field can no longer be trusted); SkippedBytes their size.
	// The intact records on both sides are kept.
	SkippedRecords uint64
	SkippedBytes   int64
	Recovered      int // unacknowledged batches found at Open
	Fsyncs         uint64
	FsyncErrors    uint64
	BytesWritten   uint64 // bytes written to segment and ack files (write amplification)
	PayloadBytes   uint64 // payload bytes appended
	DurableSeq     uint64 // every append up to this sequence number has been fsync'd

	// The filesystem holding Dir, from statfs when Stats was called; both 0 when unknown.
	DiskFree int64 // bytes the daemon's user may still write
	DiskSize int64
	// Limit is what the spool may grow to now: QuotaBytes, or what fits on the disk (Bytes plus
	// DiskFree less a small reserve) when that is less.
	Limit int64
}

type segment struct {
	id     uint64 // creation order; names the file
	path   string
	size   int64
	limit  int64 // rotate past this size (0: SegmentBytes)
	live   int   // records neither acknowledged nor evicted
	sealed bool
}

type entry struct {
	seq   uint64
	seg   *segment
	off   int64 // of the payload
	n     uint32
	at    time.Time // append time (file mtime of the segment for recovered records)
	sent  bool
	acked bool
}

// Record is one stored batch.
type Record struct {
	Seq     uint64
	Payload []byte
}

// Spool is safe for concurrent use: the batcher appends, the sender takes records, the ack tracker
// acknowledges.
type Spool struct {
	opts Options
	log  *zap.Logger

	mu       sync.Mutex
	segs     []*segment // oldest first
	nextID   uint64     // of the next segment
	active   *os.File   // the newest segment, open for appends; nil until the first append
	index    []entry    // unacknowledged records, by seq
	unsyncd  []Record   // appended since the last good fsync, kept to rewrite after a failed fsync
	firstUns time.Time
	acks     *os.File
	ackBytes int64
	ackDirty bool
	ackSince time.Time // first ack not yet fsync'd
	st       Stats
	closed   bool
	// evictedInFlight holds batches evicted while handed to the link: Ack forgets them (delivered),
	// Unsend counts them as evicted (lost). At most the link's in-flight window.
	evictedInFlight map[uint64]bool // true: for a full disk
	// statfsUntrusted: statfs did not show the room an eviction freed (roomLocked); ENOSPC decides.
	statfsUntrusted bool
}

// Open recovers the spool in opts.Dir, creating it if needed.
func Open(opts Options) (*Spool, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 4 << 20
	}
	if opts.QuotaBytes <= 0 {
		opts.QuotaBytes = 256 << 20
	}
	if opts.QuotaBytes < 2*opts.SegmentBytes {
		opts.SegmentBytes = max(opts.QuotaBytes/2, 4096)
	}
	if opts.SyncEvery <= 0 {
		opts.SyncEvery = 32
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.syncFile == nil {
		opts.syncFile = (*os.File).Sync
	}
	if opts.writeFile == nil {
		opts.writeFile = (*os.File).Write
	}
	if opts.diskSpace == nil {
		opts.diskSpace = diskSpace
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", opts.Dir, err)
	}
	s := &Spool{opts: opts, log: opts.Log.Named("spool"), evictedInFlight: map[uint64]bool{}}
	if err := s.recover(); err != nil {
		return nil, err
	}
	return s, nil
}

func segName(id uint64) string { return fmt.Sprintf("%020d%s", id, segSuffix) }

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

func (s *Spool) sealLocked() {
	if s.active == nil {
		return
	}
	s.active.Close()
	s.active = nil
	s.segs[len(s.segs)-1].sealed = true
}

func (s *Spool) find(seq uint64) int {
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq >= seq })
	if i < len(s.index) && s.index[i].seq == seq {
		return i
	}
	return -1
}

// totalLocked returns the bytes of all segments.
func (s *Spool) totalLocked() int64 {
	var t int64
	for _, g := range s.segs {
		t += g.size
	}
	return t
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
			s.log.Warn("spool: ack log write failed; the batch may be resent after a restart", zap.Uint64("seq", seq), zap.Error(err))
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

// Stats returns the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Segments = len(s.segs)
	st.Bytes = s.totalLocked()
	avail, size, err := s.opts.diskSpace(s.opts.Dir)
	if err == nil {
		st.DiskFree, st.DiskSize = avail, size
	}
	st.Limit = s.capacityLocked(avail, err == nil)
	for _, e := range s.index {
		if e.acked {
			continue
		}
		if st.Backlog == 0 {
			st.OldestSeq, st.OldestAt = e.seq, e.at
		}
		st.Backlog++
		if !e.sent {
			st.Unsent++
		}
	}
	return st
}

// Close fsyncs and closes the files.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if n := len(s.evictedInFlight); n > 0 {
		// Evicted while in flight, and no answer came before the link closed: the broker may have
		// them, but nothing says so; count them as evicted (a city dedupes on seq anyway).
		for _, full := range s.evictedInFlight {
			s.st.Evicted++
			if full {
				s.st.EvictedDiskFull++
			}
		}
		clear(s.evictedInFlight)
		s.log.Warn("batches evicted while in flight got no answer before the stop: counted as evicted", zap.Int("batches", n))
	}
	err := s.syncLocked()
	s.sealLocked()
	if s.acks != nil {
		err = errors.Join(err, s.acks.Close())
	}
	return err
}

package spool

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// The Spool itself: its options and counters, Open, Stats and Close. The other files hold one concern
// each: record.go the on-disk encoding, segment.go the segment files, append.go and read.go the write
// and read paths, ack.go acks.log, sync.go the fsyncs, recover.go the repair at Open, room.go eviction.

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

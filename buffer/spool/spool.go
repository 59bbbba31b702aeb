package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

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

// diskReserve is the room the spool leaves free on its filesystem for the writes that must not fail
// on a full disk: the ack log, the sequence lease, the command nonce log. The spool evicts its oldest
// segments before an append would eat into it.
const diskReserve = 64 << 10

// minSegment bounds how small the spool makes segments on a small disk.
const minSegment = 16 << 10

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
				s.log.Warn("spool: skipped a corrupt record; the records after it are kept", zap.String("file", seg.path),
					zap.Int64("offset", off), zap.Int64("skipped_bytes", skipped), zap.Error(err))
				off = next
				continue
			}
			// Nothing valid after it: a torn tail (a power cut mid-write), cut off.
			cut := int64(len(data)) - off
			s.st.TornRecords++
			s.st.CutBytes += cut
			s.log.Warn("spool: cut torn or corrupt record", zap.String("file", seg.path), zap.Int64("offset", off),
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

// resync returns the offset of the first record at or after from whose header and checksum hold and
// whose sequence number is above after (records are appended in increasing order, so an older number
// is no resynchronisation point but a coincidence inside a payload). A random 16-byte window passes the
// CRC-32C with odds of 2^-32, and must also carry a plausible length and number.
func resync(data []byte, from int64, after uint64) (int64, bool) {
	for off := from; off+headerSize <= int64(len(data)); off++ {
		// The checksum only for a plausible header: a length that fits, a number that follows.
		length := int64(binary.LittleEndian.Uint32(data[off:]))
		seq := binary.LittleEndian.Uint64(data[off+8:])
		if length > MaxRecord || off+headerSize+length > int64(len(data)) || seq <= after ||
			(after > 0 && seq-after > 1<<24) {
			continue
		}
		if _, _, _, err := parseRecord(data[off:]); err == nil {
			return off, true
		}
	}
	return 0, false
}

// errCorrupt reports a record whose length or checksum is wrong.
var errCorrupt = errors.New("corrupt record")

// parseRecord decodes the record at the start of b: its seq, payload and total size. It returns
// io.EOF for an empty b and errCorrupt (wrapped) for a short or damaged record.
func parseRecord(b []byte) (seq uint64, payload []byte, n int, err error) {
	if len(b) == 0 {
		return 0, nil, 0, io.EOF
	}
	if len(b) < headerSize {
		return 0, nil, 0, fmt.Errorf("%w: %d-byte header, want %d", errCorrupt, len(b), headerSize)
	}
	length := binary.LittleEndian.Uint32(b[0:4])
	sum := binary.LittleEndian.Uint32(b[4:8])
	if length > MaxRecord {
		return 0, nil, 0, fmt.Errorf("%w: length %d exceeds %d", errCorrupt, length, MaxRecord)
	}
	if len(b)-headerSize < int(length) {
		return 0, nil, 0, fmt.Errorf("%w: payload of %d bytes, %d present", errCorrupt, length, len(b)-headerSize)
	}
	if crc32.Checksum(b[8:headerSize+int(length)], castagnoli) != sum {
		return 0, nil, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	seq = binary.LittleEndian.Uint64(b[8:16])
	return seq, b[headerSize : headerSize+int(length)], headerSize + int(length), nil
}

// appendRecord appends the encoding of (seq, payload) to dst.
func appendRecord(dst []byte, seq uint64, payload []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	c := crc32.Update(0, castagnoli, h[8:16])
	c = crc32.Update(c, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], c)
	return append(append(dst, h[:]...), payload...)
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
		seq := binary.LittleEndian.Uint64(b[0:8])
		if crc32.Checksum(b[0:8], castagnoli) != binary.LittleEndian.Uint32(b[8:12]) {
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
	if err := writeFileSync(path, buf); err != nil {
		// Keep appending to the old log (or open it, at start): acks.log only grows longer than needed.
		s.log.Warn("spool: compacting acks.log failed; keeping the old one", zap.Error(err))
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

func appendAck(dst []byte, seq uint64) []byte {
	var b [ackSize]byte
	binary.LittleEndian.PutUint64(b[0:8], seq)
	binary.LittleEndian.PutUint32(b[8:12], crc32.Checksum(b[0:8], castagnoli))
	return append(dst, b[:]...)
}

// writeFileSync replaces path with data atomically and durably.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

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
	if err := syncDir(s.opts.Dir); err != nil { // the new name must survive a crash
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
			s.log.Error("spool: fsync failed; rewriting unsynced batches to a new segment", zap.Error(err),
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
		s.log.Error("spool: remove evicted segment", zap.String("file", seg.path), zap.Error(err))
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

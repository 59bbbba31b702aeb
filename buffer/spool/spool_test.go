package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
)

func payload(seq uint64) []byte {
	n := 40 + int(seq%200)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq>>(8*(i%8))) ^ byte(i)
	}
	return b
}

func open(t *testing.T, dir string, mod func(*Options)) *Spool {
	t.Helper()
	o := Options{Dir: dir, SegmentBytes: 4096, SyncEvery: 4}
	if mod != nil {
		mod(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain takes every unsent record, oldest first, and checks their payloads.
func drain(t *testing.T, s *Spool) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := 0; i < 1_000_000; i++ {
		r, ok, err := s.Next(false)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if !bytes.Equal(r.Payload, payload(r.Seq)) {
			t.Fatalf("batch %d: payload differs", r.Seq)
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestAppendAckReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	for seq := uint64(1); seq <= 100; seq++ {
		if err := s.Append(seq, payload(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Segments < 3 || st.Backlog != 100 || st.Unsent != 100 || st.OldestSeq != 1 {
		t.Fatalf("stats after appends: %+v", st)
	}
	// newest first for live data, oldest first for the backlog
	if r, _, _ := s.Next(true); r.Seq != 100 {
		t.Fatalf("Next(newest) = %d", r.Seq)
	}
	got := drain(t, s)
	if fmt.Sprint(got) != fmt.Sprint(seqRange(1, 99)) {
		t.Fatalf("drained %v", got)
	}
	for seq := uint64(1); seq <= 60; seq++ {
		if err := s.Ack(seq); err != nil {
			t.Fatal(err)
		}
	}
	s.Unsend(70)
	if r, ok, _ := s.Next(false); !ok || r.Seq != 70 {
		t.Fatalf("after Unsend(70), Next = %d %v", r.Seq, ok)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, nil)
	defer s.Close()
	if got := drain(t, s); fmt.Sprint(got) != fmt.Sprint(seqRange(61, 100)) {
		t.Fatalf("after reopen: %v", got)
	}
	if st := s.Stats(); st.Recovered != 40 || st.TornRecords != 0 {
		t.Fatalf("recovery stats %+v", st)
	}
	// fully acknowledged segments are gone from disk
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(files) >= 6 {
		t.Fatalf("%d segment files left for 40 batches", len(files))
	}
}

func lastSegment(t *testing.T, dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no segments")
	}
	return files[len(files)-1]
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, func(o *Options) { o.SegmentBytes = 1 << 20 })
	for seq := uint64(1); seq <= 10; seq++ {
		s.Append(seq, payload(seq))
	}
	s.Close()
	seg := lastSegment(t, dir)
	fi, _ := os.Stat(seg)
	// power cut in the middle of the last record
	if err := os.Truncate(seg, fi.Size()-int64(len(payload(10)))/2); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, nil)
	if got := drain(t, s); fmt.Sprint(got) != fmt.Sprint(seqRange(1, 9)) {
		t.Fatalf("after a torn tail: %v", got)
	}
	st := s.Stats()
	if st.TornRecords != 1 || st.CutBytes == 0 {
		t.Fatalf("torn tail not counted: %+v", st)
	}
	// the tail was cut on disk, and new appends go on after it
	s.Append(11, payload(11))
	s.Close()
	s = open(t, dir, nil)
	defer s.Close()
	if got := drain(t, s); fmt.Sprint(got) != fmt.Sprint(append(seqRange(1, 9), 11)) {
		t.Fatalf("after append past a cut tail: %v", got)
	}
	if s.Stats().TornRecords != 0 {
		t.Fatal("the cut tail was found again")
	}
}

func TestBitFlip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, func(o *Options) { o.SegmentBytes = 1 << 20 })
	var offs []int64
	var off int64
	for seq := uint64(1); seq <= 10; seq++ {
		offs = append(offs, off)
		off += int64(headerSize + len(payload(seq)))
		s.Append(seq, payload(seq))
	}
	s.Close()
	seg := lastSegment(t, dir)
	b, _ := os.ReadFile(seg)
	b[offs[6]+headerSize+3] ^= 0x10 // one bit in batch 7's payload
	os.WriteFile(seg, b, 0o640)
	s = open(t, dir, nil)
	defer s.Close()
	if got := drain(t, s); fmt.Sprint(got) != fmt.Sprint(seqRange(1, 6)) {
		t.Fatalf("after a bit flip in batch 7: %v", got)
	}
	if st := s.Stats(); st.TornRecords != 1 || st.CutBytes != off-offs[6] {
		t.Fatalf("corruption not counted: %+v", st)
	}
}

func TestQuotaEvictsOldest(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, func(o *Options) { o.SegmentBytes = 2048; o.QuotaBytes = 8192 })
	defer s.Close()
	for seq := uint64(1); seq <= 300; seq++ {
		if err := s.Append(seq, payload(seq)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Bytes > 8192 || st.Evicted == 0 || st.Evicted+uint64(st.Backlog) != 300 {
		t.Fatalf("quota: %+v", st)
	}
	got := drain(t, s)
	if got[len(got)-1] != 300 || got[0] != 300-uint64(len(got))+1 {
		t.Fatalf("kept %d..%d, want the newest", got[0], got[len(got)-1])
	}
}

func TestENOSPC(t *testing.T) {
	dir := t.TempDir()
	full := 0
	s := open(t, dir, func(o *Options) {
		o.SegmentBytes = 2048
		o.writeFile = func(f *os.File, b []byte) (int, error) {
			if full > 0 {
				full--
				n, _ := f.Write(b[:len(b)/2]) // a partial write, as a full disk gives
				return n, fmt.Errorf("write %s: %w", f.Name(), syscall.ENOSPC)
			}
			return f.Write(b)
		}
	})
	for seq := uint64(1); seq <= 40; seq++ {
		s.Append(seq, payload(seq))
	}
	full = 1
	if err := s.Append(41, payload(41)); err != nil {
		t.Fatalf("append on a full disk with old segments to evict: %v", err)
	}
	full = 2 // no room even after evicting
	if err := s.Append(42, payload(42)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append that cannot fit: %v", err)
	}
	s.Append(43, payload(43))
	st := s.Stats()
	if st.Evicted == 0 || st.Lost != 1 {
		t.Fatalf("ENOSPC accounting: %+v", st)
	}
	s.Close()
	// the partial records were cut at recovery; 41 and 43 are intact
	s = open(t, dir, nil)
	defer s.Close()
	got := drain(t, s)
	if got[len(got)-1] != 43 || got[len(got)-2] != 41 {
		t.Fatalf("after ENOSPC: %v", got)
	}
	if s.Stats().TornRecords == 0 {
		t.Fatal("the partial writes were not found as torn records")
	}
}

func TestFailedFsyncRewrites(t *testing.T) {
	dir := t.TempDir()
	fail := false
	s := open(t, dir, func(o *Options) {
		o.SegmentBytes = 1 << 20
		o.syncFile = func(f *os.File) error {
			if fail && filepath.Ext(f.Name()) == ".seg" {
				fail = false
				return fmt.Errorf("fsync %s: %w", f.Name(), syscall.EIO)
			}
			return f.Sync()
		}
	})
	for seq := uint64(1); seq <= 6; seq++ {
		s.Append(seq, payload(seq))
	}
	fail = true
	if err := s.Sync(); err == nil {
		t.Fatal("a failed fsync was not reported")
	}
	st := s.Stats()
	if st.FsyncErrors != 1 || st.DurableSeq != 6 || st.Segments != 2 {
		t.Fatalf("after a failed fsync: %+v", st)
	}
	s.Close()
	s = open(t, dir, nil)
	defer s.Close()
	if got := drain(t, s); fmt.Sprint(got) != fmt.Sprint(seqRange(1, 6)) {
		t.Fatalf("after rewrite, each batch once: %v", got)
	}
}

func TestSyncPolicy(t *testing.T) {
	s := open(t, t.TempDir(), func(o *Options) { o.SyncEvery = 10 })
	defer s.Close()
	for seq := uint64(1); seq <= 25; seq++ {
		s.Append(seq, payload(seq))
	}
	if st := s.Stats(); st.Fsyncs != 2 || st.DurableSeq != 20 {
		t.Fatalf("with SyncEvery 10, 25 appends: %d fsyncs, durable to %d", st.Fsyncs, st.DurableSeq)
	}
}

func TestOversizedBatch(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	defer s.Close()
	if err := s.Append(1, make([]byte, MaxRecord+1)); err == nil {
		t.Fatal("oversized batch accepted")
	}
}

// FuzzRecover writes arbitrary bytes as a segment and an ack log; Open must recover without error
// and every record it offers must be intact.
func FuzzRecover(f *testing.F) {
	var good []byte
	for seq := uint64(1); seq <= 3; seq++ {
		good = appendRecord(good, seq, payload(seq))
	}
	f.Add(good, appendAck(nil, 2))
	f.Add(good[:len(good)-5], []byte{1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, []byte{})
	f.Fuzz(func(t *testing.T, seg, acks []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o640)
		os.WriteFile(filepath.Join(dir, ackFile), acks, 0o640)
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i := 0; i < 10000; i++ {
			r, ok, err := s.Next(false)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if !bytes.Contains(seg, r.Payload) {
				t.Fatalf("batch %d: payload not from the segment", r.Seq)
			}
		}
	})
}

// TestWriteAmplification reports the bytes written to disk per payload byte and the fsyncs per 1000
// batches at the default policy, for batches the size of a 100-reading pack, each acknowledged.
func TestWriteAmplification(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()}) // defaults: 4 MiB segments, sync every 32 or 5 s
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := bytes.Repeat([]byte{0x5a}, 3900)
	for seq := uint64(1); seq <= 1000; seq++ {
		if err := s.Append(seq, body); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Next(true); !ok {
			t.Fatal("nothing to send")
		}
		if err := s.Ack(seq); err != nil {
			t.Fatal(err)
		}
	}
	s.Sync()
	st := s.Stats()
	amp := float64(st.BytesWritten) / float64(st.PayloadBytes)
	t.Logf("write_amplification=%.4f fsyncs_per_1000_batches=%d bytes_written=%d payload=%d", amp, st.Fsyncs, st.BytesWritten, st.PayloadBytes)
	if amp > 1.02 || st.Fsyncs > 2*(1000/32)+4 { // segment + ack log per group
		t.Fatalf("amplification %.3f, %d fsyncs: the grouped-write policy is not working", amp, st.Fsyncs)
	}
}

// TestFailedFsyncAfterAck: a batch acknowledged before its fsync, then a failed fsync, must not
// make the older segment look empty and be deleted with an unacknowledged batch in it.
func TestFailedFsyncAfterAck(t *testing.T) {
	dir := t.TempDir()
	fail := false
	s := open(t, dir, func(o *Options) {
		o.SyncEvery = 2
		o.syncFile = func(f *os.File) error {
			if fail {
				fail = false
				return syscall.EIO
			}
			return f.Sync()
		}
	})
	for seq := uint64(1); seq <= 3; seq++ { // 1, 2 synced; 3 not yet
		s.Append(seq, payload(seq))
	}
	s.Ack(3) // the broker was quicker than the fsync policy
	fail = true
	s.Append(4, payload(4)) // its fsync fails: 4 is rewritten to a new segment
	s.Ack(1)
	if got := drain(t, s); fmt.Sprint(got) != "[2 4]" {
		t.Fatalf("unacknowledged after a failed fsync: %v, want [2 4]", got)
	}
	s.Close()
	s = open(t, dir, nil)
	defer s.Close()
	if got := drain(t, s); fmt.Sprint(got) != "[2 4]" {
		t.Fatalf("after reopen: %v, want [2 4]", got)
	}
}

// TestFailedWriteSyncsSealedSegment: records before a failed write in the same segment are fsync'd
// before the segment is sealed, so DurableSeq does not lie about them.
func TestFailedWriteSyncsSealedSegment(t *testing.T) {
	synced := map[string]int{}
	failWrite := false
	s := open(t, t.TempDir(), func(o *Options) {
		o.SyncEvery = 4
		o.syncFile = func(f *os.File) error { synced[filepath.Base(f.Name())]++; return f.Sync() }
		o.writeFile = func(f *os.File, b []byte) (int, error) {
			if failWrite {
				failWrite = false
				n, _ := f.Write(b[:3])
				return n, syscall.EIO
			}
			return f.Write(b)
		}
	})
	defer s.Close()
	s.Append(1, payload(1))
	s.Append(2, payload(2))
	failWrite = true
	s.Append(3, payload(3)) // first attempt tears, the retry goes to a new segment
	if synced[segName(0)] == 0 {
		t.Fatalf("segment holding 1 and 2 sealed without an fsync: %v", synced)
	}
}

// TestUnreadableSegmentKept: a segment recovery cannot read is kept on disk, not deleted as empty.
// A directory in a segment's name stands in for a bad sector: reading it fails for root too.
func TestUnreadableSegmentKept(t *testing.T) {
	dir := t.TempDir()
	seg := filepath.Join(dir, segName(0))
	if err := os.Mkdir(seg, 0o750); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, nil)
	if err := s.Append(1, payload(1)); err != nil { // the spool goes on in a new segment
		t.Fatal(err)
	}
	s.Close()
	if fi, err := os.Stat(seg); err != nil || !fi.IsDir() {
		t.Fatalf("unreadable segment deleted: %v", err)
	}
	s = open(t, dir, nil)
	defer s.Close()
	if got := drain(t, s); fmt.Sprint(got) != "[1]" {
		t.Fatalf("after an unreadable segment: %v", got)
	}
}

// TestNextAfterInOrder: live data after a mark comes oldest first, so a sender that falls behind
// sends what it missed in the order it was made instead of leaving it to the paced backlog.
func TestNextAfterInOrder(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	defer s.Close()
	for seq := uint64(1); seq <= 10; seq++ {
		if err := s.Append(seq, payload(seq)); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	for mark := uint64(4); ; {
		r, ok, err := s.NextAfter(mark)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, r.Seq)
		mark = r.Seq
	}
	if fmt.Sprint(got) != fmt.Sprint(seqRange(5, 10)) {
		t.Fatalf("live after 4: %v", got)
	}
	if r, ok, _ := s.Next(false); !ok || r.Seq != 1 {
		t.Fatalf("backlog starts at %d %v, want 1", r.Seq, ok)
	}
}

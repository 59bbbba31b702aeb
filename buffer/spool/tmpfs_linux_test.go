package spool

import (
	"os"
	"os/exec"
	"testing"
)

// TestRealDiskFull runs the spool on a 256 KiB tmpfs with a quota far above it, so the filesystem,
// not the quota, bounds it: statfs makes room before a write fails, and no batch is lost.
// It needs root to mount; elsewhere it skips.
func TestRealDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	s, err := Open(Options{Dir: dir, SegmentBytes: 16 << 10, QuotaBytes: 1 << 30, SyncEvery: 8})
	if err != nil {
		t.Fatal(err)
	}
	var failed int
	for seq := uint64(1); seq <= 2000; seq++ { // ~400 KiB of batches into 256 KiB
		if err := s.Append(seq, payload(seq)); err != nil {
			failed++
		}
	}
	st := s.Stats()
	t.Logf("tmpfs 256KiB: appended=%d evicted=%d lost=%d backlog=%d bytes=%d append_errors=%d", st.Appended, st.Evicted, st.Lost, st.Backlog, st.Bytes, failed)
	if st.Evicted == 0 || st.Appended+st.Lost != 2000 || st.Lost != uint64(failed) {
		t.Fatalf("disk full not handled by eviction: %+v", st)
	}
	if st.Lost != 0 || failed != 0 {
		t.Fatalf("%d batches lost: eviction must make room for every one", st.Lost)
	}
	if st.DiskSize == 0 || st.Limit > st.DiskSize || st.Segments < 4 {
		t.Fatalf("the spool should size itself to the 256 KiB disk, in several segments: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	// everything kept is intact after a reopen, newest last
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := drain(t, s)
	if len(got) == 0 || got[len(got)-1] != 2000 {
		t.Fatalf("after a full disk, kept %d batches ending at %v", len(got), got[len(got)-1:])
	}
}

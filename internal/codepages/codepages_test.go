package codepages

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// A maps excerpt in the layout of proc(5) ("/proc/pid/maps"): the executable's text (r-xp), its
// read-only data (r--p) and its data (rw-p), a shared library, the heap, an anonymous mapping and the
// stack.
const sampleMaps = `00400000-008c2000 r-xp 00000000 fd:00 1311 /usr/bin/waysided
008c2000-00db7000 r--p 004c2000 fd:00 1311 /usr/bin/waysided
00db7000-00e19000 rw-p 009b7000 fd:00 1311 /usr/bin/waysided
00e19000-02e5d000 rw-p 00000000 00:00 0
7f0c1a000000-7f0c1a022000 r-xp 00000000 fd:00 2201 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f0c1a100000-7f0c1a101000 r--s 00000000 fd:00 1311 /usr/bin/waysided
7ffd5e5f0000-7ffd5e611000 rw-p 00000000 00:00 0 [stack]
7f0c1b000000-7f0c1b010000 r--p 00000000 fd:00 9 /opt/with space/waysided
`

func TestExecMappings(t *testing.T) {
	got, err := ExecMappings(strings.NewReader(sampleMaps), "/usr/bin/waysided")
	if err != nil {
		t.Fatal(err)
	}
	// Only the two private, non-writable mappings of the executable: not its data (rw-p), not a
	// shared mapping of it (r--s), not the loader, not anonymous memory.
	want := []Mapping{{0x400000, 0x8c2000, "r-xp"}, {0x8c2000, 0xdb7000, "r--p"}}
	if len(got) != len(want) {
		t.Fatalf("got %d mappings %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := got[0].Len(); n != 0x4c2000 {
		t.Errorf("Len = %#x, want 0x4c2000", n)
	}
	spaced, err := ExecMappings(strings.NewReader(sampleMaps), "/opt/with space/waysided")
	if err != nil || len(spaced) != 1 || spaced[0].Start != 0x7f0c1b000000 {
		t.Errorf("a path with a space: got %+v, %v; want the one r--p mapping", spaced, err)
	}
}

func TestExecMappingsBadLine(t *testing.T) {
	for _, line := range []string{
		"00400000 r-xp 00000000 fd:00 1311 /usr/bin/waysided",          // no range
		"00400000-zz r-xp 00000000 fd:00 1311 /usr/bin/waysided",       // not hex
		"008c2000-00400000 r-xp 00000000 fd:00 1311 /usr/bin/waysided", // end before start
	} {
		if m, err := ExecMappings(strings.NewReader(line+"\n"), "/usr/bin/waysided"); err == nil {
			t.Errorf("%q: got %+v, want an error", line, m)
		}
	}
}

// written lives in the binary's data segment (an initialised variable): a private, writable mapping of
// the executable that Trim must leave alone, or the value would fall back to the file's.
var written = [4]uint64{1, 2, 3, 4}

func TestTrim(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, err := Trim(); err == nil {
			t.Fatal("Trim off Linux: want an error")
		}
		return
	}
	written[2] = 42
	r, err := Trim()
	if err != nil {
		t.Fatal(err)
	}
	if r.Mappings < 1 || r.Bytes == 0 {
		t.Fatalf("Trim advised %d mappings of %d bytes; want the executable's read-only ones", r.Mappings, r.Bytes)
	}
	if written != [4]uint64{1, 2, 42, 4} {
		t.Fatalf("the data segment changed under Trim: %v", written)
	}
	if os.Getenv("WAYSIDE_TEST_EXEC") != "" {
		return // qemu-user emulates madvise and /proc; the RSS figures are not the kernel's
	}
	// The test binary's text was faulted in 64 KiB at a time while the test ran; after the trim only
	// what runs (this goroutine, the runtime) is mapped again.
	t.Logf("RssFile %d kB before, %d kB after; %d mappings, %d kB", r.RSSFileBefore>>10, r.RSSFileAfter>>10, r.Mappings, r.Bytes>>10)
	if r.RSSFileBefore == 0 || r.RSSFileAfter >= r.RSSFileBefore {
		t.Errorf("RssFile %d before, %d after the trim: want it lower", r.RSSFileBefore, r.RSSFileAfter)
	}
}

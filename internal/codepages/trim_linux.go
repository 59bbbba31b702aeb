package codepages

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Trim advises the running executable's read-only mappings MADV_RANDOM and drops them from the page
// tables with MADV_DONTNEED (see the package comment). It is safe at any time, from any goroutine, and
// as often as wanted: the code running it faults back in like any other.
func Trim() (Result, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return Result{}, fmt.Errorf("codepages: find the executable: %w", err)
	}
	exe = filepath.Clean(exe)
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return Result{}, fmt.Errorf("codepages: %w", err)
	}
	maps, err := ExecMappings(f, exe)
	f.Close()
	if err != nil {
		return Result{}, err
	}
	if len(maps) == 0 {
		return Result{}, fmt.Errorf("codepages: no read-only mapping of %s in /proc/self/maps", exe)
	}
	r := Result{RSSFileBefore: rssFile()}
	for _, m := range maps {
		if err := madvise(m, unix.MADV_RANDOM, exe); err != nil {
			return r, err
		}
		r.Mappings++
		r.Bytes += m.Len()
	}
	// Two rounds: drop the pages from the page tables, then ask the page cache to forget the file's
	// pages that nobody maps. Fault-around maps only neighbours that are in the cache, and MADV_RANDOM
	// turns read-ahead off, so once the cache has forgotten a page it comes back only when it runs.
	// The daemon's other threads keep running meanwhile and fault their hot pages straight back, with
	// the cached neighbours of each; the second round drops those neighbours too.
	for round := 0; round < 2; round++ {
		for _, m := range maps {
			if err := madvise(m, unix.MADV_DONTNEED, exe); err != nil {
				return r, err
			}
		}
		if err := forget(exe); err != nil {
			return r, err
		}
	}
	r.RSSFileAfter = rssFile()
	return r, nil
}

// madvise gives advice for m by address: m is not Go memory, and converting its address to an
// unsafe.Pointer to make a []byte would be the misuse that vet rightly flags.
func madvise(m Mapping, advice uintptr, exe string) error {
	if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(m.Start), uintptr(m.Len()), advice); e != 0 {
		return fmt.Errorf("codepages: madvise %#x-%#x (%s %s): %w", m.Start, m.End, m.Perms, exe, e)
	}
	return nil
}

// forget drops the executable's unmapped pages from the page cache (POSIX_FADV_DONTNEED). Pages some
// process still maps stay; so do dirty ones, of which a running binary has none.
func forget(exe string) error {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("codepages: open %s: %w", exe, err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("codepages: fadvise %s: %w", exe, err)
	}
	return nil
}

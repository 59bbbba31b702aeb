package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// noTemp fails t when WriteFile left its temporary file behind.
func noTemp(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWriteFileCreatesAndReplaces: the file gets the data and the mode, a second write replaces it
// whole, and no temporary file stays.
func TestWriteFileCreatesAndReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	if err := WriteFile(path, []byte("first version\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "first version\n" {
		t.Fatalf("after the first write: %q", got)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	noTemp(t, path)
	if err := WriteFile(path, []byte("2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "2" {
		t.Fatalf("after the second write: %q, want the shorter data alone", got)
	}
	noTemp(t, path)
}

// TestWriteFileStaleTemp: a temporary file left by a crash, with a looser mode, does not lend the new
// file its mode.
func TestWriteFileStaleTemp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path+".tmp", []byte("half a key from before the crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600 despite the 0644 leftover", fi.Mode().Perm(), err)
	}
	if got := readFile(t, path); got != "key" {
		t.Fatalf("content %q", got)
	}
	noTemp(t, path)
}

// TestWriteFileFailureKeepsOld: when the temporary file cannot be created (a directory holds its name)
// or cannot be renamed over the target (a directory), the old file is untouched.
func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acks.log")
	if err := WriteFile(path, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path+".tmp", 0o750); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o640); err == nil {
		t.Fatal("WriteFile succeeded with a directory at the temporary name")
	}
	if got := readFile(t, path); got != "old" {
		t.Fatalf("after a failed write: %q, want the old content", got)
	}
	if fi, err := os.Stat(path + ".tmp"); err != nil || !fi.IsDir() {
		t.Fatalf("the directory at the temporary name was touched: %v", err)
	}

	// Renaming a file over a non-empty directory fails: the temporary file must go.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, []byte("x"), 0o640); err == nil {
		t.Fatal("WriteFile renamed over a non-empty directory")
	}
	noTemp(t, target)
}

// TestWriteFileMissingDir: an error naming the file, nothing created.
func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone", "state")
	err := WriteFile(path, []byte("x"), 0o640)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFile into a missing directory: %v, want not exist", err)
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncDir of a missing directory: %v, want not exist", err)
	}
}

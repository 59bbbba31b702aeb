// Package durable owns the crash-safe file writes of the daemon's state directory: replacing a file
// atomically and durably (temporary file, fsync, rename, fsync of the directory) and fsyncing a
// directory after a name was created, renamed or removed in it. The spool (acks.log), the gateway
// (sequence lease, key) and the command replay cache use it, so each of those files is either the old
// or the new version after a power cut, never a mix or an empty file.
//
// Errors are those of package os, which name the operation and the file; callers wrap them with what
// they were writing.
package durable

import (
	"errors"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data atomically and durably: it writes path+".tmp" with mode perm,
// fsyncs it, renames it over path and fsyncs path's directory. On failure path is unchanged and the
// temporary file is removed (a stale one would hold space on a full disk).
//
// A regular file left at path+".tmp" by a crash is removed first: O_CREATE would keep its mode, and
// the new file must have perm from its creation (a key must never be readable by others). Anything
// else there (a directory) makes WriteFile fail.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if fi, err := os.Lstat(tmp); err == nil && !fi.IsDir() {
		os.Remove(tmp)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
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
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs the directory dir, so that names created, renamed or removed in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

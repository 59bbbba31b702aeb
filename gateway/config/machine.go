package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
)

// Checks against the machine the file is checked on: the operator group, the state directory, the
// socket's directory and the spool's filesystem. They run in Parse, so -check-config, a start and a
// reload judge a file the same way, and a file that passes does not fail later on these.

// virtualFS are the kernel's virtual filesystems: nothing written under them is kept (or can be written
// at all), so the spool must not live there.
var virtualFS = []string{"/proc", "/sys", "/dev"}

// statFS returns the size in bytes of the filesystem holding path; a seam for tests.
var statFS = filesystemSize

func (c *Config) checkMachine() Errors {
	var errs Errors
	add := func(path, format string, a ...any) {
		errs = append(errs, &Error{Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	if c.Spool.Dir != "" {
		if msg := checkStateDir(c.Spool.Dir); msg != "" {
			add("spool.dir", "%s", msg)
		}
	}
	if c.Local.Socket != "off" && c.Local.Socket != "" {
		if msg := checkSocketDir(c.Local.Socket, c.Spool.Dir); msg != "" {
			add("local_api.socket", "%s", msg)
		}
		if g := c.Local.Group; g != "" {
			if _, err := user.LookupGroup(g); err != nil {
				var unknown user.UnknownGroupError
				if errors.As(err, &unknown) {
					add("local_api.group", "group %q does not exist on this machine; create it (sudo groupadd %s, then sudo usermod -aG %s <technician>, and add it to the unit's SupplementaryGroups=), use the package's wayside group (local_api.group: wayside), or remove the key", g, g, g)
				} else {
					add("local_api.group", "group %q cannot be looked up: %v", g, err)
				}
			}
		}
	}
	return errs
}

// checkStateDir tells what is wrong with dir as spool.dir, "" when nothing. A relative dir is allowed
// (the sim board's ./var/sim); it is relative to the daemon's working directory, / under systemd.
func checkStateDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Sprintf("%s: %v", dir, err)
	}
	if v := underVirtual(abs); v != "" {
		return fmt.Sprintf("%s is under %s, a virtual filesystem of the kernel where nothing is kept; use a directory on the gateway's storage, e.g. /var/lib/wayside (the default)", dir, v)
	}
	near, err := nearestExisting(abs)
	if err != nil {
		return fmt.Sprintf("%s: %v", dir, err)
	}
	if real, err := filepath.EvalSymlinks(near); err == nil && real != near {
		if v := underVirtual(real); v != "" {
			return fmt.Sprintf("%s leads to %s, under %s, a virtual filesystem of the kernel where nothing is kept; use a directory on the gateway's storage, e.g. /var/lib/wayside (the default)", dir, real, v)
		}
	}
	if fi, err := os.Stat(near); err == nil && !fi.IsDir() {
		if near == abs {
			return fmt.Sprintf("%s exists and is not a directory; remove it, or set spool.dir to a directory", dir)
		}
		return fmt.Sprintf("%s is a file, so %s cannot be created in it; set spool.dir to a directory", near, dir)
	}
	return ""
}

// checkSocketDir tells what is wrong with the directory of the local API's socket, "" when nothing.
// The daemon makes only the socket's own directory, when its parent exists (localapi.Listen), and
// makes spool.dir with its parents before the API listens: the socket's directory or its parent must
// exist now or be one of those.
func checkSocketDir(sock, spoolDir string) string {
	dir := filepath.Dir(sock)
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Sprintf("%s is not a directory, so the socket %s cannot be made in it", dir, sock)
	case err == nil:
		return ""
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return fmt.Sprintf("socket directory %s: %v", dir, err)
	}
	parent := filepath.Dir(dir)
	willExist := func(d string) bool {
		if within(spoolDir, d) { // spool.dir or one of its parents: the gateway makes them
			return true
		}
		fi, err := os.Stat(d)
		return err == nil && fi.IsDir()
	}
	if willExist(dir) || willExist(parent) {
		return ""
	}
	return fmt.Sprintf("neither %s nor its parent %s exists, and the daemon creates only the socket's own directory; create it (sudo install -d -m 0750 %s), or use /run/wayside/local.sock (the unit's RuntimeDirectory=wayside creates /run/wayside)", dir, parent, dir)
}

// within tells whether dir is base or inside it.
func within(dir, base string) bool {
	if dir == "" || base == "" {
		return false
	}
	d, err1 := filepath.Abs(dir)
	b, err2 := filepath.Abs(base)
	if err1 != nil || err2 != nil {
		return false
	}
	return d == b || strings.HasPrefix(d, b+string(filepath.Separator)) || b == string(filepath.Separator)
}

// underVirtual returns the virtual filesystem abs is on, "" when none.
func underVirtual(abs string) string {
	for _, v := range virtualFS {
		if abs == v || strings.HasPrefix(abs, v+"/") {
			return v
		}
	}
	return ""
}

// nearestExisting returns abs or its nearest ancestor that exists.
func nearestExisting(abs string) (string, error) {
	p := abs
	for {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", err
		}
		up := filepath.Dir(p)
		if up == p {
			return "", err
		}
		p = up
	}
}

// warnings are the problems that do not make the file invalid: they are printed by -check-config.
func (c *Config) warnings() Errors {
	var ws Errors
	if w := c.quotaWarning(); w != nil {
		ws = append(ws, w)
	}
	return ws
}

// quotaWarning warns when spool.quota is more than the whole filesystem holding spool.dir: the disk
// would fill before the quota evicts anything, and the spool then fails to write instead.
func (c *Config) quotaWarning() *Error {
	abs, err := filepath.Abs(c.Spool.Dir)
	if err != nil {
		return nil
	}
	near, err := nearestExisting(abs)
	if err != nil {
		return nil
	}
	total, err := statFS(near)
	if err != nil || total == 0 || uint64(c.Spool.QuotaBytes) <= total {
		return nil
	}
	suggest := int64(total/2) &^ (1<<20 - 1) // half the filesystem, in whole MiB
	hint := fmt.Sprintf("lower spool.quota to at most half of it, e.g. %s", sizeText(suggest))
	if suggest < 2*int64(c.Spool.SegmentBytes) {
		hint = fmt.Sprintf("that is too small for two %s segments: lower spool.segment_size too, or move spool.dir to a larger filesystem", sizeText(int64(c.Spool.SegmentBytes)))
	}
	return &Error{Path: "spool.quota", Msg: fmt.Sprintf("%s is more than the whole filesystem holding %s (%s at %s): the disk would fill before the quota evicts anything; %s",
		sizeText(int64(c.Spool.QuotaBytes)), c.Spool.Dir, sizeText(int64(total)), near, hint)}
}

// sizeText writes n bytes the way the file does: 256MiB, 1.5GiB, 4096B.
func sizeText(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			if n%u.size == 0 {
				return fmt.Sprintf("%d%s", n/u.size, u.name)
			}
			return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/float64(u.size)), ".0") + u.name
		}
	}
	return fmt.Sprintf("%dB", n)
}

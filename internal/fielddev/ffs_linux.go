//go:build linux

package fielddev

import (
	"errors"
	"fmt"
	"go.uber.org/zap"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// FunctionFS event types (include/uapi/linux/usb/functionfs.h: enum usb_functionfs_event_type) and
// the event size: struct usb_ctrlrequest (8 bytes), type, 3 bytes of padding.
const (
	ffsBind    = 0
	ffsUnbind  = 1
	ffsEnable  = 2
	ffsDisable = 3
	ffsSetup   = 4
	ffsEvent   = 12
)

var ffsEventNames = map[byte]string{ffsBind: "bind", ffsUnbind: "unbind", ffsEnable: "enable", ffsDisable: "disable", 5: "suspend", 6: "resume"}

// FFS serves a CP2112 on a mounted FunctionFS instance.
type FFS struct {
	dir string
	c   *CP2112
	log *zap.SugaredLogger
	ep0 int
}

// OpenFFS mounts FunctionFS instance name at dir (unless mounted already) and writes the CP2112's
// descriptors and strings to its ep0. After that the gadget can be bound to a UDC: a configfs gadget
// refuses to bind while a FunctionFS function has no descriptors.
func OpenFFS(name, dir string, c *CP2112, log *zap.SugaredLogger) (*FFS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fielddev: functionfs: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ep0")); err != nil {
		if err := syscall.Mount(name, dir, "functionfs", 0, ""); err != nil {
			return nil, fmt.Errorf("fielddev: mount functionfs %s on %s: %w", name, dir, err)
		}
	}
	fd, err := syscall.Open(filepath.Join(dir, "ep0"), syscall.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("fielddev: functionfs: open ep0: %w", err)
	}
	if _, err := syscall.Write(fd, FFSDescriptors()); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("fielddev: functionfs: write descriptors: %w", err)
	}
	if _, err := syscall.Write(fd, FFSStrings()); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("fielddev: functionfs: write strings: %w", err)
	}
	log.Infow("functionfs ready", "dir", dir, "report_descriptor_bytes", len(ReportDescriptor()))
	return &FFS{dir: dir, c: c, log: log, ep0: fd}, nil
}

// Serve answers control requests on ep0 and interrupt reports on ep1 (IN) and ep2 (OUT). It
// returns when ep0 fails.
func (f *FFS) Serve() error {
	go f.interrupts()
	buf := make([]byte, 4*ffsEvent)
	fails := 0
	for {
		n, err := syscall.Read(f.ep0, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// EL2HLT: a control transfer was cancelled or stalled; the next event clears it.
			if fails++; fails > 100 {
				return fmt.Errorf("fielddev: functionfs: read ep0: %w", err)
			}
			f.log.Warnw("read ep0", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		fails = 0
		for i := 0; i+ffsEvent <= n; i += ffsEvent {
			ev := buf[i : i+ffsEvent]
			if ev[8] != ffsSetup {
				f.log.Infow("functionfs event", "event", ffsEventNames[ev[8]])
				continue
			}
			f.setup(ParseSetup(ev[:8]))
		}
	}
}

// setup answers one control request. FunctionFS rules (Documentation/usb/functionfs.rst and
// f_fs.c ffs_ep0_read/ffs_ep0_write): an IN request is answered by writing ep0 and stalled by
// reading it; an OUT request takes its data (or the zero-length status) by reading ep0 and is
// stalled by writing it.
func (f *FFS) setup(s Setup) {
	if s.In() {
		reply, ok := f.c.ControlIn(s)
		if !ok {
			f.log.Infow("stall", "setup", s.String())
			syscall.Read(f.ep0, nil)
			return
		}
		if _, err := syscall.Write(f.ep0, reply); err != nil {
			f.log.Warnw("ep0 reply failed", "setup", s.String(), "err", err)
		}
		return
	}
	if s.RequestType != 0x21 || (s.Request != hidSetReport && s.Request != hidSetIdle && s.Request != hidSetProtocol) {
		f.log.Infow("stall", "setup", s.String())
		syscall.Write(f.ep0, nil)
		return
	}
	data := make([]byte, s.Length)
	n, err := syscall.Read(f.ep0, data)
	if err != nil {
		f.log.Warnw("ep0 data failed", "setup", s.String(), "err", err)
		return
	}
	if !f.c.ControlOut(s, data[:n]) {
		f.log.Warnw("request not taken", "setup", s.String(), "data", fmt.Sprintf("% x", data[:n]))
	}
}

// interrupts reads output reports from ep2 and writes the answers to ep1, one at a time: the
// driver has one request in flight (hid-cp2112.c cp2112_wait).
func (f *FFS) interrupts() {
	open := func(name string, mode int) int {
		for {
			fd, err := syscall.Open(filepath.Join(f.dir, name), mode, 0)
			if err == nil {
				return fd
			}
			f.log.Warnw("open endpoint", "ep", name, "err", err)
			time.Sleep(time.Second)
		}
	}
	in, out := open("ep1", syscall.O_WRONLY), open("ep2", syscall.O_RDONLY)
	buf := make([]byte, ReportLen)
	for {
		n, err := syscall.Read(out, buf)
		if err != nil {
			// Not enabled yet, or the host went away (ESHUTDOWN): wait for it to come back.
			if !errors.Is(err, syscall.EINTR) {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		replies, err := f.c.Output(buf[:n])
		if err != nil {
			f.log.Warnw("output report", "err", err)
		}
		for _, r := range replies {
			_, err := syscall.Write(in, r)
			for err == syscall.EINTR {
				_, err = syscall.Write(in, r)
			}
			if err != nil {
				f.log.Warnw("input report", "report", fmt.Sprintf("%#02x", r[0]), "err", err)
			}
		}
	}
}

//go:build linux

package localapi

import (
	"errors"
	"net"
	"syscall"
)

// peerCred returns the credentials of the process at the other end of a unix socket connection, as
// the kernel recorded them at connect (SO_PEERCRED). The standard library's syscall has
// GetsockoptUcred, so this needs no extra module.
func peerCred(c net.Conn) (*Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, errors.New("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, credErr
	}
	return &Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}

// diskFree returns the bytes available to unprivileged users on the filesystem holding dir.
func diskFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// canWrite tells whether this process may create files in dir (permissions and read-only mounts),
// without writing anything.
func canWrite(dir string) error {
	return syscall.Access(dir, 0x2) // W_OK
}

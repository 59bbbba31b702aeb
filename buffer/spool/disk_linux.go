package spool

import "syscall"

// diskSpace returns the bytes an unprivileged writer may still use on the filesystem holding dir
// (statfs f_bavail: root's reserved blocks do not count, the daemon does not run as root), and the
// filesystem's size. Block counts are in units of f_frsize (statfs(2)).
func diskSpace(dir string) (avail, size int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	unit := int64(st.Frsize) //nolint:unconvert // int32 on 32-bit ARM
	if unit <= 0 {
		unit = int64(st.Bsize) //nolint:unconvert
	}
	return int64(st.Bavail) * unit, int64(st.Blocks) * unit, nil
}

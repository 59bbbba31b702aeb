package config

import "syscall"

// filesystemSize returns the size in bytes of the filesystem holding path.
func filesystemSize(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	unit := uint64(st.Frsize) // f_blocks counts fragments; Frsize is 0 on old kernels
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	return uint64(st.Blocks) * unit, nil
}

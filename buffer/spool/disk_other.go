//go:build !linux

package spool

import "errors"

// diskSpace is only implemented on Linux; elsewhere the spool relies on ENOSPC alone.
func diskSpace(string) (avail, size int64, err error) {
	return 0, 0, errors.New("spool: free disk space unknown on this system")
}

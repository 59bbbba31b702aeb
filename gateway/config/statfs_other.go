//go:build !linux

package config

import "errors"

// filesystemSize is not implemented off Linux; the quota warning is then skipped.
func filesystemSize(string) (uint64, error) {
	return 0, errors.New("filesystem size: only on Linux")
}

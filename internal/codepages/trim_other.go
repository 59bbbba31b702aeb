//go:build !linux

package codepages

import "errors"

// Trim is Linux only: elsewhere it does nothing and says so.
func Trim() (Result, error) {
	return Result{}, errors.New("codepages: trimming code pages needs Linux")
}

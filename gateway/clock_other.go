//go:build !linux

package gateway

// ntpSynced cannot ask the kernel off Linux; the wall clock is trusted.
func ntpSynced() bool { return true }

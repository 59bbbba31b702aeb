//go:build !linux

package fleet

import "os/exec"

// setDeathSignal: only Linux has a parent-death signal; elsewhere a member ends when its stdin closes.
func setDeathSignal(*exec.Cmd) {}

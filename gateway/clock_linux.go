package gateway

import "syscall"

// ntpSynced reports whether the kernel considers the clock synchronised (adjtimex does not answer
// TIME_ERROR): systemd-timesyncd, chrony and ntpd clear the unsynchronised state once they have set
// the time. This is what timedatectl shows as "System clock synchronized".
func ntpSynced() bool {
	var tx syscall.Timex
	state, err := syscall.Adjtimex(&tx)
	return err == nil && state != 5 // TIME_ERROR
}

package gateway

import (
	"os"
	"syscall"
)

// ntpSynced reports whether the kernel considers the clock synchronised (adjtimex does not answer
// TIME_ERROR): systemd-timesyncd, chrony and ntpd clear the unsynchronised state once they have set
// the time. This is what timedatectl shows as "System clock synchronized". Where a seccomp filter
// refuses adjtimex (systemd's ProtectClock=), it falls back to the flag file systemd-timesyncd
// writes once it has synchronised.
func ntpSynced() bool {
	var tx syscall.Timex
	state, err := syscall.Adjtimex(&tx)
	if err != nil {
		_, err := os.Stat("/run/systemd/timesync/synchronized")
		return err == nil
	}
	return state != 5 // TIME_ERROR
}

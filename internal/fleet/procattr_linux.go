package fleet

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill a member process when its parent dies, however it dies.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package proc

import "syscall"

// sysProcAttr makes the kernel stop the child when the process that
// started it dies, so that a killed test leaves nothing running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package redistest

import "syscall"

// sysProcAttr makes the server die with the test binary, even on kill -9.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

//go:build unix

package seeds

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the command in a process group of its own, and
// makes the end of its context kill that whole group, not only the
// command: a shell script's children (sleep, curl, ...) would otherwise
// outlive the timeout and keep the output pipe open.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killGroup kills what is left of the command's process group after the
// command itself has exited and been reaped. The group's id is the
// command's pid; while any member lives the kernel does not hand that pid
// out again, and once the group is empty the kill fails with ESRCH, which
// is ignored. (A new process could only be hit if the pid space wrapped
// around between the reaping and this call and the new process made itself
// a group leader.)
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

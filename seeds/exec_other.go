//go:build !unix

package seeds

import "os/exec"

// setProcessGroup leaves the command as it is: without Unix process
// groups only the command itself is killed when its context ends.
func setProcessGroup(*exec.Cmd) {}

// killGroup does nothing without Unix process groups.
func killGroup(*exec.Cmd) {}

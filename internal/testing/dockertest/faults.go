package dockertest

import (
	"fmt"
	"os"
	"strings"
)

// Faults beyond Cut, for the nemesis (test/nemesis): a crash, rules of the
// test's own (one direction, a share of the packets), the process's PID
// on the host.

// Kill sends name SIGKILL (a crash: the others detect a failure) and
// removes its container, so that Run may start it again under the same
// name, at the same or another address.
func (n *Network) Kill(name string) {
	n.t.Helper()
	Must(n.t, "rm", "-f", "-v", name)
	delete(n.running, name)
	delete(n.pids, name)
}

// IPTables runs iptables with args in name's network namespace, from the
// host; an error is fatal.
func (n *Network) IPTables(name string, args ...string) {
	n.t.Helper()
	n.iptables(name, args...)
}

// HostPID returns the host's process ID of name's program (the
// container's init process), looked up once per Run.
func (n *Network) HostPID(name string) string {
	n.t.Helper()
	pid, ok := n.pids[name]
	if !ok {
		pid = Must(n.t, "inspect", "-f", "{{.State.Pid}}", name)
		n.pids[name] = pid
	}
	return pid
}

// OpenFDs counts the open file descriptors of name's program in
// /proc/<pid>/fd on the host, which sees every program alike, whether it
// serves /metrics or not.
func (n *Network) OpenFDs(name string) (int, error) {
	n.t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%s/fd", strings.TrimSpace(n.HostPID(name))))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

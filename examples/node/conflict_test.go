package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNameConflictExits: a second process started with a live member's
// name does not join: it exits 3 with a message naming the conflict and
// the member's address, and the member sees no event.
func TestNameConflictExits(t *testing.T) {
	a := startProc(t, "GENCLUSTER_NAME=a")
	cmd := exec.Command(os.Args[0], "-http", "", "-fast")
	cmd.Env = append(os.Environ(), runEnv+"=1", "GENCLUSTER_NAME=a", "GENCLUSTER_BIND=127.0.0.1:0", "GENCLUSTER_SEEDS=static+"+a.gossipAddr)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitNameConflict {
		t.Fatalf("exit: %v, want code %d\n%s", err, exitNameConflict, out)
	}
	if !strings.Contains(string(out), "name conflict") || !strings.Contains(string(out), a.gossipAddr) {
		t.Errorf("the output does not name the conflict and %s:\n%s", a.gossipAddr, out)
	}
	var evs []eventJSON
	if err := a.get("/events", &evs); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Member.Name == "a" && e.Type != "join" {
			t.Errorf("a saw %s of itself", e.Type)
		}
	}
	var ms []memberJSON
	if err := a.get("/members", &ms); err != nil || len(ms) != 1 || ms[0].Boot == "" || ms[0].Addr != a.gossipAddr {
		t.Errorf("a's members: %+v, %v; want itself, with a boot id", ms, err)
	}
}

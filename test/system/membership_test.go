//go:build system

package system

import (
	"bytes"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// TestConvergeFromDNS (scenario 1): eight processes that know only a DNS
// name form one cluster; every node lists all eight, with their metadata.
func TestConvergeFromDNS(t *testing.T) {
	start := time.Now()
	c := newCluster(t, nodes)
	afterStart := c.waitWhole("all nodes see all nodes", convergeTimeout)
	for _, o := range c.names {
		var ms []dockertest.Member
		if err := c.GetJSON(o, "/members", &ms); err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Meta["test"] != t.Name() || m.Addr != fmt.Sprintf("%s:%d", c.IP(m.Name), gossipPort) {
				t.Errorf("%s lists %+v: want meta test=%s and address %s:%d", o, m, t.Name(), c.IP(m.Name), gossipPort)
			}
		}
	}
	t.Logf("measured: nodes=%d converge=%s (after the last container started) first-start-to-converged=%s",
		nodes, secs(afterStart), secs(time.Since(start)))
}

// TestKillIsFailure (scenario 2): a node killed with SIGKILL sends no
// leave; every other node detects the failure and drops it, and none of
// them reports a failure of anyone else.
func TestKillIsFailure(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	victim := c.names[2]
	mustDocker(t, "kill", "--signal", "KILL", victim)
	rest := without(c.names, victim)
	took := c.waitFor("every other node reports the killed node failed", failTimeout, func() error {
		if err := c.ViewIs(rest, rest); err != nil {
			return err
		}
		for _, o := range rest {
			if ev, err := c.lastEvent(o, victim); err != nil || ev != "fail" {
				return fmt.Errorf("%s: last event about %s is %q (err %v), want fail", o, victim, ev, err)
			}
		}
		return nil
	})
	c.names = rest
	c.checkNoFalseFailures(rest, []string{victim})
	t.Logf("measured: detect=%s (kill -9 to all %d others reporting fail), false failures=0", secs(took), len(rest))
}

// TestStopIsLeave (scenario 5): docker stop sends SIGTERM; the node leaves
// gracefully and exits 0, and the others see a leave, not a failure.
func TestStopIsLeave(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	victim := c.names[1]
	start := time.Now()
	mustDocker(t, "stop", "-t", "20", victim)
	stopped := time.Since(start)
	if code := mustDocker(t, "inspect", "-f", "{{.State.ExitCode}}", victim); code != "0" {
		t.Errorf("%s exited with %s after SIGTERM, want 0", victim, code)
	}
	logs, err := exec.Command("docker", "logs", victim).CombinedOutput()
	if err != nil || !bytes.Contains(logs, []byte(`"msg":"left the cluster"`)) {
		t.Errorf("%s's log has no \"left the cluster\" record (err %v)", victim, err)
	}
	rest := without(c.names, victim)
	took := c.waitFor("the others drop the stopped node with a leave", failTimeout, func() error {
		if err := c.ViewIs(rest, rest); err != nil {
			return err
		}
		for _, o := range rest {
			if ev, err := c.lastEvent(o, victim); err != nil || ev != "leave" {
				return fmt.Errorf("%s: last event about %s is %q (err %v), want leave", o, victim, ev, err)
			}
		}
		return nil
	})
	c.names = rest
	c.checkNoFalseFailures(rest, nil)
	t.Logf("measured: docker-stop=%s leave-seen-by-all=%s (after docker stop returned), fail events=0", secs(stopped), secs(took))
}

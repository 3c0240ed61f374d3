//go:build system

package system

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// sampler polls one node's /members every 50ms until stopped and records
// the fewest live members it saw.
type sampler struct {
	stop    chan struct{}
	done    chan struct{}
	min     int
	samples int
	err     error
}

func (c *cluster) sample(observer string) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{}), min: 1 << 30}
	go func() {
		defer close(s.done)
		for {
			ms, err := c.Members(observer)
			if err != nil {
				if s.err == nil {
					s.err = fmt.Errorf("%s: %w", observer, err)
				}
			} else {
				s.min = min(s.min, len(ms))
				s.samples++
			}
			select {
			case <-s.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) finish() {
	close(s.stop)
	<-s.done
}

// roll restarts every node in turn: SIGTERM, remove, and run a new
// container with a new IP, under the same name (rename false) or a new one.
// A node not being restarted is sampled all along: the cluster never has
// fewer than N-1 live members. Each new node must make the cluster whole
// before the next restart (a readiness gate, as a Deployment's rollout
// has). At the end, every fail event logged must have been followed by a
// join (checkFailsRefuted).
func (c *cluster) roll(rename bool) {
	c.t.Helper()
	n := len(c.names)
	minSeen, samples := n, 0
	var slowest time.Duration
	start := time.Now()
	for i, old := range slices.Clone(c.names) {
		oldIP := c.IP(old)
		observer := c.names[0]
		if observer == old {
			observer = c.names[1]
		}
		s := c.sample(observer)
		c.remove(old)
		name := old
		if rename {
			name = fmt.Sprintf("%s-r%d", c.Name, i+1)
		}
		c.start(name)
		took := c.waitWhole(fmt.Sprintf("whole after replacing %s (%s) by %s (%s)", old, oldIP, name, c.IP(name)), convergeTimeout)
		s.finish()
		if s.err != nil {
			c.t.Fatalf("sampling during the restart of %s: %v", old, s.err)
		}
		if s.min < n-1 {
			c.t.Fatalf("while %s restarted, %s saw only %d live members, want at least %d", old, observer, s.min, n-1)
		}
		if c.IP(name) == oldIP {
			c.t.Fatalf("%s came back with its old IP %s", name, oldIP)
		}
		minSeen, samples = min(minSeen, s.min), samples+s.samples
		slowest = max(slowest, took)
	}
	if len(c.names) != n {
		c.t.Fatalf("%d nodes at the end, want %d", len(c.names), n)
	}
	flaps := c.checkFailsRefuted(c.names)
	c.t.Logf("measured: rolling restart (rename=%v) of %d nodes, each with a new IP: total=%s slowest-rejoin=%s min-live-members=%d (of %d, %d samples) transient-fail-events=%d",
		rename, n, secs(time.Since(start)), secs(slowest), minSeen, n, samples, flaps)
}

// checkFailsRefuted checks that every fail event the observers logged is
// followed by a join of the same node: with a name reclaimed from a new
// address, memberlist can apply a stale dead message (the old
// incarnation's leave, carried by a push/pull) to the new incarnation just
// after accepting it, which the new node refutes at once; that flap is
// reported as fail then join. A fail that is not followed by a join is a
// false failure. It returns how many flaps there were.
func (c *cluster) checkFailsRefuted(observers []string) int {
	c.t.Helper()
	flaps := 0
	for _, o := range observers {
		evs, err := c.events(o)
		if err != nil {
			c.t.Errorf("%s: %v", o, err)
			continue
		}
		for i, e := range evs {
			if e.Type != "fail" {
				continue
			}
			if !slices.ContainsFunc(evs[i+1:], func(l event) bool { return l.Type == "join" && l.Member.Name == e.Member.Name }) {
				c.t.Errorf("%s logged a failure of %s (%s) that no join followed", o, e.Member.Name, e.Member.Addr)
				continue
			}
			flaps++
			c.t.Logf("%s: transient fail event of %s at %s, then a join", o, e.Member.Name, e.Member.Addr)
		}
	}
	return flaps
}

// TestRollingRestart (scenario 4): every node is replaced in turn by a new
// process with a new IP and the same name; the cluster never drops below
// N-1 live members and ends with N.
func TestRollingRestart(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	c.roll(false)
}

// TestRollingRestartNewNames (scenario 4, separately): the same with a new
// name for every new process.
func TestRollingRestartNewNames(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	c.roll(true)
}

//go:build system

package system

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// cluster is one scenario's network and containers. A node's name is its
// container's name.
type cluster struct {
	*dockertest.Network
	t      *testing.T
	nextIP int      // last octet of the next address to hand out
	names  []string // the nodes that should be running, in start order
	env    []string // extra environment of every node
	args   []string // extra flags of every node program
	// seedSpec is every node's GENCLUSTER_SEEDS; dns, when set, is the
	// DNS server (docker run --dns) the nodes use instead of the network
	// alias.
	seedSpec string
	dns      string
}

// newCluster creates a network of its own (newNetwork) and starts n nodes
// on it.
func newCluster(t *testing.T, n int, env ...string) *cluster {
	t.Helper()
	c := newNetwork(t, env...)
	c.startN(n)
	return c
}

// newNetwork creates a network of its own, a random 10.199.X.0/24, so
// that nodes can be given an address (and a new one on restart). The
// containers and the network are removed when the test ends, pass or
// fail.
func newNetwork(t *testing.T, env ...string) *cluster {
	t.Helper()
	buildImage(t)
	return &cluster{
		Network: dockertest.NewNetwork(t, dockertest.Config{
			Name:     fmt.Sprintf("gcst-%s-%s", runID, dockertest.RandomHex(2)),
			Subnet16: "10.199",
			HTTPPort: httpPort,
			LogTail:  40,
		}),
		t:        t,
		nextIP:   10,
		env:      env,
		seedSpec: fmt.Sprintf("dns+%s:%d", alias, gossipPort),
	}
}

// startN starts n nodes named <network>-n1, -n2, ...
func (c *cluster) startN(n int) {
	c.t.Helper()
	start := time.Now()
	for i := 1; i <= n; i++ {
		c.start(fmt.Sprintf("%s-n%d", c.Name, i))
	}
	c.t.Logf("started %d containers in %v", n, time.Since(start).Round(time.Millisecond))
}

// start runs a node named name with the next free IP of the network.
func (c *cluster) start(name string, extraEnv ...string) {
	c.t.Helper()
	ip := fmt.Sprintf("%s%d", c.Prefix, c.nextIP)
	c.nextIP++
	var args []string
	if c.dns == "" {
		args = append(args, "--network-alias", alias)
	} else {
		args = append(args, "--dns", c.dns)
	}
	args = append(args,
		"-e", "GENCLUSTER_NAME="+name,
		"-e", fmt.Sprintf(`GENCLUSTER_BIND={{ GetInterfaceIP "eth0" }}:%d`, gossipPort),
		"-e", "GENCLUSTER_SEEDS="+c.seedSpec,
		"-e", "GENCLUSTER_REFRESH_INTERVAL="+refresh.String(),
		"-e", "GENCLUSTER_META=test="+c.t.Name(),
	)
	for _, e := range append(slices.Clone(c.env), extraEnv...) {
		args = append(args, "-e", e)
	}
	args = append(args, image, "-fast", "-http", fmt.Sprintf(":%d", httpPort), "-leave-timeout", "5s", "-log-level", "debug")
	args = append(args, c.args...)
	c.Run(name, ip, args...)
	if !slices.Contains(c.names, name) {
		c.names = append(c.names, name)
	}
}

// remove stops name with SIGTERM (a graceful leave) and removes its
// container.
func (c *cluster) remove(name string) {
	c.t.Helper()
	c.Stop(name)
	c.names = without(c.names, name)
}

// event is one entry of the node program's /events.
type event struct {
	Type   string            `json:"type"`
	Member dockertest.Member `json:"member"`
}

// events returns what observer logged, oldest first.
func (c *cluster) events(observer string) ([]event, error) {
	var evs []event
	err := c.GetJSON(observer, "/events", &evs)
	return evs, err
}

// waitFor polls cond every 100ms until it returns nil or timeout passes,
// then fails the test with cond's last error. It returns how long it took.
func (c *cluster) waitFor(what string, timeout time.Duration, cond func() error) time.Duration {
	c.t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := cond()
		if err == nil {
			took := time.Since(start).Round(10 * time.Millisecond)
			c.t.Logf("%s: after %v", what, took)
			return took
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitView waits until every node in observers sees exactly want.
func (c *cluster) waitView(what string, timeout time.Duration, observers, want []string) time.Duration {
	c.t.Helper()
	return c.waitFor(what, timeout, func() error { return c.ViewIs(observers, want) })
}

// waitWhole waits until every running node sees every running node.
func (c *cluster) waitWhole(what string, timeout time.Duration) time.Duration {
	c.t.Helper()
	return c.waitView(what, timeout, c.names, c.names)
}

// lastEvent returns the type of the last event observer logged about peer.
func (c *cluster) lastEvent(observer, peer string) (string, error) {
	evs, err := c.events(observer)
	if err != nil {
		return "", err
	}
	last := ""
	for _, e := range evs {
		if e.Member.Name == peer {
			last = e.Type
		}
	}
	return last, nil
}

// failedPeers returns the names observer logged a fail event about.
func (c *cluster) failedPeers(observer string) ([]string, error) {
	evs, err := c.events(observer)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range evs {
		if e.Type == "fail" && !slices.Contains(out, e.Member.Name) {
			out = append(out, e.Member.Name)
		}
	}
	return out, nil
}

// checkNoFalseFailures fails the test when a node in observers logged a
// fail event about a node that is not in failed.
func (c *cluster) checkNoFalseFailures(observers, failed []string) {
	c.t.Helper()
	for _, o := range observers {
		got, err := c.failedPeers(o)
		if err != nil {
			c.t.Errorf("%s: %v", o, err)
			continue
		}
		for _, p := range got {
			if !slices.Contains(failed, p) {
				c.t.Errorf("%s logged a false failure of %s", o, p)
			}
		}
	}
}

func without(names []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(s string) bool { return slices.Contains(drop, s) })
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

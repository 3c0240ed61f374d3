//go:build system

package system

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cluster is one scenario's network and containers. A node's name is its
// container's name.
type cluster struct {
	t       *testing.T
	network string
	prefix  string            // the network's /24, "10.199.37."
	nextIP  int               // last octet of the next address to hand out
	ips     map[string]string // node name -> its current IP
	pids    map[string]string // node name -> its process ID on the host, once looked up
	names   []string          // the nodes that should be running, in start order
	created []string          // every container created, for the clean-up
	env     []string          // extra environment of every node
	// seedSpec is every node's GENCLUSTER_SEEDS; dns, when set, is the
	// DNS server (docker run --dns) the nodes use instead of the network
	// alias.
	seedSpec string
	dns      string
	client   *http.Client
}

// newCluster creates a network of its own (newNetwork) and starts n nodes
// on it.
func newCluster(t *testing.T, n int, env ...string) *cluster {
	t.Helper()
	c := newNetwork(t, env...)
	c.startN(n)
	return c
}

// newNetwork creates a network of its own, with a subnet so that nodes can
// be given an address (and a new one on restart). The containers and the
// network are removed when the test ends, pass or fail.
func newNetwork(t *testing.T, env ...string) *cluster {
	t.Helper()
	buildImage(t)
	c := &cluster{
		t:        t,
		network:  fmt.Sprintf("gcst-%s-%s", runID, randomHex(2)),
		nextIP:   10,
		ips:      map[string]string{},
		pids:     map[string]string{},
		env:      env,
		seedSpec: fmt.Sprintf("dns+%s:%d", alias, gossipPort),
		client:   &http.Client{Timeout: 2 * time.Second},
	}
	// A random 10.199.X.0/24; retry when it overlaps a network in use.
	var err error
	for range 20 {
		x, _ := rand.Int(rand.Reader, big.NewInt(256))
		c.prefix = fmt.Sprintf("10.199.%d.", x.Int64())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = docker(ctx, "network", "create", "--label", label+"=1", "--subnet", c.prefix+"0/24", "--gateway", c.gateway(), c.network)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("creating the test network: %v", err)
	}
	t.Cleanup(c.cleanup)
	return c
}

// gateway is the network's gateway address: the host's side of the bridge.
func (c *cluster) gateway() string { return c.prefix + "1" }

// startN starts n nodes named <network>-n1, -n2, ...
func (c *cluster) startN(n int) {
	c.t.Helper()
	start := time.Now()
	for i := 1; i <= n; i++ {
		c.start(fmt.Sprintf("%s-n%d", c.network, i))
	}
	c.t.Logf("started %d containers in %v", n, time.Since(start).Round(time.Millisecond))
}

// start runs a node named name with the next free IP of the network.
func (c *cluster) start(name string, extraEnv ...string) {
	c.t.Helper()
	ip := fmt.Sprintf("%s%d", c.prefix, c.nextIP)
	c.nextIP++
	args := []string{"run", "-d", "--name", name, "--label", label + "=1",
		"--network", c.network, "--ip", ip}
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
	if !slices.Contains(c.created, name) {
		c.created = append(c.created, name)
	}
	mustDocker(c.t, args...)
	c.ips[name] = ip
	if !slices.Contains(c.names, name) {
		c.names = append(c.names, name)
	}
}

// remove stops name with SIGTERM (a graceful leave) and removes its
// container.
func (c *cluster) remove(name string) {
	c.t.Helper()
	mustDocker(c.t, "stop", "-t", "20", name)
	mustDocker(c.t, "rm", "-v", name)
	c.names = without(c.names, name)
	delete(c.pids, name)
}

func (c *cluster) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if c.t.Failed() {
		for _, n := range c.names {
			logs, _ := exec.CommandContext(ctx, "docker", "logs", "--tail", "40", n).CombinedOutput()
			c.t.Logf("--- last logs of %s:\n%s", n, logs)
		}
	}
	if len(c.created) > 0 {
		// Not an error when a container was already removed.
		_, _ = docker(ctx, append([]string{"rm", "-f", "-v"}, c.created...)...)
	}
	if _, err := docker(ctx, "network", "rm", c.network); err != nil {
		c.t.Errorf("cleanup: %v", err)
	}
}

// member is one entry of the node program's /members.
type member struct {
	Name  string            `json:"name"`
	Addr  string            `json:"addr"`
	State string            `json:"state"`
	Meta  map[string]string `json:"meta"`
}

// event is one entry of the node program's /events.
type event struct {
	Type   string `json:"type"`
	Member member `json:"member"`
}

// url is name's status endpoint: its container IP, reached from the host
// over the bridge. The partitions drop only the gossip between
// containers, so it stays reachable.
func (c *cluster) url(name, path string) string {
	return fmt.Sprintf("http://%s:%d%s", c.ips[name], httpPort, path)
}

func (c *cluster) get(name, path string, v any) error {
	resp, err := c.client.Get(c.url(name, path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", name, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// members returns the names of the members name sees, sorted.
func (c *cluster) members(name string) ([]string, error) {
	var ms []member
	if err := c.get(name, "/members", &ms); err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.State != "alive" {
			return nil, fmt.Errorf("%s lists %s in state %q", name, m.Name, m.State)
		}
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out, nil
}

// events returns what observer logged, oldest first.
func (c *cluster) events(observer string) ([]event, error) {
	var evs []event
	err := c.get(observer, "/events", &evs)
	return evs, err
}

// metric returns the sum of the samples of a counter or gauge in name's
// /metrics whose labels contain match.
func (c *cluster) metric(name, metric, match string) (float64, error) {
	resp, err := c.client.Get(c.url(name, "/metrics"))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, match) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %v", name, line, err)
		}
		sum += v
	}
	return sum, sc.Err()
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

// viewIs checks that every observer sees exactly want.
func (c *cluster) viewIs(observers, want []string) error {
	want = slices.Sorted(slices.Values(want))
	for _, o := range observers {
		got, err := c.members(o)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s sees %v, want %v", o, got, want)
		}
	}
	return nil
}

// waitView waits until every node in observers sees exactly want.
func (c *cluster) waitView(what string, timeout time.Duration, observers, want []string) time.Duration {
	c.t.Helper()
	return c.waitFor(what, timeout, func() error { return c.viewIs(observers, want) })
}

// waitWhole waits until every running node sees every running node.
func (c *cluster) waitWhole(what string, timeout time.Duration) time.Duration {
	c.t.Helper()
	return c.waitView(what, timeout, c.names, c.names)
}

// holdViews checks, every 200ms for d, that each observer keeps seeing
// exactly the members views gives it, and fails the test at the first
// difference.
func (c *cluster) holdViews(what string, d time.Duration, views map[string][]string) {
	c.t.Helper()
	for end := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		for o, want := range views {
			if err := c.viewIs([]string{o}, want); err != nil {
				c.t.Fatalf("%s: %v", what, err)
			}
		}
		if time.Now().After(end) {
			break
		}
	}
	c.t.Logf("%s: held for %v", what, d)
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

//go:build system

package system

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// nodes is how many containers a scenario runs.
	nodes = 8
	// gossipPort and httpPort are the node program's ports in a container.
	gossipPort = 7946
	httpPort   = 8080
	// alias is the network alias every node has: Docker's embedded DNS
	// answers it with one A record per container, and it is the seed list.
	alias = "gossip"
	// label marks everything the tests create, for manual clean-up:
	//   docker rm -f $(docker ps -aq -f label=gencluster.systemtest)
	label = "gencluster.systemtest"
	// refresh is the nodes' GENCLUSTER_REFRESH_INTERVAL.
	refresh = 2 * time.Second
)

// Deadlines. The node program runs with -fast (failure detection in about
// a second). Every wait polls against a deadline; nothing sleeps a fixed
// time except the bounded "stays" observations below.
const (
	convergeTimeout = 40 * time.Second
	failTimeout     = 30 * time.Second
	// healTimeout is the promise of the partition scenario: after the
	// network heals, the cluster is whole again within one refresh
	// interval plus a few seconds.
	healTimeout = refresh + 8*time.Second
	// partitionHold is how long a partition is kept after both sides have
	// declared each other failed: longer than the -fast
	// GossipToTheDeadTime (2s), after which memberlist stops gossiping to
	// dead nodes and forgets them, so only the refresh loop can heal.
	partitionHold = 4 * time.Second
	// splitWatch is how long the control test checks that, without the
	// refresh loop, a healed network leaves the cluster split.
	splitWatch = 8 * time.Second
	// outsiderWatch is how long the security scenario watches that nodes
	// with the wrong key or label stay out.
	outsiderWatch = 8 * time.Second
)

var (
	runID     = randomHex(4)
	image     = "gencluster-systemtest:" + runID
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildErr == nil {
		// Only the image this run built; ignore a failure (it may not exist).
		_ = exec.Command("docker", "rmi", "-f", image).Run()
	}
	os.Exit(code)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// docker runs the docker CLI and returns its trimmed standard output.
func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// mustDocker is docker for a test: an error is fatal.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := docker(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// requireDocker fails the test, with what to do, when Docker cannot be
// used.
func requireDocker(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Fatalf("the system tests need Linux (nsenter into the containers' network namespaces); GOOS=%s", runtime.GOOS)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("the system tests need the docker CLI and a running Docker daemon: docker is not in PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("the system tests need a running Docker daemon that this user may use: %v", err)
	}
}

// requireNetTools fails the test when the partition tools are missing.
func requireNetTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"nsenter", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the partition tests need %s (apt-get install util-linux iptables): %v", tool, err)
		}
	}
}

// buildImage builds the static node binary with the host's Go and a FROM
// scratch image around it, once per test binary.
func buildImage(t *testing.T) {
	t.Helper()
	requireDocker(t)
	buildOnce.Do(func() { buildErr = doBuild() })
	if buildErr != nil {
		t.Fatalf("building the node image: %v", buildErr)
	}
}

func doBuild() error {
	dir, err := os.MkdirTemp("", "gencluster-systemtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// go test puts its own toolchain first in PATH.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "gencluster-node"), "./examples/node")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./examples/node: %w\n%s", err, out)
	}
	// The example's own Dockerfile, so the tests check what users run.
	df, err := os.ReadFile(filepath.Join(root, "examples", "compose", "Dockerfile"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		return err
	}
	_, err = docker(ctx, "build", "-q", "--label", label+"=1", "-t", image, dir)
	return err
}

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
	args    []string          // extra flags of every node program
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
	args = append(args, c.args...)
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
		if m.State != "alive" && m.State != "suspect" {
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

// TestConvergeFromDNS (scenario 1): eight processes that know only a DNS
// name form one cluster; every node lists all eight, with their metadata.
func TestConvergeFromDNS(t *testing.T) {
	start := time.Now()
	c := newCluster(t, nodes)
	afterStart := c.waitWhole("all nodes see all nodes", convergeTimeout)
	for _, o := range c.names {
		var ms []member
		if err := c.get(o, "/members", &ms); err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Meta["test"] != t.Name() || m.Addr != fmt.Sprintf("%s:%d", c.ips[m.Name], gossipPort) {
				t.Errorf("%s lists %+v: want meta test=%s and address %s:%d", o, m, t.Name(), c.ips[m.Name], gossipPort)
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
		if err := c.viewIs(rest, rest); err != nil {
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
		if err := c.viewIs(rest, rest); err != nil {
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

// iptables runs iptables in a container's network namespace (from the
// host: the image has no shell and no iptables).
func (c *cluster) iptables(name string, args ...string) {
	c.t.Helper()
	pid, ok := c.pids[name]
	if !ok {
		pid = mustDocker(c.t, "inspect", "-f", "{{.State.Pid}}", name)
		c.pids[name] = pid
	}
	cmd := exec.Command("nsenter", append([]string{"-t", pid, "-n", "iptables"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("nsenter -t %s -n iptables %s: %v: %s", pid, strings.Join(args, " "), err, out)
	}
}

// cut drops (add) or restores (!add) every packet between the nodes of a
// and those of b, both ways, with rules in the network namespaces of a's
// nodes. DNS (127.0.0.11) and the status ports (reached from the host, the
// gateway) stay reachable.
func (c *cluster) cut(a, b []string, add bool) {
	c.t.Helper()
	op := "-I"
	if !add {
		op = "-D"
	}
	var ips []string
	for _, n := range b {
		ips = append(ips, c.ips[n])
	}
	list := strings.Join(ips, ",")
	for _, n := range a {
		c.iptables(n, op, "INPUT", "-s", list, "-j", "DROP")
		c.iptables(n, op, "OUTPUT", "-d", list, "-j", "DROP")
	}
}

// split partitions the cluster into its first and second half, waits until
// each side has declared the other failed, keeps the partition for
// partitionHold (checking that it holds), and restores the network. It
// returns the halves, how long the detection took, and when the network
// began to heal (before the first rule was removed).
func (c *cluster) split() (a, b []string, detect time.Duration, healStart time.Time) {
	c.t.Helper()
	requireNetTools(c.t)
	half := len(c.names) / 2
	a, b = slices.Clone(c.names[:half]), slices.Clone(c.names[half:])
	c.cut(a, b, true)
	partitioned := true
	defer func() {
		if partitioned { // a Fatal above: restore before the containers go
			c.cut(a, b, false)
		}
	}()
	detect = c.waitFor(fmt.Sprintf("partition %d|%d: each side drops the other", len(a), len(b)), failTimeout, func() error {
		if err := c.viewIs(a, a); err != nil {
			return err
		}
		return c.viewIs(b, b)
	})
	views := map[string][]string{}
	for _, n := range a {
		views[n] = a
	}
	for _, n := range b {
		views[n] = b
	}
	c.holdViews("the partition holds", partitionHold, views)
	// Each side's last word about the other side is a failure.
	for _, side := range [][2][]string{{a, b}, {b, a}} {
		for _, o := range side[0] {
			for _, p := range side[1] {
				if ev, err := c.lastEvent(o, p); err != nil || ev != "fail" {
					c.t.Errorf("%s: last event about %s is %q (err %v), want fail", o, p, ev, err)
				}
			}
		}
	}
	healStart = time.Now()
	c.cut(a, b, false)
	partitioned = false
	c.t.Logf("rules removed in %v", time.Since(healStart).Round(time.Millisecond))
	return a, b, detect, healStart
}

// TestPartitionHeals (scenario 3): the cluster is cut 4 | 4 (every packet
// between the halves dropped with iptables in the containers' network
// namespaces), each side declares the other failed, and once the rules
// are gone the refresh loop (re-resolving the DNS name and joining the
// addresses that are not members) makes the cluster whole again within
// one refresh interval plus a few seconds, with no restart.
// TestPartitionWithoutRefreshStaysSplit shows memberlist alone would not.
func TestPartitionHeals(t *testing.T) {
	requireNetTools(t)
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	_, _, detect, healStart := c.split()
	c.waitWhole("the cluster heals", healTimeout)
	heal := time.Since(healStart)
	if heal > healTimeout {
		t.Errorf("healed after %v, want within %v (refresh interval %v plus a few seconds)", heal, healTimeout, refresh)
	}
	t.Logf("measured: partition=4|4 detect=%s heal=%s (from removing the first rule to all 8 seeing all 8; refresh interval %v, limit %v)", secs(detect), secs(heal), refresh, healTimeout)
}

// TestPartitionWithoutRefreshStaysSplit is the control for
// TestPartitionHeals: the same partition with the refresh loop off
// (GENCLUSTER_REFRESH_INTERVAL=infinity, a join at start only) stays split
// after the network is back, because memberlist has forgotten the dead
// nodes on both sides.
func TestPartitionWithoutRefreshStaysSplit(t *testing.T) {
	requireNetTools(t)
	c := newCluster(t, nodes, "GENCLUSTER_REFRESH_INTERVAL=infinity")
	c.waitWhole("converged", convergeTimeout)
	a, b, detect, _ := c.split()
	views := map[string][]string{}
	for _, n := range a {
		views[n] = a
	}
	for _, n := range b {
		views[n] = b
	}
	c.holdViews("the cluster stays split without the refresh loop", splitWatch, views)
	t.Logf("measured: partition=4|4 detect=%s, still split %v after healing the network (no refresh loop)", secs(detect), splitWatch)
}

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
			ms, err := c.members(observer)
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
		oldIP := c.ips[old]
		observer := c.names[0]
		if observer == old {
			observer = c.names[1]
		}
		s := c.sample(observer)
		c.remove(old)
		name := old
		if rename {
			name = fmt.Sprintf("%s-r%d", c.network, i+1)
		}
		c.start(name)
		took := c.waitWhole(fmt.Sprintf("whole after replacing %s (%s) by %s (%s)", old, oldIP, name, c.ips[name]), convergeTimeout)
		s.finish()
		if s.err != nil {
			c.t.Fatalf("sampling during the restart of %s: %v", old, s.err)
		}
		if s.min < n-1 {
			c.t.Fatalf("while %s restarted, %s saw only %d live members, want at least %d", old, observer, s.min, n-1)
		}
		if c.ips[name] == oldIP {
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

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// TestOutsidersStayOut (scenario 6): a cluster running with a secret key
// and a label; a node with the wrong key and a node with another label
// (the right key) are pointed at it through the same DNS name (so the
// cluster's refresh loop also dials them). They stay out: the cluster's
// members do not change and each outsider lists only itself.
func TestOutsidersStayOut(t *testing.T) {
	key := newKey(t)
	c := newCluster(t, nodes/2, "GENCLUSTER_SECRET_KEY="+key, "GENCLUSTER_LABEL=prod")
	c.waitWhole("converged (with key and label)", convergeTimeout)
	members := slices.Clone(c.names)
	wrongKey, wrongLabel := c.network+"-wrongkey", c.network+"-wronglabel"
	c.start(wrongKey, "GENCLUSTER_SECRET_KEY="+newKey(t))
	c.start(wrongLabel, "GENCLUSTER_LABEL=staging")
	// Both outsiders have tried, and failed, to join the cluster.
	c.waitFor("the outsiders' joins failed", failTimeout, func() error {
		for _, o := range []string{wrongKey, wrongLabel} {
			v, err := c.metric(o, "gencluster_connect_attempts_total", `result="error"`)
			if err != nil {
				return err
			}
			if v == 0 {
				return fmt.Errorf("%s: no failed join yet", o)
			}
		}
		return nil
	})
	views := map[string][]string{wrongKey: {wrongKey}, wrongLabel: {wrongLabel}}
	for _, m := range members {
		views[m] = members
	}
	c.holdViews("the outsiders stay out", outsiderWatch, views)
	var attempts []string
	for _, o := range append(slices.Clone(members[:1]), wrongKey, wrongLabel) {
		v, err := c.metric(o, "gencluster_connect_attempts_total", `result="error"`)
		if err != nil {
			t.Fatal(err)
		}
		attempts = append(attempts, fmt.Sprintf("%s=%v", strings.TrimPrefix(o, c.network+"-"), v))
	}
	t.Logf("measured: outsiders (wrong key, wrong label) kept out for %v; cluster of %d unchanged; failed joins: %s",
		outsiderWatch, len(members), strings.Join(attempts, " "))
}

// lockedBuffer collects a process's output for the test log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// srvName is the SRV record set dnsmasq serves in TestConvergeFromSRV.
const srvName = "_gossip._tcp.cluster.test"

// startDnsmasq runs dnsmasq on the host, listening only on the test
// network's gateway address, authoritative for nothing but the records
// given: one A record per host and one SRV record per host on the gossip
// port. It is stopped when the test ends, before the network is removed.
func (c *cluster) startDnsmasq(hosts map[string]string) {
	c.t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		c.t.Fatalf("the SRV scenario needs dnsmasq (apt-get install dnsmasq-base): %v", err)
	}
	args := []string{"--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
		"--bind-interfaces", "--listen-address=" + c.gateway(), "--port=53", "--pid-file=",
		"--log-queries", "--log-facility=-", "--local=/cluster.test/"}
	for h, ip := range hosts {
		args = append(args,
			fmt.Sprintf("--host-record=%s,%s", h, ip),
			fmt.Sprintf("--srv-host=%s,%s,%d,0,10", srvName, h, gossipPort))
	}
	cmd := exec.Command(bin, args...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("starting dnsmasq: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if c.t.Failed() {
			c.t.Logf("--- dnsmasq output:\n%s", out.String())
		}
	})
	// Wait until it answers (or fail if it exited: port 53 taken?).
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", net.JoinHostPort(c.gateway(), "53"))
	}}
	c.waitFor("dnsmasq answers "+srvName, 10*time.Second, func() error {
		select {
		case err := <-exited:
			exited <- err
			c.t.Fatalf("dnsmasq exited: %v\n%s", err, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, srvs, err := r.LookupSRV(ctx, "", "", srvName)
		if err != nil {
			return err
		}
		if len(srvs) != len(hosts) {
			return fmt.Errorf("%d SRV records, want %d", len(srvs), len(hosts))
		}
		return nil
	})
}

// TestConvergeFromSRV (discovery through SRV records): dnsmasq, on the
// host, serves an SRV record set naming every node (target host name and
// gossip port) and their A records; the nodes use it through Docker's
// embedded DNS (docker run --dns <gateway>), have no network alias, and
// are seeded only with GENCLUSTER_SEEDS=dnssrv+_gossip._tcp.cluster.test.
// They form one cluster.
func TestConvergeFromSRV(t *testing.T) {
	const n = 4
	c := newNetwork(t)
	c.dns = c.gateway()
	c.seedSpec = "dnssrv+" + srvName
	hosts := map[string]string{}
	for i := range n {
		// The addresses startN hands out, in order.
		hosts[fmt.Sprintf("node%d.cluster.test", i+1)] = fmt.Sprintf("%s%d", c.prefix, c.nextIP+i)
	}
	c.startDnsmasq(hosts)
	start := time.Now()
	c.startN(n)
	took := c.waitWhole("all nodes see all nodes (seeded by SRV)", convergeTimeout)
	// The addresses came from the SRV backend: its last run found them all.
	for _, o := range c.names {
		v, err := c.metric(o, "gencluster_discovery_peers", `backend="dnssrv`)
		if err != nil || v != n {
			t.Errorf("%s: gencluster_discovery_peers{backend=dnssrv...} = %v (err %v), want %d", o, v, err, n)
		}
	}
	t.Logf("measured: SRV (dnsmasq) nodes=%d converge=%s (after the last container started) first-start-to-converged=%s",
		n, secs(took), secs(time.Since(start)))
}

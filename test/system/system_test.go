//go:build system

package system

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// nodes is how many containers each scenario runs.
	nodes = 5
	// gossipPort and httpPort are the node program's ports in a container.
	gossipPort = 7946
	httpPort   = 8080
	// alias is the network alias every node has: Docker's DNS answers it
	// with all their IPs, and it is the seed list.
	alias = "gossip"
	// label marks everything the tests create, for manual clean-up:
	//   docker rm -f $(docker ps -aq -f label=gencluster.systemtest)
	label = "gencluster.systemtest"
)

// Deadlines. The node program runs with -fast (failure detection in about a
// second) and a 1s refresh interval.
const (
	convergeTimeout = 30 * time.Second
	failTimeout     = 30 * time.Second
	healTimeout     = 30 * time.Second
	// partitionHold is how long a partition is kept after both sides have
	// declared each other failed: longer than the -fast
	// GossipToTheDeadTime (2s), after which memberlist stops gossiping to
	// dead nodes and forgets them, so only the refresh loop can heal.
	partitionHold = 4 * time.Second
	// splitWatch is how long the control test checks that, without the
	// refresh loop, a healed network leaves the cluster split.
	splitWatch = 10 * time.Second
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
	df, err := os.ReadFile(filepath.Join(root, "examples", "docker", "Dockerfile"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		return err
	}
	_, err = docker(ctx, "build", "-q", "--label", label+"=1", "-t", image, dir)
	return err
}

// cluster is one scenario's network and containers.
type cluster struct {
	t       *testing.T
	network string
	names   []string
	client  *http.Client
}

// newCluster creates a network of its own and starts n nodes on it. The
// containers and the network are removed when the test ends, pass or fail.
func newCluster(t *testing.T, n int, extraEnv ...string) *cluster {
	t.Helper()
	buildImage(t)
	c := &cluster{
		t:       t,
		network: fmt.Sprintf("gcst-%s-%s", runID, randomHex(3)),
		client:  &http.Client{Timeout: 2 * time.Second},
	}
	mustDocker(t, "network", "create", "--label", label+"=1", c.network)
	t.Cleanup(c.cleanup)
	for i := 1; i <= n; i++ {
		c.start(fmt.Sprintf("%s-n%d", c.network, i), extraEnv...)
	}
	return c
}

func (c *cluster) start(name string, extraEnv ...string) {
	c.t.Helper()
	args := []string{"run", "-d", "--name", name, "--label", label + "=1",
		"--network", c.network, "--network-alias", alias,
		"--publish", fmt.Sprintf("127.0.0.1::%d/tcp", httpPort),
		"-e", "GENCLUSTER_NAME=" + name,
		"-e", fmt.Sprintf(`GENCLUSTER_BIND={{ GetInterfaceIP "eth0" }}:%d`, gossipPort),
		"-e", fmt.Sprintf("GENCLUSTER_SEEDS=dns+%s:%d", alias, gossipPort),
		"-e", "GENCLUSTER_REFRESH_INTERVAL=1s",
		"-e", "GENCLUSTER_META=test=" + c.t.Name(),
	}
	for _, e := range extraEnv {
		args = append(args, "-e", e)
	}
	args = append(args, image, "-fast", "-http", fmt.Sprintf(":%d", httpPort), "-leave-timeout", "5s", "-log-level", "debug")
	mustDocker(c.t, args...)
	c.names = append(c.names, name)
}

func (c *cluster) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if c.t.Failed() {
		for _, n := range c.names {
			logs, _ := exec.CommandContext(ctx, "docker", "logs", "--tail", "60", n).CombinedOutput()
			c.t.Logf("--- last logs of %s:\n%s", n, logs)
		}
	}
	if len(c.names) > 0 {
		if _, err := docker(ctx, append([]string{"rm", "-f", "-v"}, c.names...)...); err != nil {
			c.t.Errorf("cleanup: %v", err)
		}
	}
	if _, err := docker(ctx, "network", "rm", c.network); err != nil {
		c.t.Errorf("cleanup: %v", err)
	}
}

// statusAddr returns the loopback host:port the container's status port
// is published on (it changes when the container restarts). The tests
// reach the nodes only there; the gossip stays on the test's network.
func (c *cluster) statusAddr(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := docker(ctx, "port", name, fmt.Sprintf("%d/tcp", httpPort))
	if err != nil {
		return "", err
	}
	addr, _, _ := strings.Cut(out, "\n")
	if addr == "" {
		return "", fmt.Errorf("%s: status port %d not published (not running?)", name, httpPort)
	}
	return strings.TrimSpace(addr), nil
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

func (c *cluster) get(name, path string, v any) error {
	addr, err := c.statusAddr(name)
	if err != nil {
		return err
	}
	resp, err := c.client.Get("http://" + addr + path)
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

// waitFor polls cond every 200ms until it returns nil or timeout passes,
// then fails the test with cond's last error.
func (c *cluster) waitFor(what string, timeout time.Duration, cond func() error) time.Duration {
	c.t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := cond()
		if err == nil {
			took := time.Since(start).Round(time.Millisecond)
			c.t.Logf("%s: after %v", what, took)
			return took
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitView waits until every node in observers sees exactly want.
func (c *cluster) waitView(what string, timeout time.Duration, observers, want []string) time.Duration {
	c.t.Helper()
	want = slices.Sorted(slices.Values(want))
	return c.waitFor(what, timeout, func() error {
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
	})
}

// holdViews checks, every 200ms for d, that each observer keeps seeing
// exactly the members views gives it, and fails the test at the first
// difference.
func (c *cluster) holdViews(what string, d time.Duration, views map[string][]string) {
	c.t.Helper()
	for end := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		for o, want := range views {
			want = slices.Sorted(slices.Values(want))
			got, err := c.members(o)
			if err != nil {
				c.t.Fatalf("%s: %v", what, err)
			}
			if !slices.Equal(got, want) {
				c.t.Fatalf("%s: %s sees %v, want %v", what, o, got, want)
			}
		}
		if time.Now().After(end) {
			break
		}
	}
	c.t.Logf("%s: held for %v", what, d)
}

// splitViews is what each node sees while cut is cut off from rest.
func splitViews(cut string, rest []string) map[string][]string {
	v := map[string][]string{cut: {cut}}
	for _, r := range rest {
		v[r] = rest
	}
	return v
}

// waitWhole waits until every node sees every node.
func (c *cluster) waitWhole(what string, timeout time.Duration) time.Duration {
	c.t.Helper()
	return c.waitView(what, timeout, c.names, c.names)
}

// lastEvent returns the type of the last event observer logged about peer.
func (c *cluster) lastEvent(observer, peer string) (string, error) {
	var evs []event
	if err := c.get(observer, "/events", &evs); err != nil {
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

func without(names []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == drop })
}

// TestConvergeFromDNS: five nodes that know only a DNS name form one
// cluster, and every member carries its metadata.
func TestConvergeFromDNS(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("all nodes see all nodes", convergeTimeout)
	var ms []member
	if err := c.get(c.names[0], "/members", &ms); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Meta["test"] != t.Name() || !strings.HasSuffix(m.Addr, fmt.Sprintf(":%d", gossipPort)) {
			t.Errorf("member %+v: want meta test=%s and gossip port %d", m, t.Name(), gossipPort)
		}
	}
}

// TestKillIsFailure: a node killed with SIGKILL sends no leave; the others
// detect the failure and drop it.
func TestKillIsFailure(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	victim := c.names[2]
	mustDocker(t, "kill", "--signal", "KILL", victim)
	rest := without(c.names, victim)
	c.waitView("the others drop the killed node", failTimeout, rest, rest)
	for _, o := range rest {
		if ev, err := c.lastEvent(o, victim); err != nil || ev != "fail" {
			t.Errorf("%s: last event about %s is %q (err %v), want fail", o, victim, ev, err)
		}
	}
}

// TestStopIsLeave: docker stop sends SIGTERM; the node leaves gracefully,
// so the others see a leave, not a failure, and it exits 0.
func TestStopIsLeave(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	victim := c.names[1]
	mustDocker(t, "stop", "--time", "20", victim)
	if code := mustDocker(t, "inspect", "-f", "{{.State.ExitCode}}", victim); code != "0" {
		t.Errorf("%s exited with %s after SIGTERM, want 0", victim, code)
	}
	logs, err := exec.Command("docker", "logs", victim).CombinedOutput()
	if err != nil || !bytes.Contains(logs, []byte(`"msg":"left the cluster"`)) {
		t.Errorf("%s's log has no \"left the cluster\" record (err %v)", victim, err)
	}
	rest := without(c.names, victim)
	c.waitView("the others drop the stopped node", failTimeout, rest, rest)
	for _, o := range rest {
		if ev, err := c.lastEvent(o, victim); err != nil || ev != "leave" {
			t.Errorf("%s: last event about %s is %q (err %v), want leave", o, victim, ev, err)
		}
	}
}

// iptables runs iptables in a container's network namespace (from the
// host: the image has no shell and no iptables).
func (c *cluster) iptables(name string, args ...string) {
	c.t.Helper()
	pid := mustDocker(c.t, "inspect", "-f", "{{.State.Pid}}", name)
	cmd := exec.Command("nsenter", append([]string{"-t", pid, "-n", "iptables"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("nsenter -t %s -n iptables %s: %v: %s", pid, strings.Join(args, " "), err, out)
	}
}

// partition drops (add) or restores (!add) every gossip packet to and from
// name, both UDP and TCP. DNS (127.0.0.11) and the status port stay
// reachable.
func (c *cluster) partition(name string, add bool) {
	c.t.Helper()
	op := "-I"
	if !add {
		op = "-D"
	}
	port := fmt.Sprint(gossipPort)
	for _, proto := range []string{"udp", "tcp"} {
		c.iptables(name, op, "INPUT", "-p", proto, "--dport", port, "-j", "DROP")
		c.iptables(name, op, "OUTPUT", "-p", proto, "--dport", port, "-j", "DROP")
	}
}

// split cuts the first node off, waits until both sides have declared the
// other failed, keeps the partition for partitionHold (checking that it
// holds), and restores the network. It returns the cut-off node and the
// others.
func (c *cluster) split() (cut string, rest []string) {
	c.t.Helper()
	for _, tool := range []string{"nsenter", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			c.t.Fatalf("the partition tests need %s (apt-get install util-linux iptables): %v", tool, err)
		}
	}
	cut, rest = c.names[0], without(c.names, c.names[0])
	c.partition(cut, true)
	partitioned := true
	defer func() {
		if partitioned { // a Fatal above: restore before the containers go
			c.partition(cut, false)
		}
	}()
	c.waitView("the majority drops the cut-off node", failTimeout, rest, rest)
	c.waitView("the cut-off node drops the majority", failTimeout, []string{cut}, []string{cut})
	c.holdViews("the partition holds", partitionHold, splitViews(cut, rest))
	c.partition(cut, false)
	partitioned = false
	return cut, rest
}

// TestPartitionHeals: one node is cut off from the rest (gossip packets
// dropped both ways), both sides declare the other failed, and once the
// network is back the refresh loop (re-resolving the DNS name and joining
// the addresses that are not members) makes the cluster whole again.
// TestPartitionWithoutRefreshStaysSplit shows memberlist would not.
func TestPartitionHeals(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	c.split()
	c.waitWhole("the cluster heals", healTimeout)
}

// TestPartitionWithoutRefreshStaysSplit is the control for
// TestPartitionHeals: the same partition with the refresh loop off
// (GENCLUSTER_REFRESH_INTERVAL=infinity, a join at start only) stays split
// after the network is back, because memberlist has forgotten the dead
// nodes on both sides.
func TestPartitionWithoutRefreshStaysSplit(t *testing.T) {
	c := newCluster(t, nodes, "GENCLUSTER_REFRESH_INTERVAL=infinity")
	c.waitWhole("converged", convergeTimeout)
	cut, rest := c.split()
	c.holdViews("the cluster stays split without the refresh loop", splitWatch, splitViews(cut, rest))
}

// TestRollingRestart: every node is restarted in turn (SIGTERM, then a new
// process, possibly with a new IP), waiting for the cluster to be whole
// before the next; at the end it is whole.
func TestRollingRestart(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	for _, n := range c.names {
		mustDocker(t, "restart", "--time", "20", n)
		c.waitWhole("whole after restarting "+n, convergeTimeout)
	}
	// Each restarted node is a new process that joined again.
	for _, n := range c.names {
		if ev, err := c.lastEvent(c.names[0], n); err != nil || (n != c.names[0] && ev != "join") {
			t.Errorf("%s: last event about %s is %q (err %v), want join", c.names[0], n, ev, err)
		}
	}
}

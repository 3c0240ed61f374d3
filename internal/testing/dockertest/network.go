package dockertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// Config describes a test's network.
type Config struct {
	// Name is the Docker network's name; no other network may have it.
	Name string
	// Subnet16 is the first two octets, "10.199": the network is a random
	// Subnet16.X.0/24, another X when one overlaps a network in use.
	Subnet16 string
	// HTTPPort is the node program's status port in every container.
	HTTPPort int
	// LogTail is how many of the last lines of each running container's
	// log are printed when the test failed.
	LogTail int
}

// Network is a Docker network of one test's own, with a subnet so that
// each container gets the address the test gives it. The host reaches the
// containers over the bridge: its side, the gateway, is where a test runs
// DNS servers the containers use.
type Network struct {
	// Name is the Docker network's name.
	Name string
	// Prefix is the network's /24 without the last octet, "10.199.37.".
	Prefix string

	t        testing.TB
	httpPort int
	logTail  int
	ips      map[string]string // container -> the IP of its last Run
	running  map[string]bool   // containers started and not Stopped
	pids     map[string]string // container -> its process ID on the host, once looked up
	created  []string          // every container created, for the clean-up
	client   *http.Client
}

// NewNetwork creates the network and, when the test ends, pass or fail,
// removes it and every container Run started on it.
func NewNetwork(t testing.TB, cfg Config) *Network {
	t.Helper()
	if cfg.Name == "" || cfg.Subnet16 == "" || cfg.HTTPPort <= 0 || cfg.LogTail < 0 {
		t.Fatalf("dockertest: invalid network config %+v", cfg)
	}
	n := &Network{
		Name: cfg.Name, t: t, httpPort: cfg.HTTPPort, logTail: cfg.LogTail,
		ips: map[string]string{}, running: map[string]bool{}, pids: map[string]string{},
		client: &http.Client{Timeout: 2 * time.Second},
	}
	var err error
	for range 20 {
		x, _ := rand.Int(rand.Reader, big.NewInt(256))
		n.Prefix = fmt.Sprintf("%s.%d.", cfg.Subnet16, x.Int64())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = Docker(ctx, "network", "create", "--label", Label+"=1", "--subnet", n.Prefix+"0/24", "--gateway", n.Gateway(), n.Name)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("creating the test network: %v", err)
	}
	t.Cleanup(n.cleanup)
	return n
}

// Gateway is the network's gateway address: the host's side of the bridge.
func (n *Network) Gateway() string { return n.Prefix + "1" }

// Run starts container name (docker run -d) at address ip, labelled and
// on the network, with the further docker run arguments args (options,
// the image, the program's arguments). A failure is fatal.
func (n *Network) Run(name, ip string, args ...string) {
	n.t.Helper()
	run := append([]string{"run", "-d", "--name", name, "--label", Label + "=1", "--network", n.Name, "--ip", ip}, args...)
	if !slices.Contains(n.created, name) {
		n.created = append(n.created, name)
	}
	delete(n.pids, name) // a new container, a new process
	Must(n.t, run...)
	n.ips[name] = ip
	n.running[name] = true
}

// Stop sends name SIGTERM (the node leaves gracefully), waiting up to 20s
// before docker kills it, and removes its container.
func (n *Network) Stop(name string) {
	n.t.Helper()
	Must(n.t, "stop", "-t", "20", name)
	Must(n.t, "rm", "-v", name)
	delete(n.running, name)
	delete(n.pids, name)
}

// IP returns the address name was last started with.
func (n *Network) IP(name string) string { return n.ips[name] }

// Running reports whether name was started and not stopped with Stop.
func (n *Network) Running(name string) bool { return n.running[name] }

// Names returns the containers started and not stopped with Stop, sorted.
func (n *Network) Names() []string {
	var out []string
	for name := range n.running {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Client is the HTTP client the status requests use (2s timeout).
func (n *Network) Client() *http.Client { return n.client }

func (n *Network) cleanup() {
	n.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if n.t.Failed() {
		for _, c := range n.Names() {
			logs, _ := exec.CommandContext(ctx, "docker", "logs", "--tail", fmt.Sprint(n.logTail), c).CombinedOutput()
			n.t.Logf("--- last logs of %s:\n%s", c, logs)
		}
	}
	if len(n.created) > 0 {
		// Not an error when a container was already removed.
		_, _ = Docker(ctx, append([]string{"rm", "-f", "-v"}, n.created...)...)
	}
	if _, err := Docker(ctx, "network", "rm", n.Name); err != nil {
		n.t.Errorf("cleanup: %v", err)
	}
}

// iptables runs iptables in a container's network namespace, from the
// host: the image has neither a shell nor iptables.
func (n *Network) iptables(name string, args ...string) {
	n.t.Helper()
	pid, ok := n.pids[name]
	if !ok {
		pid = Must(n.t, "inspect", "-f", "{{.State.Pid}}", name)
		n.pids[name] = pid
	}
	cmd := exec.Command("nsenter", append([]string{"-t", pid, "-n", "iptables"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("nsenter -t %s -n iptables %s: %v: %s", pid, strings.Join(args, " "), err, out)
	}
}

// Cut drops (add) or restores (!add) every packet between the containers
// of a and those of b, both ways, with rules in the network namespaces of
// a's containers. DNS (Docker's 127.0.0.11, or a server on the gateway)
// and the status ports, reached from the host through the gateway, stay
// reachable.
func (n *Network) Cut(a, b []string, add bool) {
	n.t.Helper()
	op := "-I"
	if !add {
		op = "-D"
	}
	var ips []string
	for _, name := range b {
		ips = append(ips, n.ips[name])
	}
	list := strings.Join(ips, ",")
	for _, name := range a {
		n.iptables(name, op, "INPUT", "-s", list, "-j", "DROP")
		n.iptables(name, op, "OUTPUT", "-d", list, "-j", "DROP")
	}
}

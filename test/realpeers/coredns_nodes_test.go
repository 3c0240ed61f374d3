//go:build realpeers

package realpeers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cdnsLabel marks every container, network and image the CoreDNS scenario
// creates, for manual clean-up:
//
//	docker rm -f $(docker ps -aq -f label=gencluster.realpeers.k8s)
const cdnsLabel = "gencluster.realpeers.k8s"

// cdnsHTTPPort is the node program's status port, as in the example.
const cdnsHTTPPort = 8080

// cdnsDocker runs the docker CLI and returns its trimmed output.
func cdnsDocker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func cdnsMustDocker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := cdnsDocker(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cdnsRequireTools fails the test when Docker, nsenter or iptables is
// missing.
func cdnsRequireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"docker", "nsenter", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the CoreDNS scenario needs %s (Docker, util-linux, iptables): %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cdnsDocker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("the CoreDNS scenario needs a running Docker daemon: %v", err)
	}
}

// cdnsBuildImage builds examples/node as a static binary and the FROM
// scratch image of examples/compose around it; the image is removed when
// the test ends.
func cdnsBuildImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "gencluster-node"), "./examples/node")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/node: %v\n%s", err, out)
	}
	k8sWriteFile(t, filepath.Join(dir, "Dockerfile"), k8sReadFile(t, filepath.Join(root, "examples", "compose", "Dockerfile")))
	image := "gencluster-realpeers-node:" + k8sRandomHex(4)
	if _, err := cdnsDocker(ctx, "build", "-q", "--label", cdnsLabel+"=1", "-t", image, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = cdnsDocker(context.Background(), "rmi", "-f", image) })
	return image
}

// cdnsNetwork is a Docker network of the test's own: its gateway (the
// host's side of the bridge) is where CoreDNS listens.
type cdnsNetwork struct {
	t       *testing.T
	name    string
	prefix  string // "10.197.X."
	image   string
	running map[string]string // container (pod) name -> IP
	pids    map[string]string
	created []string
	client  *http.Client
}

// cdnsNewNetwork creates the network (a random 10.197.X.0/24) and removes
// it, with every container started on it, when the test ends.
func cdnsNewNetwork(t *testing.T, image string) *cdnsNetwork {
	t.Helper()
	n := &cdnsNetwork{t: t, name: "gcrp-k8s-" + k8sRandomHex(3), image: image,
		running: map[string]string{}, pids: map[string]string{}, client: &http.Client{Timeout: 2 * time.Second}}
	var err error
	for range 20 {
		x, _ := rand.Int(rand.Reader, big.NewInt(256))
		n.prefix = fmt.Sprintf("10.197.%d.", x.Int64())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = cdnsDocker(ctx, "network", "create", "--label", cdnsLabel+"=1", "--subnet", n.prefix+"0/24", "--gateway", n.gateway(), n.name)
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

func (n *cdnsNetwork) gateway() string { return n.prefix + "1" }

func (n *cdnsNetwork) cleanup() {
	n.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if n.t.Failed() {
		for _, c := range n.created {
			logs, _ := exec.CommandContext(ctx, "docker", "logs", "--tail", "30", c).CombinedOutput()
			n.t.Logf("--- last logs of %s:\n%s", c, logs)
		}
	}
	if len(n.created) > 0 {
		_, _ = cdnsDocker(ctx, append([]string{"rm", "-f", "-v"}, n.created...)...)
	}
	if _, err := cdnsDocker(ctx, "network", "rm", n.name); err != nil {
		n.t.Errorf("cleanup: %v", err)
	}
}

// start runs the node program as the container of pod name, with address
// ip, resolving names through dns (docker run --dns) and with the
// environment env.
func (n *cdnsNetwork) start(name, ip, dns string, env []string, args ...string) {
	n.t.Helper()
	run := []string{"run", "-d", "--name", name, "--label", cdnsLabel + "=1", "--network", n.name, "--ip", ip, "--dns", dns}
	for _, e := range env {
		run = append(run, "-e", e)
	}
	run = append(run, n.image)
	run = append(run, args...)
	n.created = append(n.created, name)
	cdnsMustDocker(n.t, run...)
	n.running[name] = ip
}

// stop sends SIGTERM (the node leaves gracefully, as on a pod's deletion)
// and removes the container.
func (n *cdnsNetwork) stop(name string) {
	n.t.Helper()
	cdnsMustDocker(n.t, "stop", "-t", "20", name)
	cdnsMustDocker(n.t, "rm", "-v", name)
	delete(n.running, name)
	delete(n.pids, name)
}

// names returns the running containers' names, sorted.
func (n *cdnsNetwork) names() []string {
	var out []string
	for name := range n.running {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// members returns the names of the alive members name sees, sorted.
func (n *cdnsNetwork) members(name string) ([]string, error) {
	resp, err := n.client.Get(fmt.Sprintf("http://%s:%d/members", n.running[name], cdnsHTTPPort))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s /members: %s", name, resp.Status)
	}
	var ms []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
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

// viewIs checks that every observer sees exactly want.
func (n *cdnsNetwork) viewIs(observers, want []string) error {
	want = slices.Sorted(slices.Values(want))
	for _, o := range observers {
		got, err := n.members(o)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s sees %v, want %v", o, got, want)
		}
	}
	return nil
}

// iptables runs iptables in a container's network namespace, from the host
// (the image has neither a shell nor iptables).
func (n *cdnsNetwork) iptables(name string, args ...string) {
	n.t.Helper()
	pid, ok := n.pids[name]
	if !ok {
		pid = cdnsMustDocker(n.t, "inspect", "-f", "{{.State.Pid}}", name)
		n.pids[name] = pid
	}
	cmd := exec.Command("nsenter", append([]string{"-t", pid, "-n", "iptables"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("nsenter -t %s -n iptables %s: %v: %s", pid, strings.Join(args, " "), err, out)
	}
}

// cut drops (add) or restores (!add) every packet between the containers
// of a and those of b, with rules in a's network namespaces. DNS and the
// status ports, reached through the gateway, stay up.
func (n *cdnsNetwork) cut(a, b []string, add bool) {
	n.t.Helper()
	op := "-I"
	if !add {
		op = "-D"
	}
	var ips []string
	for _, name := range b {
		ips = append(ips, n.running[name])
	}
	list := strings.Join(ips, ",")
	for _, name := range a {
		n.iptables(name, op, "INPUT", "-s", list, "-j", "DROP")
		n.iptables(name, op, "OUTPUT", "-d", list, "-j", "DROP")
	}
}

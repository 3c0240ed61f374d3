//go:build realpeers

package realpeers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// labBuild builds examples/node once per test binary: every test runs the
// same static binary users deploy. mlBuild builds test/nemesis/mlnode, the
// hand-wired memberlist program TestLoss runs beside it as a control.
var (
	labBuild = &nodeBuild{what: "examples/node", file: "gencluster-node", build: func(ctx context.Context, root, bin string) error {
		return dockertest.BuildNode(ctx, root, bin)
	}}
	mlBuild = &nodeBuild{what: "test/nemesis/mlnode", file: "mlnode", build: buildMLNode}
)

// nodeBuild is one program built on first use and kept, in a temporary
// directory of its own, until TestMain removes it.
type nodeBuild struct {
	what  string // the package, for the error message
	file  string // the binary's name
	build func(ctx context.Context, root, bin string) error

	once sync.Once
	dir  string
	bin  string
	err  error
}

// nodeBinary returns the path of the node program, building it on first use;
// a failed build fails the test.
func nodeBinary(t *testing.T) string {
	t.Helper()
	return labBuild.binary(t)
}

// mlnodeBinary returns the path of mlnode, building it on first use.
func mlnodeBinary(t *testing.T) string {
	t.Helper()
	return mlBuild.binary(t)
}

func (b *nodeBuild) binary(t *testing.T) string {
	t.Helper()
	b.once.Do(func() { b.bin, b.err = b.run() })
	if b.err != nil {
		t.Fatalf("building %s: %v", b.what, b.err)
	}
	return b.bin
}

func (b *nodeBuild) run() (string, error) {
	dir, err := os.MkdirTemp("", "gencluster-realpeers-")
	if err != nil {
		return "", err
	}
	b.dir = dir
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, b.file)
	if err := b.build(ctx, root, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// buildMLNode builds mlnode the way dockertest.BuildNode builds the node
// program (static, -trimpath), so that the two differ only in their code.
func buildMLNode(ctx context.Context, root, bin string) error {
	// go test puts its own toolchain first in PATH.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./test/nemesis/mlnode")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./test/nemesis/mlnode: %w\n%s", err, out)
	}
	return nil
}

func (b *nodeBuild) cleanup() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// requireTools fails the test, saying which Debian package brings it, when
// a program the test runs is missing.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	pkg := map[string]string{
		"ip": "iproute2", "iptables": "iptables", "ip6tables": "iptables", "named": "bind9",
		"unbound": "unbound", "dig": "bind9-dnsutils", "prometheus": "prometheus", "promtool": "prometheus", "serf": "serf",
	}
	if os.Geteuid() != 0 {
		t.Fatalf("the realpeers tests create network namespaces: run them as root (uid %d)", os.Geteuid())
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s (apt-get install %s; test/realpeers/ci-dns.sh installs it): %v", tool, pkg[tool], err)
		}
	}
}

// checkLeaks checks, when the test ends, after every clean-up registered
// later (processes stopped, namespaces deleted), that no goroutine the
// test started is left. Call it first.
func checkLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// randomHex returns n random bytes as hex.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// figure prints one measured figure in the greppable form the CI log is
// read with: "FIGURE name=value".
func figure(t *testing.T, name string, value any) {
	t.Helper()
	switch v := value.(type) {
	case time.Duration:
		value = fmt.Sprintf("%.3fs", v.Seconds())
	case float64:
		value = fmt.Sprintf("%.3f", v)
	}
	// Standard output, not t.Log: one line, at the start, in -v and
	// non-verbose runs alike.
	fmt.Printf("FIGURE %s=%v\n", name, value)
}

// labWait polls cond every interval until it returns nil or timeout
// passes, then fails the test with cond's last error. It returns how long
// the wait took.
func labWait(t *testing.T, what string, timeout, interval time.Duration, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := cond()
		if err == nil {
			took := time.Since(start)
			t.Logf("%s: after %v", what, took.Round(time.Millisecond))
			return took
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(interval)
	}
}

// mustWrite writes a file; an error is fatal.
func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

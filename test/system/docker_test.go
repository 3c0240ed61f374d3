//go:build system

package system

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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

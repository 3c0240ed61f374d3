package dockertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Label marks every image, network and container the harness creates
// (value "1"), so that .ci/run can remove the leftovers of an interrupted
// run.
const Label = "gencluster.systemtest"

// CommandTimeout bounds one docker command run by Must (docker stop waits
// up to 20s for a graceful leave; the machine may be busy).
const CommandTimeout = 2 * time.Minute

// Docker runs the docker CLI and returns its trimmed standard output; the
// error carries the command and its standard error.
func Docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// Must is Docker for a test, within CommandTimeout: an error is fatal.
func Must(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	out, err := Docker(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RequireDocker fails the test, saying what is missing, unless this is
// Linux (the harness enters the containers' network namespaces) with the
// docker CLI and a Docker daemon this user may use. who names the suite
// in the message.
func RequireDocker(t testing.TB, who string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Fatalf("%s need Linux (nsenter into the containers' network namespaces); GOOS=%s", who, runtime.GOOS)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("%s need the docker CLI and a running Docker daemon: docker is not in PATH", who)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := Docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("%s need a running Docker daemon that this user may use: %v", who, err)
	}
}

// RequireNetTools fails the test when nsenter or iptables, which Cut
// runs, is missing. who names the suite in the message.
func RequireNetTools(t testing.TB, who string) {
	t.Helper()
	for _, tool := range []string{"nsenter", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s need %s (apt-get install util-linux iptables): %v", who, tool, err)
		}
	}
}

// RandomHex returns n random bytes as hex, for names of images, networks
// and containers that no other run uses.
func RandomHex(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error (it crashes the program if
	// the system's generator fails).
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

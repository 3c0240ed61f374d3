//go:build nemesis

package nemesis

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// Flags. The environment variables NEMESIS_SEED and NEMESIS_DURATION set
// the same as -nemesis.seed and -nemesis.duration (for .ci/run).
var (
	flagSeed     = flag.Uint64("nemesis.seed", 0, "schedule seed; 0 draws one (printed, with the command that replays it)")
	flagDuration = flag.Duration("nemesis.duration", 3*time.Minute, "how long the nemesis injects faults")
	flagNodes    = flag.Int("nemesis.nodes", 8, "node containers in the nemesis (5 to 16)")
	// SuspicionMult 2 (the -fast timers' own) awaits no confirmation: one
	// prober that misses a round under the nemesis's load declares a
	// healthy member dead 0.6 s later. 4 is memberlist's LAN value:
	// two confirmations bring the suspicion down to 1.2 s, none leaves
	// it at 7.2 s (Lifeguard).
	flagSuspicion   = flag.Int("nemesis.suspicion-mult", 4, "the nodes' -suspicion-mult (memberlist's SuspicionMult) on top of -fast")
	flagSlowK       = flag.String("slow.k", "1,2", "comma-separated numbers of starved members, one run each")
	flagSlowN       = flag.Int("slow.n", 8, "members of each system in the slow-member experiment")
	flagSlowDur     = flag.Duration("slow.duration", 3*time.Minute, "how long the members are starved in each run")
	flagSlowCPUs    = flag.String("slow.cpus", starvedCPUs, "CPUs a starved member gets (docker update --cpus)")
	flagSlowHog     = flag.Bool("slow.hog", true, "run a CPU-bound process in each starved member's cgroup, so that the limit bites")
	flagLogLevel    = flag.String("nemesis.log-level", "info", "gencluster's node program -log-level in both experiments (debug logs the refresh loop's joins and memberlist's streams, at some CPU cost to a starved member)")
	flagSlowRefresh = flag.String("slow.refresh", "", "gencluster's refresh interval in the slow-member experiment (GENCLUSTER_REFRESH_INTERVAL: a duration, or infinity for none; empty: the node's default, 5s)")
)

var runID = dockertest.RandomHex(3)

// images are the FROM scratch images this test binary built, by system.
var images = struct {
	sync.Mutex
	built map[string]string // system -> image tag
	errs  map[string]error
}{built: map[string]string{}, errs: map[string]error{}}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	images.Lock()
	for _, img := range images.built {
		dockertest.RemoveImage(img)
	}
	images.Unlock()
	os.Exit(code)
}

// The systems the experiments run.
const (
	sysGencluster = "gencluster"
	sysMemberlist = "memberlist"
	sysSerf       = "serf"
)

// image returns the image of system, building it on first use: the node
// program (examples/compose's Dockerfile), mlnode, or serf's agent with
// the libraries it links.
func image(t *testing.T, system string) string {
	t.Helper()
	dockertest.RequireDocker(t, "the nemesis experiments")
	dockertest.RequireNetTools(t, "the nemesis experiments")
	images.Lock()
	defer images.Unlock()
	if img, ok := images.built[system]; ok {
		return img
	}
	if err, ok := images.errs[system]; ok {
		t.Fatalf("building the %s image: %v", system, err)
	}
	img := fmt.Sprintf("gencluster-nemesis-%s:%s", system, runID)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	switch system {
	case sysGencluster:
		var root string
		if root, err = filepath.Abs("../.."); err == nil {
			err = dockertest.BuildImage(ctx, root, img)
		}
	case sysMemberlist:
		err = buildMLNodeImage(ctx, img)
	case sysSerf:
		err = buildSerfImage(ctx, img)
	default:
		err = fmt.Errorf("no system %q", system)
	}
	if err != nil {
		images.errs[system] = err
		t.Fatalf("building the %s image: %v", system, err)
	}
	images.built[system] = img
	return img
}

// buildScratchImage builds a FROM scratch image from dir, whose files are
// copied to / and whose entrypoint is entry.
func buildScratchImage(ctx context.Context, dir, img, entry string) error {
	df := fmt.Sprintf("FROM scratch\nCOPY . /\nUSER 65534:65534\nENTRYPOINT [%q]\n", entry)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return err
	}
	_, err := dockertest.Docker(ctx, "build", "-q", "--label", dockertest.Label+"=1", "-t", img, dir)
	return err
}

// buildMLNodeImage builds ./mlnode as a static binary in a FROM scratch
// image.
func buildMLNodeImage(ctx context.Context, img string) error {
	dir, err := os.MkdirTemp("", "gencluster-nemesis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "mlnode"), "./mlnode")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./mlnode: %w\n%s", err, out)
	}
	return buildScratchImage(ctx, dir, img, "/mlnode")
}

// lddPath matches a library path in ldd's output.
var lddPath = regexp.MustCompile(`(/\S+) \(0x`)

// buildSerfImage puts Debian's /usr/bin/serf (dynamically linked: the
// package is built with cgo) with the libraries ldd lists, at their
// paths, in a FROM scratch image, so that serf runs in the same kind of
// container, with the same CPU limits, as the Go programs.
func buildSerfImage(ctx context.Context, img string) error {
	serf, err := exec.LookPath("serf")
	if err != nil {
		return fmt.Errorf("serf is not installed (apt-get install serf): %v", err)
	}
	out, err := exec.CommandContext(ctx, "ldd", serf).CombinedOutput()
	files := []string{serf}
	if err == nil {
		for _, m := range lddPath.FindAllStringSubmatch(string(out), -1) {
			files = append(files, m[1])
		}
	} else if !strings.Contains(string(out), "not a dynamic executable") {
		return fmt.Errorf("ldd %s: %v: %s", serf, err, out)
	}
	dir, err := os.MkdirTemp("", "gencluster-nemesis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, f := range files {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(real)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			return err
		}
	}
	return buildScratchImage(ctx, dir, img, serf)
}

// figure prints one measured figure as "FIGURE name=value", the form
// test/realpeers prints (grep the log for FIGURE).
func figure(name string, value any) {
	switch v := value.(type) {
	case time.Duration:
		value = fmt.Sprintf("%.3fs", v.Seconds())
	case float64:
		value = fmt.Sprintf("%.3f", v)
	}
	fmt.Printf("FIGURE %s=%v\n", name, value)
}

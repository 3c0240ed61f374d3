package seeds

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

// execDiscover runs one Discover with a deadline well past any timeout the
// tests set.
func execDiscover(t *testing.T, d Discoverer) ([]string, error) {
	t.Helper()
	if err := validate(d); err != nil {
		t.Fatalf("Validate(%s): %v", name(d), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.Discover(ctx)
}

func wantErrParts(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func TestExecReadsAddresses(t *testing.T) {
	backendtest.CheckLeaks(t)
	out := "# peers of the test\n\n10.0.0.1:7946\n10.0.0.2   # no port: the default\n" +
		"[fd00::3]:7000\nfd00::4\n[fd00::5]\npeer-6.internal\npeer-7.internal:7001\r\n10.0.0.1:7946\n"
	d := Exec("printf", []string{"%s", out}, ExecDefaultPort(7946))
	got, err := execDiscover(t, d)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.1:7946", "10.0.0.2:7946", "[fd00::3]:7000", "[fd00::4]:7946", "[fd00::5]:7946", "peer-6.internal:7946", "peer-7.internal:7001"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestExecGetent runs the real getent against this machine's hosts
// database: its lines are "address name aliases", so column 1.
func TestExecGetent(t *testing.T) {
	backendtest.CheckLeaks(t)
	getent, err := exec.LookPath("getent")
	if err != nil {
		t.Fatalf("getent (libc-bin) is needed: %v", err)
	}
	d := Exec(getent, []string{"hosts", "localhost"}, ExecColumn(1), ExecDefaultPort(7946))
	got, err := execDiscover(t, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("getent hosts localhost: no address")
	}
	for _, a := range got {
		if a != "127.0.0.1:7946" && a != "[::1]:7946" {
			t.Fatalf("getent hosts localhost gave %v, want loopback addresses with port 7946", got)
		}
	}
	// Without the column, the name after the address is a bad line.
	_, err = execDiscover(t, Exec(getent, []string{"hosts", "localhost"}, ExecDefaultPort(7946)))
	wantErrParts(t, err, "exec "+getent+" hosts localhost: output line 1:", "localhost", "more than one word")
}

func TestExecBadLines(t *testing.T) {
	backendtest.CheckLeaks(t)
	for _, tc := range []struct {
		out   string
		opts  []ExecOption
		parts []string
	}{
		{"10.0.0.1:7946\n\n# c\n10.0.0.2:99999\n10.0.0.3:x\n", nil, []string{"line 4:", `"10.0.0.2:99999"`, `port "99999"`}},
		{"10.0.0.1\n", nil, []string{"line 1:", "no port, and no default port"}},
		{"ok.example:1\nfd00::1:7946 x\n", []ExecOption{ExecDefaultPort(1)}, []string{"line 2:", "more than one word"}},
		{"[10.0.0.1]:7946\n", nil, []string{"line 1:", "need brackets"}},
		{"[peer]\n", []ExecOption{ExecDefaultPort(1)}, []string{"line 1:", "not an IPv6 address"}},
		{"bad_host!:7946\n", nil, []string{"line 1:", "bad_host!"}},
		{"a b\n", []ExecOption{ExecColumn(3)}, []string{"line 1:", "2 column(s), want column 3"}},
	} {
		_, err := execDiscover(t, Exec("printf", []string{"%s", tc.out}, tc.opts...))
		wantErrParts(t, err, append([]string{"exec printf %s "}, tc.parts...)...)
	}
}

func TestExecFailingCommand(t *testing.T) {
	backendtest.CheckLeaks(t)
	d := Exec("sh", []string{"-c", "echo 10.0.0.1:7946; echo; echo 'no credentials found' >&2; echo second >&2; exit 3"})
	got, err := execDiscover(t, d)
	wantErrParts(t, err, `exec sh -c "echo 10.0.0.1:7946;`, "exit status 3", `(stderr: "no credentials found")`)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 3 {
		t.Fatalf("error %v does not wrap an *exec.ExitError with code 3", err)
	}
	if got != nil {
		t.Fatalf("a failed run returned %v, want nothing", got)
	}
}

func TestExecMissingCommand(t *testing.T) {
	d := Exec("/nonexistent/peers", nil)
	wantErrParts(t, validate(d), "exec /nonexistent/peers:", "no such file")
	_, err := d.Discover(context.Background())
	wantErrParts(t, err, "/nonexistent/peers")
	wantErrParts(t, validate(Exec("", nil)), "empty command")
}

// TestExecTimeoutKillsGroup runs a shell that starts a background sleep
// (its own child, holding the output pipe) and then sleeps itself: past
// the timeout both must be gone, and Discover must return soon after it.
func TestExecTimeoutKillsGroup(t *testing.T) {
	backendtest.CheckLeaks(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	d := Exec("sh", []string{"-c", "sleep 60 & echo $! > " + pidFile + "; sleep 60"}, ExecTimeout(500*time.Millisecond))
	start := time.Now()
	_, err := execDiscover(t, d)
	took := time.Since(start)
	wantErrParts(t, err, "exec sh -c", "timed out after 500ms and was killed")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if took > 10*time.Second {
		t.Fatalf("Discover returned %v after the start, want soon after the 500ms timeout", took)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitGone(t, pid)
}

// waitGone waits until process pid has exited (gone, or a zombie that its
// new parent has yet to reap).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still running: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExecContextEnds(t *testing.T) {
	backendtest.CheckLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := Exec("sleep", []string{"60"}).Discover(ctx)
	wantErrParts(t, err, "exec sleep 60: stopped by Discover's context")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not wrap context.Canceled", err)
	}
}

// TestExecLeftoverProcess: the command exits 0 but a process it started
// keeps the output open. The run gives up after execWaitDelay and kills it.
func TestExecLeftoverProcess(t *testing.T) {
	backendtest.CheckLeaks(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	d := Exec("sh", []string{"-c", "sleep 60 & echo $! > " + pidFile + "; echo 10.0.0.1:7946"})
	_, err := execDiscover(t, d)
	wantErrParts(t, err, "kept its output open")
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitGone(t, pid)
}

// awk100k prints 100,000 valid addresses, 1.3 MiB.
var awk100k = []string{`BEGIN { for (i = 0; i < 100000; i++) printf "10.%d.%d.%d:7946\n", int(i / 65536), int(i / 256) % 256, i % 256 }`}

func TestExecOutputLimits(t *testing.T) {
	backendtest.CheckLeaks(t)
	_, err := execDiscover(t, Exec("awk", awk100k))
	wantErrParts(t, err, "exec awk", "output passed 10000 lines (ExecMaxLines, max-lines=); the command was killed")
	_, err = execDiscover(t, Exec("awk", awk100k, ExecMaxLines(100000)))
	wantErrParts(t, err, "output passed 1048576 bytes (ExecMaxOutput, max-output=); the command was killed")
	got, err := execDiscover(t, Exec("awk", awk100k, ExecMaxOutput(4<<20), ExecMaxLines(100000)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100000 || got[0] != "10.0.0.0:7946" || got[99999] != "10.1.134.159:7946" {
		t.Fatalf("got %d addresses, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
	// A command that keeps printing for ever is stopped by the limit,
	// not the timeout.
	start := time.Now()
	_, err = execDiscover(t, Exec("yes", []string{"10.0.0.1:7946"}))
	wantErrParts(t, err, "exec yes 10.0.0.1:7946: output passed")
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("yes was stopped after %v", took)
	}
}

func TestExecOptionsValidate(t *testing.T) {
	err := validate(Exec("true", nil, ExecTimeout(0), ExecDefaultPort(70000), ExecColumn(0), ExecMaxOutput(-1), ExecMaxLines(0)))
	wantErrParts(t, err, "exec timeout 0s", "exec default port 70000", "exec column 0", "exec max output -1 bytes", "exec max lines 0")
}

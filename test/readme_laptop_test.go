package test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// TestReadmeLaptopQuickStart runs the README's first program as the README
// says: built once, started three times on 127.0.0.1 with the ports 7946,
// 7947 and 7948. Each process must log the join of all three; an interrupt
// (Ctrl-C) of one must make the other two log its leave, not a failure.
func TestReadmeLaptopQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(quickStartBlock(t, string(readme))), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "quickstart")
	// The file is built from this module, so its imports resolve to this
	// checkout of gencluster.
	if out, err := exec.Command("go", "build", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("go build of the README's quick start: %v\n%s", err, out)
	}
	ports := []string{"7946", "7947", "7948"}
	for _, p := range ports {
		// The program's ports are fixed, as the README shows them: a port
		// taken by something else fails the test, naming it.
		for _, network := range []string{"tcp", "udp"} {
			if err := portFree(network, "127.0.0.1:"+p); err != nil {
				t.Fatalf("the quick start needs %s 127.0.0.1:%s free: %v", network, p, err)
			}
		}
	}
	procs := make([]*quickProc, len(ports))
	for i, p := range ports {
		procs[i] = startQuick(t, bin, p)
	}
	for _, q := range procs {
		for _, p := range ports {
			testutil.Eventually(t, 30*time.Second, func() bool { return q.logged("join node-" + p) },
				"node-%s logs the join of node-%s; its log:\n%s", q.port, p, q)
		}
	}
	last := procs[2]
	if err := last.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := last.wait(15 * time.Second); err != nil {
		t.Fatalf("node-%s after an interrupt: %v; its log:\n%s", last.port, err, last)
	}
	for _, q := range procs[:2] {
		testutil.Eventually(t, 15*time.Second, func() bool { return q.logged("leave node-" + last.port) },
			"node-%s logs the leave of node-%s; its log:\n%s", q.port, last.port, q)
		if q.logged("fail node-" + last.port) {
			t.Errorf("node-%s reported node-%s failed after it left; its log:\n%s", q.port, last.port, q)
		}
	}
}

// quickProc is one process of the quick start and its log.
type quickProc struct {
	port string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	done chan error
}

func startQuick(t *testing.T, bin, port string) *quickProc {
	t.Helper()
	q := &quickProc{port: port, cmd: exec.Command(bin, port), done: make(chan error, 1)}
	stderr, err := q.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // ends when the process closes its stderr (it exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			q.mu.Lock()
			q.log.WriteString(sc.Text() + "\n")
			q.mu.Unlock()
		}
		q.done <- q.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = q.cmd.Process.Signal(syscall.SIGKILL)
		<-q.done
	})
	return q
}

func (q *quickProc) logged(s string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return strings.Contains(q.log.String(), s)
}

func (q *quickProc) String() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.log.String()
}

// wait waits for the process to exit; the second wait (the cleanup's) gets
// the same result.
func (q *quickProc) wait(limit time.Duration) error {
	select {
	case err := <-q.done:
		q.done <- err
		return err
	case <-time.After(limit):
		return os.ErrDeadlineExceeded
	}
}

func portFree(network, addr string) error {
	if network == "udp" {
		c, err := net.ListenPacket(network, addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	return l.Close()
}

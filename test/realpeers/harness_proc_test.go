//go:build realpeers

package realpeers

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// proc is one program the test started (a DNS server, Prometheus, a node,
// a serf agent). Its output is kept for the test log; it is stopped when
// the test ends, and what it printed is logged when the test failed.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *dockertest.LockedBuffer
	exited chan struct{}
	err    error // Wait's error, once exited is closed
}

// startProc runs argv with the extra environment env. It is sent SIGTERM
// when the test ends (SIGKILL if it has not exited 5s later).
func startProc(t *testing.T, name string, env []string, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &dockertest.LockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// A process group of its own: a terminal's Ctrl-C reaches the test,
	// which then stops its children in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s (%s): %v", name, strings.Join(argv, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- output of %s (last 3000 bytes):\n%s", name, tail(p.out.String(), 3000))
		}
	})
	return p
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM, then SIGKILL after 5s, and waits for the exit.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.kill()
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

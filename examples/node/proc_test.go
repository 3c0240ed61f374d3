package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The program in a child process, for the tests that signal it.

// proc is the program running in a child process.
type proc struct {
	cmd        *exec.Cmd
	httpAddr   string // from the "status endpoint" log record
	gossipAddr string // from the "running" log record
	mu         sync.Mutex
	log        strings.Builder
	done       chan error
}

// startProc runs the program with env added to the environment and waits
// until it logs that it is running.
func startProc(t *testing.T, env ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], "-http", "127.0.0.1:0", "-fast", "-leave-timeout", "5s")
	p.cmd.Env = append(os.Environ(), append([]string{runEnv + "=1", "GENCLUSTER_BIND=127.0.0.1:0"}, env...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("program log:\n%s", p.logText())
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil {
				switch rec.Msg {
				case "status endpoint":
					p.httpAddr = rec.Addr
				case "running":
					p.gossipAddr = rec.Addr
					close(ready)
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.done <- p.cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("the program exited before running: %v\n%s", err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("the program did not start within 30s\n%s", p.logText())
	}
	return p
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *proc) get(path string, v any) error {
	resp, err := http.Get("http://" + p.httpAddr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// record returns the first log record with message msg, decoded.
func (p *proc) record(msg string) map[string]any {
	for line := range strings.Lines(p.logText()) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			return rec
		}
	}
	return nil
}

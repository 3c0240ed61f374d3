package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gencluster/gencluster/examples/meshdist"
	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// The timers of the processes, and the failure bound they document.
var (
	procInterval = 100 * time.Millisecond
	procMissed   = 5
	procDial     = time.Second
	procBound    = meshdist.Config{Interval: procInterval, MissedHeartbeats: procMissed, DialTimeout: procDial}.FailureBound()
)

const (
	procWait = 15 * time.Second // for what only a very loaded machine delays
	// schedSlack is the lateness allowed to a timer-driven detection
	// (deadlines and timeouts) on a loaded machine.
	schedSlack = 500 * time.Millisecond
)

// event is an event line of meshnode's stdout, and when the test read it.
type event struct {
	Type   string `json:"type"`
	Member struct {
		Name string `json:"name"`
		Boot string `json:"boot"`
	} `json:"member"`
	at time.Time
}

// proc is one meshnode process.
type proc struct {
	name, addr, http string
	cmd              *exec.Cmd
	stderr           strings.Builder // guarded by mu
	mu               sync.Mutex
	events           []event
	exited           chan struct{} // closed once Wait returned; err is then set
	err              error
}

// startProc starts meshnode and reads its events until it exits.
func startProc(t *testing.T, bin, name, ip string, port, httpPort int, seedAddrs []string) *proc {
	t.Helper()
	p := &proc{name: name, addr: net.JoinHostPort(ip, strconv.Itoa(port)), http: net.JoinHostPort(ip, strconv.Itoa(httpPort)), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "-name", name, "-addr", p.addr, "-http", p.http, "-seeds", strings.Join(seedAddrs, ","),
		"-interval", procInterval.String(), "-missed", strconv.Itoa(procMissed), "-dial-timeout", procDial.String(), "-refresh", "500ms")
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("%s: bad event line %q: %v", name, sc.Text(), err)
				continue
			}
			ev.at = time.Now()
			p.mu.Lock()
			p.events = append(p.events, ev)
			p.mu.Unlock()
		}
		p.err = p.cmd.Wait() // after stdout is drained, as Wait requires
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.log())
		}
	})
	return p
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// find returns the first event of typ for name, after skip such events.
func (p *proc) find(typ, name string, skip int) (event, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range p.events {
		if ev.Type == typ && ev.Member.Name == name {
			if skip == 0 {
				return ev, true
			}
			skip--
		}
	}
	return event{}, false
}

// members returns the names /members lists, or nil when it does not answer.
func (p *proc) members() []string {
	c := http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}} // no idle connection outlives the test
	resp, err := c.Get("http://" + p.http + "/members")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var ms []struct{ Name string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&ms) != nil {
		return nil
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func buildMeshnode(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build meshnode: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "meshnode")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestRealProcesses runs four meshnode processes on 127.0.0.2-5: they
// form a full mesh; a SIGKILLed one is reported failed by the others
// within the documented bound; restarted under its name it is joined with
// a new boot id; a process claiming a live member's name exits 3 naming
// the holder; a SIGSTOPped one is reported failed by its silence, and
// joined again after SIGCONT; a SIGTERMed one is reported as a leave.
func TestRealProcesses(t *testing.T) {
	ips := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"} // the last for the impostor
	for _, ip := range ips {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Skipf("loopback alias %s unusable: %v", ip, err)
		}
		ln.Close()
	}
	bin := buildMeshnode(t)
	port, httpPort := testutil.FreePort(t, ips...), testutil.FreePort(t, ips...)
	var addrs []string
	for _, ip := range ips[:4] {
		addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(port)))
	}
	names := []string{"n1", "n2", "n3", "n4"}
	procs := make([]*proc, 4)
	for i, name := range names {
		procs[i] = startProc(t, bin, name, ips[i], port, httpPort, addrs)
	}
	allListed := func(ps []*proc, want []string) {
		t.Helper()
		for _, p := range ps {
			testutil.Eventually(t, procWait, func() bool { return slices.Equal(p.members(), want) }, "%s's /members to list %v (lists %v)", p.name, want, p.members())
		}
	}
	allListed(procs, names)

	// kill -9: the others report n4 failed within the bound.
	n4 := procs[3]
	firstJoin, _ := procs[0].find("join", "n4", 0)
	killed := time.Now()
	n4.cmd.Process.Signal(syscall.SIGKILL)
	<-n4.exited
	for _, p := range procs[:3] {
		testutil.Eventually(t, procWait, func() bool { _, ok := p.find("fail", "n4", 0); return ok }, "%s to report n4 failed", p.name)
		ev, _ := p.find("fail", "n4", 0)
		took := ev.at.Sub(killed)
		if took > procBound {
			t.Errorf("%s reported n4 failed after %v, bound %v", p.name, took, procBound)
		}
		t.Logf("%s reported n4 failed %v after the kill (bound %v)", p.name, took.Round(time.Millisecond), procBound)
		if ev.Member.Boot != firstJoin.Member.Boot {
			t.Errorf("%s: failed boot %s, joined %s", p.name, ev.Member.Boot, firstJoin.Member.Boot)
		}
	}
	allListed(procs[:3], names[:3])

	// Restarted under its name and address: a join with a new boot id.
	procs[3] = startProc(t, bin, "n4", ips[3], port, httpPort, addrs)
	for _, p := range procs[:3] {
		testutil.Eventually(t, procWait, func() bool { _, ok := p.find("join", "n4", 1); return ok }, "%s to see n4 join again", p.name)
		ev, _ := p.find("join", "n4", 1)
		if ev.Member.Boot == firstJoin.Member.Boot || ev.Member.Boot == "" {
			t.Errorf("%s: n4 rejoined with boot %q, the old life's was %q", p.name, ev.Member.Boot, firstJoin.Member.Boot)
		}
	}
	allListed(procs, names)

	// A fifth process claiming n2's name is refused, naming n2.
	impostor := startProc(t, bin, "n2", ips[4], port, httpPort, addrs[:1])
	select {
	case <-impostor.exited:
	case <-time.After(procWait):
		t.Fatal("the impostor is still running")
	}
	var ee *exec.ExitError
	if !errors.As(impostor.err, &ee) || ee.ExitCode() != exitNameConflict || !strings.Contains(impostor.log(), addrs[1]) {
		t.Errorf("impostor: %v, want exit %d naming %s; stderr:\n%s", impostor.err, exitNameConflict, addrs[1], impostor.log())
	}

	// SIGSTOP: n2 is silent (its kernel still accepts connections, so only
	// the heartbeats tell): reported failed within the bound, and joined
	// again once it runs.
	n2 := procs[1]
	stopped := time.Now()
	n2.cmd.Process.Signal(syscall.SIGSTOP)
	for _, p := range []*proc{procs[0], procs[2], procs[3]} {
		testutil.Eventually(t, procWait, func() bool { _, ok := p.find("fail", "n2", 0); return ok }, "%s to report the stopped n2 failed", p.name)
		ev, _ := p.find("fail", "n2", 0)
		took := ev.at.Sub(stopped)
		if took < procDial || took > procBound+schedSlack {
			t.Errorf("%s reported the silent n2 failed after %v, want between %v and the bound %v (+%v)", p.name, took, procDial, procBound, schedSlack)
		}
		t.Logf("%s reported the silent n2 failed %v after SIGSTOP (bound %v)", p.name, took.Round(time.Millisecond), procBound)
	}
	n2.cmd.Process.Signal(syscall.SIGCONT)
	for _, p := range []*proc{procs[0], procs[2], procs[3]} {
		testutil.Eventually(t, procWait, func() bool { _, ok := p.find("join", "n2", 1); return ok }, "%s to see n2 back", p.name)
	}
	allListed(procs, names)

	// SIGTERM: a graceful leave, which the others report as such.
	n3 := procs[2]
	n3.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n3.exited:
	case <-time.After(procWait):
		t.Fatal("n3 did not exit after SIGTERM")
	}
	if n3.err != nil {
		t.Errorf("n3 after SIGTERM: %v, want exit 0", n3.err)
	}
	rest := []*proc{procs[0], procs[1], procs[3]}
	for _, p := range rest {
		testutil.Eventually(t, procWait, func() bool { _, ok := p.find("leave", "n3", 0); return ok }, "%s to see n3 leave", p.name)
		if ev, ok := p.find("fail", "n3", 0); ok {
			t.Errorf("%s reported n3 failed: %+v", p.name, ev)
		}
	}
	allListed(rest, []string{"n1", "n2", "n4"})
}

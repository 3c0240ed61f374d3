package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// runEnv makes the test binary run the program instead of the tests, so
// that the signal tests drive a real process.
const runEnv = "NODE_TEST_RUN_PROGRAM" // not GENCLUSTER_*: FromEnv refuses variables it does not read

func TestMain(m *testing.M) {
	if os.Getenv(runEnv) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil || c.httpAddr != ":8080" || c.leaveTimeout != 10*time.Second || c.drainTimeout != 10*time.Second || c.fast || c.minMembers != 1 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	if c, err := parseFlags([]string{"-snapshot", "/data/members.snap"}, io.Discard); err != nil || c.snapshot != "/data/members.snap" {
		t.Errorf("-snapshot: %+v, %v", c, err)
	}
	if c, err := parseFlags([]string{"-fast", "-suspicion-mult", "4"}, io.Discard); err != nil || !c.fast || c.suspicion != 4 {
		t.Errorf("-fast -suspicion-mult 4: %+v, %v", c, err)
	}
	for _, args := range [][]string{
		{"-leave-timeout", "0s"},
		{"-drain-timeout", "-1s"},
		{"-log-level", "loud"},
		{"-min-members", "0"},
		{"-suspicion-mult", "1"},
		{"-suspicion-mult", "-2"},
		{"extra"},
		{"-nope"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

// TestUsageListsEveryVariable checks that -h names every GENCLUSTER_*
// variable the root package defines (its Env* constants, read from the
// source so that a new variable cannot be forgotten here).
func TestUsageListsEveryVariable(t *testing.T) {
	var out strings.Builder
	if _, err := parseFlags([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseFlags(-h): %v, want flag.ErrHelp", err)
	}
	vars := envConstants(t, "../..")
	if len(vars) < 8 {
		t.Fatalf("found only %d GENCLUSTER_* constants in the root package: %v", len(vars), vars)
	}
	for _, v := range vars {
		if !strings.Contains(out.String(), "\n  "+v+" ") {
			t.Errorf("usage does not list %s:\n%s", v, out.String())
		}
	}
	for _, f := range []string{"-http", "-drain-timeout", "-leave-timeout", "-min-members", "-fast", "-suspicion-mult"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("usage does not list flag %s", f)
		}
	}
}

// envConstants returns the values of the exported string constants of the
// package in dir whose value starts with GENCLUSTER_.
func envConstants(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) || !name.IsExported() {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "GENCLUSTER_") {
						out = append(out, v)
					}
				}
			}
		}
	}
	return out
}

func getJSON(t *testing.T, h http.Handler, path string, v any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if v != nil && rec.Code == http.StatusOK {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("%s: %v: %s", path, err, rec.Body)
		}
	}
	return rec.Code
}

func TestHandler(t *testing.T) {
	node, err := gencluster.Start(context.Background(),
		gencluster.WithName("n1"), gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithMeta(map[string]string{"zone": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	st := &status{}
	h := st.handler(promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{}))
	if code := getJSON(t, h, "/healthz", nil); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz before the join: %d, want 503", code)
	}
	if code := getJSON(t, h, "/metrics", nil); code != http.StatusOK {
		t.Errorf("/metrics before the join: %d, want 200", code)
	}
	st.setNode(node)
	st.record(<-node.Events()) // its own join

	var ms []memberJSON
	if code := getJSON(t, h, "/members", &ms); code != http.StatusOK {
		t.Fatalf("/members: %d", code)
	}
	want := memberJSON{Name: "n1", Addr: node.Addr(), State: "alive", Meta: map[string]string{"zone": "a"}, Boot: node.LocalMember().Boot.String()}
	if len(ms) != 1 || fmt.Sprint(ms[0]) != fmt.Sprint(want) {
		t.Errorf("/members = %+v, want [%+v]", ms, want)
	}
	var evs []eventJSON
	getJSON(t, h, "/events", &evs)
	if len(evs) != 1 || evs[0].Type != "join" || evs[0].Member.Name != "n1" || evs[0].Time.IsZero() {
		t.Errorf("/events = %+v, want n1's join", evs)
	}
	if code := getJSON(t, h, "/healthz", nil); code != http.StatusOK {
		t.Errorf("/healthz while running: %d", code)
	}
	if code := getJSON(t, h, "/readyz", nil); code != http.StatusOK {
		t.Errorf("/readyz with -min-members 1: %d", code)
	}
	if err := node.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := getJSON(t, h, "/healthz", nil); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz after Leave: %d, want 503", code)
	}
	if code := getJSON(t, h, "/nope", nil); code != http.StatusNotFound {
		t.Errorf("/nope: %d", code)
	}
}

func TestEventRingBounded(t *testing.T) {
	st := &status{}
	for i := range maxEvents + 10 {
		st.record(gencluster.Event{Type: gencluster.EventJoin, Member: gencluster.Member{Name: fmt.Sprint(i)}})
	}
	if len(st.events) != maxEvents || st.events[0].Member.Name != "10" {
		t.Fatalf("%d events, first %q; want %d, first \"10\"", len(st.events), st.events[0].Member.Name, maxEvents)
	}
}

// TestSIGTERMLeaves: two processes form a cluster; SIGTERM makes one
// drain (the other acknowledges it), then leave gracefully and exit 0,
// and the other sees it draining, then a leave, not a failure.
func TestSIGTERMLeaves(t *testing.T) {
	a := startProc(t, "GENCLUSTER_NAME=a")
	b := startProc(t, "GENCLUSTER_NAME=b", "GENCLUSTER_SEEDS=static+"+a.gossipAddr, "GENCLUSTER_REFRESH_INTERVAL=200ms")
	testutil.Eventually(t, 20*time.Second, func() bool {
		var ms []memberJSON
		return a.get("/members", &ms) == nil && len(ms) == 2
	}, "a sees b")
	resp, err := http.Get("http://" + a.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `gencluster_events_total{node="a",type="join"}`) || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("/metrics lacks gencluster_events_total or go_goroutines:\n%.2000s", body)
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.done:
		b.done <- err
		if err != nil {
			t.Fatalf("b after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("b did not exit within 20s of SIGTERM")
	}
	if !strings.Contains(b.logText(), `"msg":"left the cluster"`) {
		t.Error(`b did not log "left the cluster"`)
	}
	drained := b.record("drained")
	if drained == nil || drained["level"] != "INFO" || drained["acked"] != 1.0 || drained["timeout"] != 0.0 || drained["elapsed_ms"] == nil {
		t.Errorf(`b's "drained" record %v, want INFO with acked 1, timeout 0 and elapsed_ms`, drained)
	}
	var seq []string
	testutil.Eventually(t, 20*time.Second, func() bool {
		var evs []eventJSON
		if a.get("/events", &evs) != nil {
			return false
		}
		seq = nil
		for _, e := range evs {
			if e.Member.Name == "b" {
				seq = append(seq, e.Type+":"+e.Member.State)
			}
		}
		return len(seq) > 0 && seq[len(seq)-1] == "leave:left"
	}, "a records b's leave")
	if strings.Join(seq, " ") != "join:alive update:draining leave:left" {
		t.Errorf("a saw b as %v, want join, update to draining, leave", seq)
	}
}

// TestBadEnv: a malformed variable stops the program with exit code 2.
func TestBadEnv(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-http", "")
	cmd.Env = append(os.Environ(), runEnv+"=1", "GENCLUSTER_REFRESH_INTERVAL=soon")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2\n%s", err, out)
	}
	if !strings.Contains(string(out), "GENCLUSTER_REFRESH_INTERVAL") {
		t.Errorf("the error does not name the variable:\n%s", out)
	}
}

// TestSIGTERMAllAtOnce: every node of the deployment gets SIGTERM at once
// (docker compose down). Each leaves a cluster that is going away, which
// is not an error: every process exits 0 and logs nothing at ERROR.
func TestSIGTERMAllAtOnce(t *testing.T) {
	a := startProc(t, "GENCLUSTER_NAME=a")
	procs := []*proc{a}
	for _, name := range []string{"b", "c"} {
		procs = append(procs, startProc(t, "GENCLUSTER_NAME="+name, "GENCLUSTER_SEEDS=static+"+a.gossipAddr, "GENCLUSTER_REFRESH_INTERVAL=200ms"))
	}
	for _, p := range procs {
		testutil.Eventually(t, 20*time.Second, func() bool {
			var ms []memberJSON
			return p.get("/members", &ms) == nil && len(ms) == 3
		}, "a cluster of 3")
	}
	for _, p := range procs {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range procs {
		select {
		case err := <-p.done:
			p.done <- err
			if err != nil {
				t.Errorf("node %d after SIGTERM: %v, want exit 0\n%s", i, err, p.logText())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("node %d did not exit within 20s of SIGTERM", i)
		}
		if strings.Contains(p.logText(), `"level":"ERROR"`) {
			t.Errorf("node %d logged at ERROR:\n%s", i, p.logText())
		}
	}
}

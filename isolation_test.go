package gencluster

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// recordsWith returns the records of h at level or above whose message or
// attributes contain s.
func recordsWith(h *testutil.RecordHandler, level slog.Level, s string) []slog.Record {
	var out []slog.Record
	for _, r := range h.Records() {
		if r.Level < level {
			continue
		}
		text := r.Message
		r.Attrs(func(a slog.Attr) bool { text += " " + a.Key + "=" + a.Value.String(); return true })
		if strings.Contains(text, s) {
			out = append(out, r)
		}
	}
	return out
}

func attr(r slog.Record, key string) string {
	v := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
		}
		return true
	})
	return v
}

// silentListener accepts TCP connections and never answers: a join to it
// times out, as one to a host behind a dropping firewall does.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// TestIsolatedNodeSaysWhy starts, for every way a node can fail to join
// the cluster discovery lists, a healthy node and a bad one seeded with
// it, and checks that the bad one reports itself isolated: one ERROR with
// the diagnosis, /healthz and /readyz 503 naming it, Ready false, and the
// gauge of discovered addresses that are not members.
func TestIsolatedNodeSaysWhy(t *testing.T) {
	k1, k2 := key(1, 16), key(2, 16)
	type side []Option
	cases := []struct {
		name      string
		healthy   side // nil: no healthy node; the seed is target
		bad       side
		target    func(t *testing.T) string
		diagnosis string
	}{
		{name: "key", healthy: side{WithSecretKey(k1)}, bad: side{WithSecretKey(k2)}, diagnosis: "key mismatch"},
		{name: "plaintext-node-encrypted-cluster", healthy: side{WithSecretKey(k1)}, bad: side{}, diagnosis: "encryption mismatch"},
		{name: "encrypted-node-plaintext-cluster", healthy: side{}, bad: side{WithSecretKey(k1)}, diagnosis: "encryption mismatch"},
		{name: "label", healthy: side{WithLabel("blue")}, bad: side{WithLabel("green")}, diagnosis: "label mismatch"},
		{name: "refused", target: func(t *testing.T) string {
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(testutil.FreePort(t, "127.0.0.1")))
		}, diagnosis: "refused"},
		{name: "unreachable", target: silentListener, diagnosis: "unreachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var target string
			if tc.target != nil {
				target = tc.target(t)
			} else {
				h := startNode(t, append(testOpts(t, "iso-ok-"+tc.name), tc.healthy...)...)
				target = h.Addr()
			}
			logs := testutil.NewRecordHandler()
			reg := prometheus.NewRegistry()
			bad := startNode(t, append(append(testOpts(t, "iso-bad-"+tc.name), tc.bad...),
				WithSeeds(seeds.Static(target)), WithLogger(slog.New(logs)), WithMetrics(reg),
				WithRefreshInterval(100*time.Millisecond))...)
			testutil.Eventually(t, 10*time.Second, func() bool {
				return len(recordsWith(logs, slog.LevelError, "isolated")) > 0
			}, "an isolation ERROR")
			errs := recordsWith(logs, slog.LevelError, "isolated")
			if d := attr(errs[0], "diagnosis"); !strings.Contains(d, tc.diagnosis) {
				t.Errorf("diagnosis = %q, want %q (err %s)", d, tc.diagnosis, attr(errs[0], "err"))
			}
			if !strings.Contains(attr(errs[0], "addrs"), target) {
				t.Errorf("the ERROR does not name %s: %v", target, errs[0])
			}
			if ok, _ := bad.Ready(); ok {
				t.Error("Ready() = true while isolated")
			}
			for _, p := range []string{"/healthz", "/readyz"} {
				rec := serve(bad.Handler(), "GET", p)
				if rec.Code != 503 || !strings.Contains(rec.Body.String(), "isolated") || !strings.Contains(rec.Body.String(), tc.diagnosis) {
					t.Errorf("GET %s = %d %q, want 503 naming isolated: %s", p, rec.Code, rec.Body, tc.diagnosis)
				}
			}
			if v := gaugeValue(t, reg, "gencluster_discovered_not_members"); v != 1 {
				t.Errorf("gencluster_discovered_not_members = %v, want 1", v)
			}
			// Said once: the loop goes on failing for a few more passes.
			n := len(recordsWith(logs, slog.LevelDebug, "join failed"))
			testutil.Eventually(t, 10*time.Second, func() bool {
				return len(recordsWith(logs, slog.LevelDebug, "join failed")) > n || len(recordsWith(logs, slog.LevelError, "isolated")) > 1
			}, "another failure")
			if n := len(recordsWith(logs, slog.LevelError, "isolated")); n != 1 {
				t.Errorf("%d isolation ERRORs, want 1", n)
			}
		})
	}
}

// gaugeValue returns the value of the one series called name in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

// TestIsolationClearsOnJoin: an isolated node whose seed comes up joins
// it, and the condition clears with an INFO.
func TestIsolationClearsOnJoin(t *testing.T) {
	port := testutil.FreePort(t, "127.0.0.1")
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logs := testutil.NewRecordHandler()
	bad := startNode(t, append(testOpts(t, "iso-clear"), WithSeeds(seeds.Static(target)),
		WithLogger(slog.New(logs)), WithRefreshInterval(100*time.Millisecond))...)
	testutil.Eventually(t, 10*time.Second, func() bool { ok, _ := bad.Ready(); return !ok }, "isolation")
	startNode(t, append(testOpts(t, "iso-seed"), WithBindAddr(target))...)
	testutil.Eventually(t, 10*time.Second, func() bool { ok, _ := bad.Ready(); return ok }, "ready again after the join")
	if rec := serve(bad.Handler(), "GET", "/healthz"); rec.Code != 200 {
		t.Errorf("/healthz after the join = %d %q", rec.Code, rec.Body)
	}
	if len(recordsWith(logs, slog.LevelInfo, "no longer isolated")) != 1 {
		t.Errorf("no INFO saying the isolation ended")
	}
}

// TestHealthySideLogsRejectedPeerOncePerInterval: a node with the wrong
// key keeps trying to join a healthy one. The healthy node logs at most
// one line per refresh interval about it, telling it is the other node
// that must change.
func TestHealthySideLogsRejectedPeerOncePerInterval(t *testing.T) {
	logs := testutil.NewRecordHandler()
	interval := time.Second
	later := &testutil.Seeds{}
	healthy := startNode(t, append(testOpts(t, "rej-ok"), WithSecretKey(key(1, 16)), WithSeeds(later),
		WithLogger(slog.New(logs)), WithRefreshInterval(interval))...)
	other := startNode(t, append(testOpts(t, "rej-ok2"), WithSecretKey(key(1, 16)), WithSeeds(seeds.Static(healthy.Addr())))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{healthy, other}, "rej-ok", "rej-ok2")
	bad := startNode(t, append(testOpts(t, "rej-bad"), WithSecretKey(key(2, 16)),
		WithSeeds(seeds.Static(healthy.Addr())), WithRefreshInterval(50*time.Millisecond), WithRetryBackoff(10*time.Millisecond))...)
	later.Set(nil, bad.Addr()) // and the healthy node tries to join it
	start := time.Now()
	// Let the bad node try for 2.5 intervals.
	deadline := start.Add(interval * 5 / 2)
	testutil.Eventually(t, 10*time.Second, func() bool { return time.Now().After(deadline) }, "2.5 intervals")
	// The lines about the refusals: gencluster's, or memberlist's own
	// (other memberlist lines, such as a slow probe's under load, are
	// not about the bad node).
	var lines []slog.Record
	for _, r := range recordsWith(logs, slog.LevelWarn, "127.0.0.1") {
		for _, s := range []string{"refused gossip", "failed to receive", "unacceptable label", "Decrypt packet failed"} {
			if strings.Contains(r.Message, s) {
				lines = append(lines, r)
				break
			}
		}
	}
	joins := recordsWith(logs, slog.LevelInfo, "join failed")
	if len(joins) == 0 {
		t.Fatal("the healthy node's join of the bad node did not fail")
	}
	for _, r := range joins {
		if a := attr(r, "advice"); !strings.Contains(a, "that node") {
			t.Errorf("join failed: advice %q does not say that the other node must act (%v)", a, r)
		}
	}
	if len(lines) == 0 {
		t.Fatal("the healthy node said nothing about the rejected peer")
	}
	if len(lines) > 3 {
		t.Errorf("%d lines about the rejected peer in 2.5 intervals, want at most 3:", len(lines))
		for _, r := range lines {
			t.Logf("  %s %s", r.Level, r.Message)
		}
	}
	for _, r := range lines {
		if a := attr(r, "advice"); !strings.Contains(a, "that node") || !strings.Contains(a, "nothing to change on this node") {
			t.Errorf("advice %q does not tell the healthy side that the other node must act (%s)", a, r.Message)
		}
	}
}

// TestSurvivorOfFailuresStaysReady: a node whose peers all fail, while
// discovery still lists them (they refuse the joins), is not isolated: it
// cannot tell their death from a partition, and readiness must survive
// failures. The gauge still counts them.
func TestSurvivorOfFailuresStaysReady(t *testing.T) {
	later := &testutil.Seeds{}
	reg := prometheus.NewRegistry()
	logs := testutil.NewRecordHandler()
	a := startNode(t, append(testOpts(t, "surv-0"), WithSeeds(later), WithMetrics(reg), WithLogger(slog.New(logs)),
		WithRefreshInterval(100*time.Millisecond))...)
	b := startNode(t, append(testOpts(t, "surv-1"), WithSeeds(seeds.Static(a.Addr())))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b}, "surv-0", "surv-1")
	later.Set(nil, b.Addr())
	b.Close()
	testutil.Eventually(t, 10*time.Second, func() bool {
		return gaugeValue(t, reg, "gencluster_discovered_not_members") == 1
	}, "the failed member counted as discovered, not a member")
	failing := time.Now()
	testutil.Eventually(t, 10*time.Second, func() bool { return time.Since(failing) > 6*100*time.Millisecond },
		"twice the isolation bound")
	if ok, _ := a.Ready(); !ok {
		t.Error("the survivor is not ready")
	}
	if iso, why := a.Isolated(); iso {
		t.Errorf("the survivor is isolated: %s", why)
	}
	if n := len(recordsWith(logs, slog.LevelError, "isolated")); n != 0 {
		t.Errorf("%d isolation ERRORs on the survivor", n)
	}
}

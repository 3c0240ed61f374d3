package gencluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// TestStoppedNodeServesNothing: after Close or Leave, Members() is empty
// and every path of the handler answers 503 with the reason.
func TestStoppedNodeServesNothing(t *testing.T) {
	for _, how := range []string{"close", "leave"} {
		t.Run(how, func(t *testing.T) {
			nodes := startCluster(t, "stop-"+how, 2)
			testutil.WaitMembers(t, 10*time.Second, nodes, "stop-"+how+"-0", "stop-"+how+"-1")
			a := nodes[0]
			h := a.Handler()
			if how == "close" {
				a.Close()
			} else if err := a.Leave(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ms := a.Members(); len(ms) != 0 {
				t.Errorf("Members() after %s = %v, want none", how, ms)
			}
			if ok, n := a.Ready(); ok || n != 0 {
				t.Errorf("Ready() after %s = %v, %d; want false, 0", how, ok, n)
			}
			snap, ch, cancel := a.Subscribe()
			cancel()
			if len(snap) != 0 {
				t.Errorf("Subscribe() snapshot after %s = %v, want none", how, snap)
			}
			if _, ok := <-ch; ok {
				t.Error("Subscribe() stream of a stopped node is open")
			}
			for _, p := range []string{"/members", "/healthz", "/readyz"} {
				rec := serve(h, "GET", p)
				if rec.Code != 503 || !strings.Contains(rec.Body.String(), "stopped") {
					t.Errorf("GET %s after %s = %d %q, want 503 naming the stop", p, how, rec.Code, rec.Body)
				}
			}
		})
	}
}

// slowProbes makes memberlist's probe interval long, so that a shutdown
// that waits for the last probe (see gossip's shutdown) takes seconds.
func slowProbes(mc *memberlist.Config) {
	mc.ProbeInterval = 3 * time.Second
	mc.ProbeTimeout = time.Second
}

// TestLeaveHonoursContext: Leave returns when its ctx ends, with ctx's
// error, as http.Server.Shutdown does; the cleanup finishes in the
// background and Done is closed when it has.
func TestLeaveHonoursContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"ended", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"100ms", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startCluster(t, "lctx-"+tc.name, 2, WithMemberlistConfig(slowProbes))
			testutil.WaitMembers(t, 10*time.Second, nodes, "lctx-"+tc.name+"-0", "lctx-"+tc.name+"-1")
			a := nodes[0]
			// Make sure a packet has gone out (the shutdown then has a
			// probe to wait for): ask for a metadata broadcast.
			if err := a.UpdateMeta(context.Background(), map[string]string{"k": "v"}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			err := a.Leave(ctx)
			took := time.Since(start)
			if !errors.Is(err, tc.want) {
				t.Errorf("Leave = %v, want %v", err, tc.want)
			}
			if took > time.Second {
				t.Errorf("Leave took %v with a ctx that ended (probe interval 3s): it waited for the cleanup", took)
			}
			select {
			case <-a.Done():
			case <-time.After(15 * time.Second):
				t.Fatal("Done not closed 15s after Leave")
			}
			if err2 := a.Leave(context.Background()); !errors.Is(err2, tc.want) {
				t.Errorf("second Leave = %v, want the first result", err2)
			}
			if err := a.Close(); !errors.Is(err, tc.want) {
				t.Errorf("Close after Leave = %v, want the first result", err)
			}
		})
	}
}

// TestReadinessLatches: a node is ready once the cluster has formed and
// stays ready when members fail; WaitForMembers still counts them.
func TestReadinessLatches(t *testing.T) {
	a := startNode(t, append(testOpts(t, "latch-0"), WithMinMembers(2))...)
	if ok, _ := a.Ready(); ok {
		t.Fatal("ready before the cluster formed")
	}
	if rec := serve(a.Handler(), "GET", "/readyz"); rec.Code != 503 {
		t.Errorf("/readyz before the cluster formed = %d %q", rec.Code, rec.Body)
	}
	b := startNode(t, append(testOpts(t, "latch-1"), WithSeeds(seeds.Static(a.Addr())))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b}, "latch-0", "latch-1")
	testutil.Eventually(t, 5*time.Second, func() bool { ok, _ := a.Ready(); return ok }, "ready")
	b.Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return len(a.Members()) == 1 }, "latch-1 to fail")
	if ok, n := a.Ready(); !ok || n != 1 {
		t.Errorf("Ready() after a member failed = %v, %d; want true, 1 (readiness latches)", ok, n)
	}
	if rec := serve(a.Handler(), "GET", "/readyz"); rec.Code != 200 {
		t.Errorf("/readyz after a member failed = %d %q, want 200", rec.Code, rec.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.WaitForMembers(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForMembers(0) with 1 of 2 members = %v, want the deadline", err)
	}
}

// TestJoinFailureLoggedWithBackoff: a seed that keeps failing is logged
// on one line, with its address once and the error flattened, and not on
// every retry.
func TestJoinFailureLoggedWithBackoff(t *testing.T) {
	dead := net.JoinHostPort("127.0.0.1", strconv.Itoa(testutil.FreePort(t, "127.0.0.1")))
	logs := testutil.NewRecordHandler()
	reg := prometheus.NewRegistry()
	startNode(t, append(testOpts(t, "jlog"), WithSeeds(seeds.Static(dead)), WithLogger(slog.New(logs)), WithMetrics(reg),
		WithRefreshInterval(200*time.Millisecond), WithRetryBackoff(10*time.Millisecond))...)
	testutil.Eventually(t, 10*time.Second, func() bool { return counterValue(t, reg, "gencluster_connect_attempts_total", "error") >= 20 }, "20 failed joins")
	lines := recordsWith(logs, slog.LevelInfo, "join failed")
	tries := int(counterValue(t, reg, "gencluster_connect_attempts_total", "error"))
	if len(lines) == 0 || len(lines) > 6 {
		t.Errorf("%d join failed lines for %d failures, want 1 to 6 (logged with the backoff)", len(lines), tries)
	}
	for _, r := range lines {
		text := r.Message
		r.Attrs(func(a slog.Attr) bool { text += " " + a.Value.String(); return true })
		if strings.Contains(text, "\n") {
			t.Errorf("multi-line record: %q", text)
		}
		if n := strings.Count(text, dead); n != 1 {
			t.Errorf("the address appears %d times in %q, want once", n, text)
		}
	}
}

// counterValue returns the value of the counter name{result=label} in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

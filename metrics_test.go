package gencluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"

	"github.com/gencluster/gencluster/seeds/multicast"
)

// sample returns the value of the series name{node=node, labels...} in
// reg, and whether it exists. Counters, gauges and untyped give their
// value, histograms their count.
func sample(t testing.TB, reg prometheus.Gatherer, name, node string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			want := map[string]string{"node": node}
			for i := 0; i+1 < len(labels); i += 2 {
				want[labels[i]] = labels[i+1]
			}
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if want[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func lint(t testing.TB, reg prometheus.Gatherer) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsTwoNodesOneRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	nodes := startCluster(t, "m", 2, WithMetrics(reg))
	testutil.WaitMembers(t, 10*time.Second, nodes, "m-0", "m-1")

	if err := promtestutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gencluster_members Live members as this node sees them, by state (alive, draining; memberlist does not expose suspects).
# TYPE gencluster_members gauge
gencluster_members{node="m-0",state="alive"} 2
gencluster_members{node="m-0",state="draining"} 0
gencluster_members{node="m-1",state="alive"} 2
gencluster_members{node="m-1",state="draining"} 0
`), "gencluster_members"); err != nil {
		t.Error(err)
	}
	backend := fmt.Sprint(seeds.Static(nodes[0].Addr()))
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, c := range []struct {
			name, node string
			labels     []string
		}{
			{"gencluster_events_total", "m-0", []string{"type", "join"}},
			{"gencluster_events_total", "m-1", []string{"type", "join"}},
			{"gencluster_connect_attempts_total", "m-1", []string{"result", "ok"}},
			{"gencluster_discovery_duration_seconds", "m-1", []string{"backend", backend}},
			{"gencluster_discovery_peers", "m-1", []string{"backend", backend}},
			{"gencluster_refresh_duration_seconds", "m-1", nil},
			// memberlist's own, through the go-metrics bridge.
			{"gencluster_memberlist_udp_sent_bytes_total", "m-0", nil},
			{"gencluster_memberlist_udp_sent_bytes_total", "m-1", nil},
			{"gencluster_memberlist_udp_received_bytes_total", "m-0", nil},
			{"gencluster_memberlist_tcp_connects_total", "m-1", nil},
			{"gencluster_memberlist_tcp_accepts_total", "m-0", nil},
			{"gencluster_memberlist_probe_duration_seconds", "m-0", nil},
			{"gencluster_memberlist_gossip_duration_seconds", "m-1", nil},
		} {
			v, ok := sample(t, reg, c.name, c.node, c.labels...)
			if !ok || v < 1 {
				return false
			}
		}
		return true
	}, "metrics of both nodes")
	if v, _ := sample(t, reg, "gencluster_events_total", "m-0", "type", "join"); v != 2 {
		t.Errorf("m-0 join events = %v, want 2", v)
	}
	if _, ok := sample(t, reg, "gencluster_health_score", "m-0"); !ok {
		t.Error("no gencluster_health_score for m-0")
	}
	if _, ok := sample(t, reg, "gencluster_events_coalesced_total", "m-1"); !ok {
		t.Error("no gencluster_events_coalesced_total for m-1")
	}
	if v, _ := sample(t, reg, "gencluster_discovery_errors_total", "m-1", "backend", backend); v != 0 {
		t.Errorf("discovery errors = %v, want 0", v)
	}
	lint(t, reg)

	// Close unregisters every collector; Leave too.
	if err := nodes[1].Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := sample(t, reg, "gencluster_members", "m-1", "state", "alive"); ok {
		t.Error("m-1 still registered after Leave")
	}
	if err := nodes[0].Close(); err != nil {
		t.Fatal(err)
	}
	if n := promtestutil.CollectAndCount(reg); n != 0 {
		t.Errorf("%d series left after Close", n)
	}
}

func TestMetricsNameClash(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startNode(t, append(testOpts(t, "clash"), WithMetrics(reg))...)
	_, err := Start(context.Background(), append(testOpts(t, "clash"), WithMetrics(reg))...)
	if err == nil || !strings.Contains(err.Error(), `"clash"`) {
		t.Fatalf("second node with the same name on one registry: err = %v", err)
	}
	// The first node's collectors are intact.
	if v, ok := sample(t, reg, "gencluster_members", "clash", "state", "alive"); !ok || v != 1 {
		t.Errorf("members = %v, %v", v, ok)
	}
	// After Close the name can register again.
	a.Close()
	b := startNode(t, append(testOpts(t, "clash"), WithMetrics(reg))...)
	b.Close()
}

func TestWithMetricsNil(t *testing.T) {
	_, err := Start(context.Background(), WithMetrics(nil))
	if err == nil || !strings.Contains(err.Error(), "WithMetrics") {
		t.Fatalf("err = %v", err)
	}
}

// TestMetricsScrapeDuringChurn scrapes one registry, and the Handler,
// while nodes join, leave and crash. Run with -race.
func TestMetricsScrapeDuringChurn(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	seed := startNode(t, append(testOpts(t, "c-0"), WithMetrics(reg))...)
	h := seed.Handler()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	scrapes := 0
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := reg.Gather(); err != nil {
					t.Errorf("Gather during churn: %v", err)
					return
				}
				if i == 0 {
					scrapes++
					for _, p := range []string{"/members", "/readyz", "/healthz"} {
						serve(h, "GET", p)
					}
				}
			}
		}()
	}
	for round := range 3 {
		var ns []*Node
		for j := 1; j <= 2; j++ {
			opts := append(testOpts(t, fmt.Sprintf("c-%d%c", round, 'a'+j)), WithMetrics(reg), WithSeeds(seeds.Static(seed.Addr())))
			ns = append(ns, startNode(t, opts...))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := seed.WaitForMembers(ctx, 3); err != nil {
			t.Fatal(err)
		}
		cancel()
		ns[0].Leave(context.Background())
		ns[1].Close()
		testutil.Eventually(t, 10*time.Second, func() bool { return len(seed.Members()) == 1 }, "seed alone again")
	}
	close(stop)
	wg.Wait()
	if scrapes == 0 {
		t.Error("no scrape ran")
	}
	for _, typ := range []string{"join", "leave", "fail"} {
		if v, _ := sample(t, reg, "gencluster_events_total", "c-0", "type", typ); v < 3 {
			t.Errorf("c-0 %s events = %v, want >= 3", typ, v)
		}
	}
	lint(t, reg)
}

func TestMemberEventsLogged(t *testing.T) {
	h := testutil.NewRecordHandler()
	a := startNode(t, append(testOpts(t, "log-0"), WithLogger(slog.New(h)))...)
	b := startNode(t, append(testOpts(t, "log-1"), WithSeeds(seeds.Static(a.Addr())))...)
	c := startNode(t, append(testOpts(t, "log-2"), WithSeeds(seeds.Static(a.Addr())))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{a}, "log-0", "log-1", "log-2")
	b.Leave(context.Background())
	c.Close()
	for _, want := range []struct{ msg, peer, addr string }{
		{"member join", "log-1", b.Addr()},
		{"member leave", "log-1", b.Addr()},
		{"member fail", "log-2", c.Addr()},
	} {
		testutil.Eventually(t, 10*time.Second, func() bool {
			_, ok := h.Find(slog.LevelInfo, want.msg, map[string]string{"node": "log-0", "peer": want.peer, "addr": want.addr})
			return ok
		}, want.msg+" "+want.peer)
	}
}

func TestWithMinMembersRejectsBadValues(t *testing.T) {
	for _, n := range []int{0, -3} {
		_, err := Start(context.Background(), WithMinMembers(n))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("WithMinMembers %d", n)) {
			t.Errorf("WithMinMembers(%d): err = %v", n, err)
		}
	}
}

func TestWaitForMembers(t *testing.T) {
	a := startNode(t, append(testOpts(t, "w-0"), WithMinMembers(2))...)
	if ready, seen := a.Ready(); ready || seen != 1 {
		t.Errorf("Ready = %v, %d; want false, 1", ready, seen)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := a.WaitForMembers(ctx, 0)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "saw 1 of 2") {
		t.Errorf("WaitForMembers alone: %v", err)
	}
	if err := a.WaitForMembers(context.Background(), -1); err == nil {
		t.Error("WaitForMembers(-1): no error")
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- a.WaitForMembers(ctx, 0)
	}()
	startNode(t, append(testOpts(t, "w-1"), WithSeeds(seeds.Static(a.Addr())))...)
	if err := <-done; err != nil {
		t.Fatalf("WaitForMembers: %v", err)
	}
	if ready, seen := a.Ready(); !ready || seen != 2 {
		t.Errorf("Ready = %v, %d; want true, 2", ready, seen)
	}

	// A node that stops ends the wait.
	go func() { done <- a.WaitForMembers(context.Background(), 5) }()
	a.Close()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("WaitForMembers on a stopping node: %v", err)
	}
}

// refusingDist is a Dist of one member that refuses every join.
type refusingDist struct{ self Member }

func (d refusingDist) Connect(context.Context, string) error { return errors.New("refused") }
func (d refusingDist) Members() []Member                     { return []Member{d.self} }

// TestMetricsWithDistAndMulticast: without memberlist there is no bridge
// and no health score; failed joins count as errors; a multicast backend
// exports its packet counters.
func TestMetricsWithDistAndMulticast(t *testing.T) {
	ifs, _ := net.Interfaces()
	lo := ""
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			lo = ifi.Name
		}
	}
	if lo == "" {
		t.Fatal("no loopback interface that is up: the multicast test needs one")
	}
	mc := multicast.New("metrics", multicast.Interface(lo), multicast.Group("239.193.7.47:17947"), multicast.Interval(20*time.Millisecond))
	reg := prometheus.NewPedanticRegistry()
	n := startNode(t,
		WithName("fd"), WithAdvertiseAddr("127.0.0.1:7946"),
		WithDist(refusingDist{Member{Name: "fd", Addr: "127.0.0.1:7946"}}),
		WithSeeds(seeds.Static("127.0.0.1:1"), mc),
		WithRefreshInterval(20*time.Millisecond), WithRetryBackoff(10*time.Millisecond),
		WithMetrics(reg),
	)
	testutil.Eventually(t, 10*time.Second, func() bool {
		v, _ := sample(t, reg, "gencluster_connect_attempts_total", "fd", "result", "error")
		return v >= 2
	}, "failed connect attempts")
	if _, ok := sample(t, reg, "gencluster_health_score", "fd"); ok {
		t.Error("health score without memberlist")
	}
	if _, ok := sample(t, reg, "gencluster_memberlist_udp_sent_bytes_total", "fd"); ok {
		t.Error("memberlist metrics without memberlist")
	}
	if _, ok := sample(t, reg, "gencluster_multicast_packets_total", "fd", "backend", fmt.Sprint(mc), "result", "sent"); !ok {
		t.Error("no multicast packet counters")
	}
	if v, _ := sample(t, reg, "gencluster_members", "fd", "state", "alive"); v != 1 {
		t.Errorf("members alive = %v", v)
	}
	lint(t, reg)
	n.Close()
	if c := promtestutil.CollectAndCount(reg); c != 0 {
		t.Errorf("%d series after Close", c)
	}
}

// TestRefreshLogKeys: the refresh loop logs through the node's logger,
// with the stable keys node, addr, err.
func TestRefreshLogKeys(t *testing.T) {
	h := testutil.NewRecordHandler()
	startNode(t, append(testOpts(t, "rl"), WithLogger(slog.New(h)), WithSeeds(seeds.Static("127.0.0.1:1")))...)
	testutil.Eventually(t, 10*time.Second, func() bool {
		got, ok := h.Find(slog.LevelInfo, "join failed", map[string]string{"node": "rl", "addr": "127.0.0.1:1"})
		return ok && got["err"] != ""
	}, "join failed record")
}

package gencluster

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

func TestJoinLeaveFail(t *testing.T) {
	nodes := startCluster(t, "n", 3)
	testutil.WaitMembers(t, 10*time.Second, nodes, "n-0", "n-1", "n-2")
	log := testutil.Collect(nodes[0].Events())

	// A graceful leave is EventLeave, a crash is EventFail.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nodes[1].Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return log.Has(EventLeave, "n-1") }, "n-0 to see n-1 leave")
	if err := nodes[2].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return log.Has(EventFail, "n-2") }, "n-0 to see n-2 fail")
	if log.Has(EventFail, "n-1") || log.Has(EventLeave, "n-2") {
		t.Errorf("leave and fail mixed up: %v", log.All())
	}
	if got := testutil.Names(nodes[0].Members()); !slices.Equal(got, []string{"n-0"}) {
		t.Errorf("Members after leave and crash = %v, want [n-0]", got)
	}
	// Leave and Close are idempotent.
	if err := nodes[1].Leave(ctx); err != nil {
		t.Errorf("second Leave: %v", err)
	}
	if err := nodes[1].Close(); err != nil {
		t.Errorf("Close after Leave: %v", err)
	}
	nodes[0].Close()
	<-log.Done() // the stream closes on Close
}

func TestEventsStartWithOwnJoinAndMembersSorted(t *testing.T) {
	nodes := startCluster(t, "s", 2)
	testutil.WaitMembers(t, 10*time.Second, nodes, "s-0", "s-1")
	ev := <-nodes[1].Events()
	if ev.Type != EventJoin || ev.Member.Name != "s-1" {
		t.Errorf("first event = %v, want join of s-1 itself", ev)
	}
	ms := nodes[1].Members()
	if !slices.IsSortedFunc(ms, func(a, b Member) int { return cmpString(a.Name, b.Name) }) {
		t.Errorf("Members not sorted: %v", ms)
	}
	for _, m := range ms {
		if m.State != StateAlive {
			t.Errorf("member %v: state %v, want alive", m.Name, m.State)
		}
		if _, _, err := net.SplitHostPort(m.Addr); err != nil {
			t.Errorf("member %v: Addr %q: %v", m.Name, m.Addr, err)
		}
	}
	if lm := nodes[1].LocalMember(); lm.Name != "s-1" || lm.Addr != nodes[1].Addr() {
		t.Errorf("LocalMember = %v, want s-1 at %s", lm, nodes[1].Addr())
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestPortZeroReportsRealPort checks that Addr reports the picked port and
// that a node started with no seeds is a cluster of one.
func TestPortZeroReportsRealPort(t *testing.T) {
	n := startNode(t, testOpts(t, "alone")...)
	_, port, err := net.SplitHostPort(n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := strconv.Atoi(port); p == 0 {
		t.Fatalf("Addr = %s, want a real port", n.Addr())
	}
	if got := testutil.Names(n.Members()); !slices.Equal(got, []string{"alone"}) {
		t.Fatalf("Members = %v", got)
	}
}

// TestSameIPSamePortOnLoopbackAliases runs nodes on 127.0.0.2..4, all on
// one port, as separate hosts would.
func TestSameIPSamePortOnLoopbackAliases(t *testing.T) {
	port := testutil.FreePort(t, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
	var nodes []*Node
	for i := 2; i <= 4; i++ {
		addr := net.JoinHostPort("127.0.0."+strconv.Itoa(i), strconv.Itoa(port))
		opts := append(testOpts(t, "ip-"+strconv.Itoa(i)), WithBindAddr(addr),
			WithSeeds(seeds.Static("127.0.0.2:"+strconv.Itoa(port), "127.0.0.3:"+strconv.Itoa(port))))
		n := startNode(t, opts...)
		if n.Addr() != addr {
			t.Fatalf("Addr = %s, want %s", n.Addr(), addr)
		}
		nodes = append(nodes, n)
	}
	testutil.WaitMembers(t, 10*time.Second, nodes, "ip-2", "ip-3", "ip-4")
}

// TestRefreshJoinsLateSeeds starts two lone nodes whose discovery finds
// nothing, then makes discovery return the other: the refresh loop must
// join them within a few intervals.
func TestRefreshJoinsLateSeeds(t *testing.T) {
	disc := &testutil.Seeds{}
	a := startNode(t, append(testOpts(t, "late-a"), WithSeeds(disc))...)
	b := startNode(t, append(testOpts(t, "late-b"), WithSeeds(disc))...)
	if len(a.Members()) != 1 || len(b.Members()) != 1 {
		t.Fatalf("nodes joined before discovery found anything")
	}
	disc.Set(nil, a.Addr(), b.Addr())
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b}, "late-a", "late-b")
}

// TestRestartSameNameNewAddress: a node that crashed and came back
// (same name, new address, as a rescheduled pod) is re-joined by the
// refresh loop once discovery lists it.
func TestRestartSameNameNewAddress(t *testing.T) {
	disc := &testutil.Seeds{}
	a := startNode(t, append(testOpts(t, "r-a"), WithSeeds(disc))...)
	b := startNode(t, append(testOpts(t, "r-b"), WithSeeds(seeds.Static(a.Addr())))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b}, "r-a", "r-b")
	oldAddr := b.Addr()
	b.Close()
	testutil.WaitMembers(t, 10*time.Second, []*Node{a}, "r-a")

	// Another IP, so the address is new whatever port the OS picks.
	b2 := startNode(t, append(testOpts(t, "r-b"), WithBindAddr("127.0.0.2:0"), WithSeeds(seeds.Static(a.Addr())))...)
	if b2.Addr() == oldAddr {
		t.Fatalf("restarted node got the old address %s", oldAddr)
	}
	disc.Set(nil, b2.Addr())
	testutil.WaitMembers(t, 15*time.Second, []*Node{a, b2}, "r-a", "r-b")
	for _, m := range a.Members() {
		if m.Name == "r-b" && m.Addr != b2.Addr() {
			t.Errorf("r-b at %s, want the new address %s", m.Addr, b2.Addr())
		}
	}
}

// TestRemovedFromDiscoveryStaysMember: gen_cluster does not disconnect
// nodes that vanish from discovery; neither do we. d-a and d-c both drop
// out of d-b's discovery; d-a stays a member, listed by d-b, through
// several refreshes, while d-c, which also crashes, is reported failed
// (the control: d-b's view does change when a member really goes).
func TestRemovedFromDiscoveryStaysMember(t *testing.T) {
	disc := &testutil.Seeds{}
	a := startNode(t, testOpts(t, "d-a")...)
	c := startNode(t, append(testOpts(t, "d-c"), WithSeeds(seeds.Static(a.Addr())))...)
	disc.Set(nil, a.Addr(), c.Addr())
	b := startNode(t, append(testOpts(t, "d-b"), WithSeeds(disc))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b, c}, "d-a", "d-b", "d-c")
	_, evs, cancel := b.Subscribe()
	defer cancel()
	log := testutil.Collect(evs)
	disc.Set(nil)
	c.Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return log.Has(EventFail, "d-c") }, "d-b to see d-c fail")
	runs := disc.Count()
	testutil.Eventually(t, 10*time.Second, func() bool { return disc.Count() >= runs+3 }, "three more refreshes")
	if got := testutil.Names(b.Members()); !slices.Equal(got, []string{"d-a", "d-b"}) {
		t.Fatalf("d-b lists %v after d-a left discovery, want d-a still there", got)
	}
	if log.Has(EventFail, "d-a") || log.Has(EventLeave, "d-a") {
		t.Fatalf("d-a was removed after it left discovery: %v", log.All())
	}
}

func TestStartContextBoundsInitialJoin(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	disc := seeds.Func(func(ctx context.Context) ([]string, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-block:
			return nil, nil
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Start(ctx, append(testOpts(t, "slow"), WithSeeds(disc))...)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want DeadlineExceeded", err)
	}
}

func TestUnreachableSeedsRunAlone(t *testing.T) {
	// A port nobody listens on: the join fails, Start still succeeds.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	n := startNode(t, append(testOpts(t, "lonely"), WithSeeds(seeds.Static(dead)))...)
	if got := testutil.Names(n.Members()); !slices.Equal(got, []string{"lonely"}) {
		t.Fatalf("Members = %v", got)
	}
}

func TestRefreshInfinityJoinsOnce(t *testing.T) {
	disc := &testutil.Seeds{}
	startNode(t, append(testOpts(t, "inf"), WithRefreshInterval(0), WithSeeds(disc))...)
	// Past the warm-up's first three runs and three would-be intervals:
	// nothing may happen.
	time.Sleep(800 * time.Millisecond)
	if calls := disc.Count(); calls != 1 {
		t.Fatalf("discovery ran %d times with refresh disabled, want 1", calls)
	}
}

func TestUpdateMeta(t *testing.T) {
	nodes := startCluster(t, "m", 2, WithMeta(map[string]string{"zone": "a"}))
	testutil.WaitMembers(t, 10*time.Second, nodes, "m-0", "m-1")
	log := testutil.Collect(nodes[0].Events())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nodes[1].UpdateMeta(ctx, map[string]string{"zone": "b"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, m := range nodes[0].Members() {
			if m.Name == "m-1" && m.Meta["zone"] == "b" {
				return true
			}
		}
		return false
	}, "m-0 to see the new meta")
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventUpdate, "m-1") }, "EventUpdate")
	big := map[string]string{"k": string(make([]byte, 600))}
	if err := nodes[1].UpdateMeta(ctx, big); err == nil {
		t.Fatal("UpdateMeta accepted metadata over the limit")
	}
}

// TestTwoClustersOneProcess: no global state between Nodes. Two clusters
// in one process, all four nodes registered on one Prometheus registry
// (and so all four routed through the one go-metrics bridge): the
// clusters stay apart, and each node's series count its own cluster and
// its own memberlist traffic.
func TestTwoClustersOneProcess(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c1 := startCluster(t, "x", 2, WithMetrics(reg))
	c2 := startCluster(t, "y", 2, WithMetrics(reg))
	testutil.WaitMembers(t, 10*time.Second, c1, "x-0", "x-1")
	testutil.WaitMembers(t, 10*time.Second, c2, "y-0", "y-1")
	for _, n := range append(c1, c2...) {
		if v, ok := sample(t, reg, "gencluster_members", n.Name(), "state", "alive"); !ok || v != 2 {
			t.Errorf("%s: gencluster_members = %v (found %v), want 2: its own cluster only", n.Name(), v, ok)
		}
		testutil.Eventually(t, 10*time.Second, func() bool {
			v, _ := sample(t, reg, "gencluster_memberlist_udp_sent_bytes_total", n.Name())
			return v > 0
		}, n.Name()+"'s memberlist traffic")
		if v, _ := sample(t, reg, "gencluster_events_total", n.Name(), "type", "join"); v != 2 {
			t.Errorf("%s: %v join events, want 2 (itself and its peer)", n.Name(), v)
		}
	}
}

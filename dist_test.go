package gencluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// startFake starts a Node on the fake Dist f.
func startFake(t *testing.T, f *testutil.Dist, opts ...Option) *Node {
	t.Helper()
	return startOn(t, f, f.Self, opts...)
}

// startOn starts a Node named self on d, which is at addr.
func startOn(t *testing.T, d Dist, addr string, opts ...Option) *Node {
	t.Helper()
	base := []Option{WithName("self"), WithDist(d), WithAdvertiseAddr(addr),
		WithRefreshInterval(100 * time.Millisecond), WithRetryBackoff(20 * time.Millisecond)}
	return startNode(t, append(base, opts...)...)
}

// TestRefreshKeepsPeerGoneFromDiscovery: a peer that drops out of
// discovery stays a member and stays listed (the Node never forces it
// out), and is not joined again; once the Dist loses it, it is gone for
// good (nothing re-joins an address discovery no longer lists).
func TestRefreshKeepsPeerGoneFromDiscovery(t *testing.T) {
	const peer = "10.0.0.2:7946"
	f := testutil.NewDist("10.0.0.1:7946", peer)
	d := &testutil.Seeds{}
	d.Set(nil, peer)
	n := startFake(t, f, WithSeeds(d))
	log := testutil.Collect(n.Events())
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventJoin, "m-"+peer) }, "join")
	d.Set(nil)
	runs := d.Count()
	testutil.Eventually(t, 5*time.Second, func() bool { return d.Count() >= runs+3 }, "three more refreshes")
	if got := testutil.Names(n.Members()); !slices.Equal(got, []string{"m-" + peer, "self"}) {
		t.Fatalf("members = %v after the peer left discovery, want it still listed", got)
	}
	if log.Has(EventFail, "m-"+peer) {
		t.Fatal("the peer was reported failed because it left discovery")
	}
	f.Drop(peer) // the peer really goes
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventFail, "m-"+peer) }, "the fail event")
	runs = d.Count()
	testutil.Eventually(t, 5*time.Second, func() bool { return d.Count() >= runs+3 }, "three more refreshes")
	if calls := len(f.CallTimes(peer)); calls != 1 {
		t.Fatalf("%d joins of a peer discovery no longer lists, want the first only", calls)
	}
}

// TestPlainDistEvents: for a Dist that is not an EventSource, the node
// derives events from Members() after each pass.
func TestPlainDistEvents(t *testing.T) {
	f := testutil.NewDist("10.0.0.1:7946", "10.0.0.2:7946")
	d := &testutil.Seeds{}
	d.Set(nil, "10.0.0.2:7946")
	n := startFake(t, f, WithSeeds(d))
	log := testutil.Collect(n.Events())
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventJoin, "m-10.0.0.2:7946") }, "join event")
	if !log.Has(EventJoin, "self") {
		t.Errorf("no join event for self: %v", log.All())
	}
	d.Set(nil) // stop re-joining it
	f.Drop("10.0.0.2:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventFail, "m-10.0.0.2:7946") }, "fail event")
}

// TestPlainDistMembersAreCurrent: for a Dist that is not an EventSource,
// Members reads the Node's view, brought up to date with the Dist's
// Members on every read (not only after the next refresh), and the
// change reaches the event stream and advances the view's version.
func TestPlainDistMembersAreCurrent(t *testing.T) {
	f := testutil.NewDist(selfAddr)
	n := startFake(t, f, WithRefreshInterval(time.Hour))
	log := testutil.Collect(n.Events())
	_, before := n.snapshot()
	f.Add(Member{Name: "peer", Addr: "10.0.0.2:7946", State: StateAlive})
	if got := testutil.Names(n.Members()); !slices.Equal(got, []string{"peer", "self"}) {
		t.Fatalf("members = %v right after the Dist listed peer, want peer and self", got)
	}
	_, after := n.snapshot()
	if after != before+1 {
		t.Fatalf("version %d after one join, was %d", after, before)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventJoin, "peer") }, "the join event")
	if _, again := n.snapshot(); again != after {
		t.Fatalf("version moved from %d to %d without a change", after, again)
	}
}

const selfAddr = "10.0.0.1:7946"

// TestEventSourceFeedsTheView: the events of an EventSource are the view:
// Members lists what they add up to (not what the Dist's Members says),
// an event that changes nothing is dropped (the version stays), and a
// leave stays a leave.
func TestEventSourceFeedsTheView(t *testing.T) {
	d := newEventDist(selfAddr)
	n := startOn(t, d, selfAddr)
	if got := d.Calls(); !slices.Equal(got, []string{"notify"}) {
		t.Fatalf("calls %v, want one Notify", got)
	}
	log := testutil.Collect(n.Events())
	if ms := n.Members(); len(ms) != 0 {
		t.Fatalf("members %v before any event, want none (the Dist's Members are not read)", ms)
	}
	self := Member{Name: "self", Addr: selfAddr, State: StateAlive}
	peer := Member{Name: "peer", Addr: "10.0.0.2:7946", State: StateAlive, Meta: map[string]string{"k": "v"}}
	d.Emit(Event{Type: EventJoin, Member: self})
	d.Emit(Event{Type: EventJoin, Member: peer})
	if got := testutil.Names(n.Members()); !slices.Equal(got, []string{"peer", "self"}) {
		t.Fatalf("members = %v, want peer and self", got)
	}
	_, v := n.snapshot()
	d.Emit(Event{Type: EventUpdate, Member: peer}) // nothing changed
	if _, again := n.snapshot(); again != v {
		t.Fatalf("an update that changes nothing moved the version from %d to %d", v, again)
	}
	left := peer
	left.State = StateLeft
	d.Emit(Event{Type: EventLeave, Member: left})
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventLeave, "peer") }, "the leave event")
	if log.Has(EventFail, "peer") {
		t.Fatal("a leave was reported as a failure")
	}
	updates := 0
	for _, ev := range log.All() {
		if ev.Type == EventUpdate {
			updates++
		}
	}
	if updates != 0 {
		t.Fatalf("%d update events, want 0: %v", updates, log.All())
	}
	if got := testutil.Names(n.Members()); !slices.Equal(got, []string{"self"}) {
		t.Fatalf("members = %v after the leave, want self", got)
	}
}

// TestLeaver: Node.Leave calls the Dist's Leave with its ctx, not Close,
// and returns its error wrapped; Close after it does nothing more.
func TestLeaver(t *testing.T) {
	boom := errors.New("boom")
	d := leaverCloserDist{newCalls(selfAddr, boom)}
	n := startOn(t, d, selfAddr)
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "mine")
	if err := n.Leave(ctx); !errors.Is(err, boom) {
		t.Fatalf("Leave = %v, want the Dist's error", err)
	}
	if err := n.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close after Leave = %v, want Leave's result", err)
	}
	if got := d.Calls(); !slices.Equal(got, []string{"leave"}) {
		t.Fatalf("calls %v, want leave only", got)
	}
	if d.lastCtx().Value(key{}) != "mine" {
		t.Fatal("the Dist's Leave did not get Leave's ctx")
	}

	// A Leaver that is not an io.Closer: Close has nothing to call.
	l := leaverDist{newCalls(selfAddr, nil)}
	if err := startOn(t, l, selfAddr).Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := l.Calls(); len(got) != 0 {
		t.Fatalf("Close called %v on a Dist that is no io.Closer", got)
	}
}

// TestLeaveWithoutLeaver: without Leaver, Leave is Close: an io.Closer is
// closed; a ctx that has already ended is reported; with neither
// capability there is nothing to call and Leave returns nil.
func TestLeaveWithoutLeaver(t *testing.T) {
	d := closerDist{newCalls(selfAddr, nil)}
	n := startOn(t, d, selfAddr)
	if err := n.Leave(context.Background()); err != nil {
		t.Fatalf("Leave = %v", err)
	}
	if got := d.Calls(); !slices.Equal(got, []string{"close"}) {
		t.Fatalf("calls %v, want close", got)
	}

	d = closerDist{newCalls(selfAddr, nil)}
	n = startOn(t, d, selfAddr)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Leave(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("Leave with an ended ctx = %v, want context.Canceled", err)
	}
	<-n.Done()
	if got := d.Calls(); !slices.Equal(got, []string{"close"}) {
		t.Fatalf("calls %v after a Leave with an ended ctx, want close", got)
	}

	n = startFake(t, testutil.NewDist(selfAddr))
	if err := n.Leave(context.Background()); err != nil {
		t.Fatalf("Leave of a Dist with neither capability = %v", err)
	}
}

// TestCloser: Close closes an io.Closer once and returns its error; Start
// closes a Dist it adopted when it fails after that.
func TestCloser(t *testing.T) {
	boom := errors.New("boom")
	d := closerDist{newCalls(selfAddr, boom)}
	n := startOn(t, d, selfAddr)
	for range 2 {
		if err := n.Close(); !errors.Is(err, boom) {
			t.Fatalf("Close = %v, want the Dist's error", err)
		}
	}
	if got := d.Calls(); !slices.Equal(got, []string{"close"}) {
		t.Fatalf("calls %v, want one close", got)
	}

	// A registry on which the node's metrics cannot be registered makes
	// Start fail once the Dist was adopted.
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "gencluster_events_total", Help: "taken", ConstLabels: prometheus.Labels{"node": "self"}}))
	d = closerDist{newCalls(selfAddr, nil)}
	if n, err := Start(context.Background(), WithName("self"), WithDist(d), WithAdvertiseAddr(selfAddr), WithMetrics(reg)); err == nil {
		n.Close()
		t.Fatal("Start succeeded with metrics that cannot be registered")
	}
	if got := d.Calls(); !slices.Equal(got, []string{"close"}) {
		t.Fatalf("calls %v after a failed Start, want close", got)
	}
}

// TestSelf: LocalMember is the Dist's with Self, and built from the
// options without it.
func TestSelf(t *testing.T) {
	me := Member{Name: "self", Addr: selfAddr, State: StateAlive, Boot: 7, Meta: map[string]string{"from": "dist"}}
	n := startOn(t, selfDist{newCalls(selfAddr, nil), me}, selfAddr)
	if got := n.LocalMember(); got.Boot != 7 || got.Meta["from"] != "dist" {
		t.Fatalf("LocalMember = %+v, want the Dist's", got)
	}
	n = startFake(t, testutil.NewDist(selfAddr), WithMeta(map[string]string{"from": "options"}))
	want := Member{Name: "self", Addr: selfAddr, State: StateAlive, Meta: map[string]string{"from": "options"}}
	if got := n.LocalMember(); got.Name != want.Name || got.Addr != want.Addr || got.State != want.State || got.Boot != 0 || !maps.Equal(got.Meta, want.Meta) {
		t.Fatalf("LocalMember = %+v, want %+v", got, want)
	}
}

// TestMetaUpdater: UpdateMeta hands ctx and the metadata to a
// MetaUpdater and wraps its error; a stopped node does not call it;
// without MetaUpdater it fails.
func TestMetaUpdater(t *testing.T) {
	boom := errors.New("boom")
	var got map[string]string
	d := metaDist{newCalls(selfAddr, boom), &got}
	n := startOn(t, d, selfAddr)
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "mine")
	if err := n.UpdateMeta(ctx, map[string]string{"k": "v"}); !errors.Is(err, boom) {
		t.Fatalf("UpdateMeta = %v, want the Dist's error", err)
	}
	if got["k"] != "v" || d.lastCtx().Value(key{}) != "mine" {
		t.Fatalf("the Dist got %v and another ctx", got)
	}
	n.Close()
	if err := n.UpdateMeta(ctx, nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("UpdateMeta after Close = %v, want ErrStopped", err)
	}
	if calls := d.Calls(); !slices.Equal(calls, []string{"meta"}) {
		t.Fatalf("calls %v, want one meta", calls)
	}

	n = startFake(t, testutil.NewDist(selfAddr))
	if err := n.UpdateMeta(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "owns metadata") {
		t.Fatalf("UpdateMeta without MetaUpdater = %v, want the refusal", err)
	}
}

// TestNameClaimer: a Dist that claims names fails Start with its
// conflict and reports later ones through NameConflict and /healthz; a
// Dist without it has no conflicts.
func TestNameClaimer(t *testing.T) {
	taken := fmt.Errorf("held by 10.0.0.9:7946: %w", ErrNameConflict)
	d := claimDist{calls: newCalls(selfAddr, nil), claim: taken}
	if n, err := Start(context.Background(), WithName("self"), WithDist(d), WithAdvertiseAddr(selfAddr)); !errors.Is(err, ErrNameConflict) {
		if err == nil {
			n.Close()
		}
		t.Fatalf("Start = %v, want ErrNameConflict", err)
	}
	d = claimDist{calls: newCalls(selfAddr, nil), conflict: taken}
	n := startOn(t, d, selfAddr)
	if err := n.NameConflict(); !errors.Is(err, ErrNameConflict) {
		t.Fatalf("NameConflict = %v", err)
	}
	if got := d.Calls(); !slices.Equal(got, []string{"claim"}) {
		t.Fatalf("calls %v, want one claim", got)
	}
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "10.0.0.9:7946") {
		t.Fatalf("/healthz = %d %q, want 503 naming the holder", rec.Code, rec.Body)
	}
	if err := startFake(t, testutil.NewDist(selfAddr)).NameConflict(); err != nil {
		t.Fatalf("NameConflict without a claimer = %v", err)
	}
}

// TestDistCollectors: a Dist's own collectors are registered with the
// node's and unregistered when it stops.
func TestDistCollectors(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_dist_total", Help: "a Dist's", ConstLabels: prometheus.Labels{"node": "self"}})
	c.Add(3)
	reg := prometheus.NewRegistry()
	n := startOn(t, collectingDist{newCalls(selfAddr, nil), c}, selfAddr, WithMetrics(reg))
	if v, ok := sample(t, reg, "test_dist_total", "self"); !ok || v != 3 {
		t.Fatalf("the Dist's counter: %v, %v", v, ok)
	}
	n.Close()
	if _, ok := sample(t, reg, "test_dist_total", "self"); ok {
		t.Fatal("the Dist's counter is still registered after Close")
	}
}

// TestMembersVersionHeader: /members carries the view's version, which
// advances with a change and only then.
func TestMembersVersionHeader(t *testing.T) {
	f := testutil.NewDist(selfAddr)
	n := startFake(t, f, WithRefreshInterval(time.Hour))
	get := func() uint64 {
		t.Helper()
		rec := httptest.NewRecorder()
		n.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/members", nil))
		v, err := strconv.ParseUint(rec.Header().Get("Gencluster-View-Version"), 10, 64)
		if rec.Code != 200 || err != nil {
			t.Fatalf("/members: %d, version header %q", rec.Code, rec.Header().Get("Gencluster-View-Version"))
		}
		return v
	}
	first := get()
	if first == 0 {
		t.Fatal("version 0 with self in the view")
	}
	if again := get(); again != first {
		t.Fatalf("version %d then %d without a change", first, again)
	}
	f.Add(Member{Name: "peer", Addr: "10.0.0.2:7946", State: StateAlive})
	if next := get(); next != first+1 {
		t.Fatalf("version %d after a join, was %d", next, first)
	}
}

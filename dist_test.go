package gencluster

import (
	"slices"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// startFake starts a Node on the fake Dist f.
func startFake(t *testing.T, f *testutil.Dist, opts ...Option) *Node {
	t.Helper()
	base := []Option{WithName("self"), WithDist(f), WithAdvertiseAddr(f.Self),
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

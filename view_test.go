package gencluster

import (
	"slices"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// TestOneView: the gossip adapter keeps no view of its own: what is in
// the Node's view is what the adapter's Members returns (the refresh loop
// reads it), what Members, Ready and the handler read, and what a
// subscriber's snapshot and stream add up to; its version advanced with
// every change.
func TestOneView(t *testing.T) {
	nodes := startCluster(t, "view", 2)
	a := nodes[0]
	testutil.WaitMembers(t, 10*time.Second, nodes, "view-0", "view-1")
	snap, events, cancel := a.Subscribe()
	defer cancel()
	_, before := a.snapshot()

	// A member only the view knows of: the adapter reports it too.
	ghost := Member{Name: "ghost", Addr: "192.0.2.1:7946", State: StateAlive}
	a.view().Publish(Event{Type: EventJoin, Member: ghost})
	if got := testutil.Names(a.dist.Members()); !slices.Equal(got, []string{"ghost", "view-0", "view-1"}) {
		t.Fatalf("the adapter's members = %v, want the view's (ghost, view-0, view-1)", got)
	}
	if ready, n := a.Ready(); !ready || n != 3 {
		t.Fatalf("Ready = %v, %d; want true, 3", ready, n)
	}
	ms, after := a.snapshot()
	if after != before+1 || len(ms) != 3 {
		t.Fatalf("version %d -> %d, %d members, after one join", before, after, len(ms))
	}
	live := map[string]bool{}
	for _, m := range snap {
		live[m.Name] = true
	}
	select {
	case ev := <-events:
		if ev.Type != EventJoin || ev.Member.Name != "ghost" {
			t.Fatalf("event %v, want the join of ghost", ev)
		}
		live[ev.Member.Name] = true
	case <-time.After(5 * time.Second):
		t.Fatal("no event for the view's change")
	}
	if got := testutil.Names(a.Members()); len(got) != len(live) || !live[got[0]] || !live[got[1]] || !live[got[2]] {
		t.Fatalf("snapshot plus stream = %v, Members = %v", live, got)
	}
}

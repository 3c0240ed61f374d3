package meshdist

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// startNode starts a gencluster Node over d, seeded with seedAddrs.
func startNode(t *testing.T, d testDist, seedAddrs ...string) *gencluster.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	opts := append(d.NodeOptions(), gencluster.WithRefreshInterval(200*time.Millisecond))
	if len(seedAddrs) > 0 {
		opts = append(opts, gencluster.WithSeeds(seeds.Static(seedAddrs...)))
	}
	n, err := gencluster.Start(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func nodeNames(n *gencluster.Node) []string {
	var out []string
	for _, m := range n.Members() {
		out = append(out, m.Name)
	}
	return out
}

// TestNodesOverMeshdist runs three gencluster Nodes over meshdist: the
// seeds form the mesh, the Node's events and members are the Dist's
// (metadata and boot ids included), and a Dist's Leave and Close reach
// the other Nodes as EventLeave and EventFail.
func TestNodesOverMeshdist(t *testing.T) {
	da, db, dc := startDist(t, "a", "", nil), startDist(t, "b", "", nil), startDist(t, "c", "", nil)
	na := startNode(t, da)
	evs := testutil.Collect(na.Events())
	nb := startNode(t, db, da.Addr())
	nc := startNode(t, dc, db.Addr()) // through b, c meets a too
	all := []string{"a", "b", "c"}
	for _, n := range []*gencluster.Node{na, nb, nc} {
		testutil.Eventually(t, wait, func() bool { return slices.Equal(nodeNames(n), all) }, "%s to see %v (sees %v)", n.Name(), all, nodeNames(n))
	}
	for _, name := range all { // the stream is read by another goroutine
		testutil.Eventually(t, wait, func() bool { return evs.Has(gencluster.EventJoin, name) }, "a's Node to report %s's join (saw %v)", name, evs.All())
	}
	if got := evs.All()[0]; got.Type != gencluster.EventJoin || got.Member.Name != "a" {
		t.Errorf("a's first event is %v, want its own join", got)
	}
	c := na.Members()[2]
	if c.Meta["name"] != "c" || c.Boot != dc.LocalMember().Boot || c.Addr != nc.Addr() {
		t.Errorf("a's Node sees c as %+v", c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := na.WaitForMembers(ctx, 3); err != nil {
		t.Errorf("WaitForMembers(3): %v", err)
	}

	// Through the Node: meshdist is a gencluster.MetaUpdater.
	if err := nc.UpdateMeta(context.Background(), map[string]string{"name": "c", "version": "2"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, wait, func() bool { return evs.Has(gencluster.EventUpdate, "c") }, "a's Node to see c's update")
	if got := na.Members()[2].Meta["version"]; got != "2" {
		t.Errorf("c's version at a: %q", got)
	}

	ctx, cancel = context.WithTimeout(context.Background(), wait)
	defer cancel()
	// The Node's Leave calls the Dist's (a gencluster.Leaver): its
	// goodbyes make the peers report a leave.
	if err := nc.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, wait, func() bool { return evs.Has(gencluster.EventLeave, "c") }, "a's Node to see c leave")

	nb.Close() // closes its Dist (an io.Closer): no goodbye, a failure
	testutil.Eventually(t, wait, func() bool { return evs.Has(gencluster.EventFail, "b") }, "a's Node to see b fail")
	if evs.Has(gencluster.EventFail, "c") || evs.Has(gencluster.EventLeave, "b") {
		t.Errorf("a leave read as a failure or the reverse: %v", evs.All())
	}
	if got := nodeNames(na); !slices.Equal(got, []string{"a"}) {
		t.Errorf("a's members at the end: %v", got)
	}
	na.Close()
	<-evs.Done()
}

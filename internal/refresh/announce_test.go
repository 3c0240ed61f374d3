package refresh

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/membership"
	"github.com/gencluster/gencluster/seeds"
)

// addrsFrom returns n addresses 10.0.<third>.1, 10.0.<third>.2, ...
func addrsFrom(third, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("10.0.%d.%d:7946", third, i+1))
	}
	return out
}

// firstPass returns a loop at 10.0.0.1 whose discovery lists listed, in
// front of cluster (a clusterDist whose joins of cluster's addresses
// succeed), after what Start and the beginning of Run do: one pass, then
// the announcement it decided.
func firstPass(cluster, listed []string) (*clusterDist, *Loop) {
	f := &clusterDist{Dist: testutil.NewDist("10.0.0.1:7946", cluster...), cluster: cluster}
	return f, passOnce(f, listed)
}

// partialFirstPass is firstPass for a cluster of which only up has
// started: the other listed addresses refuse joins (nothing listens
// there yet).
func partialFirstPass(listed, up []string) (*clusterDist, *Loop) {
	f := &clusterDist{Dist: testutil.NewDist("10.0.0.1:7946", up...), cluster: up}
	for _, a := range listed {
		if !slices.Contains(up, a) {
			f.Refuse(a)
		}
	}
	return f, passOnce(f, listed)
}

// passOnce makes a loop over f whose discovery lists listed, and runs
// one pass and the announcement it decided.
func passOnce(f *clusterDist, listed []string) *Loop {
	c := config(f.Dist, seeds.Static(listed...))
	c.Dist = f
	r := New(c)
	r.Pass(context.Background(), true)
	r.flushAnnounce(context.Background()) // as Run does, after Start
	return r
}

// TestAnnounceToFormedCluster: a node that starts late, given more than
// fewSeeds addresses of a cluster that has formed, gets the whole view
// from its first join and then pushes its state to every other listed
// member, once each, as memberlist's Join of the list does; a second
// pass pushes to nobody.
func TestAnnounceToFormedCluster(t *testing.T) {
	listed := addrsFrom(1, 20)
	f, r := firstPass(listed, listed)
	for _, a := range listed {
		if n := len(f.CallTimes(a)); n != 1 {
			t.Errorf("%s: %d push-pulls, want 1 (the first join, or the announcement)", a, n)
		}
	}
	r.Pass(context.Background(), true)
	if n := joins(f.Dist, listed); n != len(listed) {
		t.Errorf("%d push-pulls after a second pass, want still %d: a node announces itself once", n, len(listed))
	}
}

// TestAnnounceBounded: the announcement is bounded in member states: in a
// formed cluster (the first view holds every listed address) of 301, this
// node and 300 listed members, the node pushes and pulls state with
// formedAnnounceStates/301 of them in all, the first join included, each
// at most once, and leaves the rest to gossip; in one of 101 the budget
// covers all 100, as memberlist's Join of the list does.
func TestAnnounceBounded(t *testing.T) {
	for _, c := range []struct{ listed, want int }{
		{300, formedAnnounceStates / 301},
		{100, 100},
	} {
		listed := addrsFrom(1, c.listed)
		f, _ := firstPass(listed, listed)
		if n := joins(f.Dist, listed); n != c.want {
			t.Errorf("%d push-pulls with %d listed members of a formed cluster, want %d", n, len(listed), c.want)
		}
		for _, a := range listed {
			if n := len(f.CallTimes(a)); n > 1 {
				t.Errorf("%s: %d push-pulls, want at most 1", a, n)
			}
		}
	}
}

// TestAnnounceBoundedPartlyFormed: a first view that holds at least half
// of the listed addresses but not nearly all (200 of 300 up, the rest not
// started yet: refused) is a late starter of a join storm, not a node
// starting into a formed cluster: the budget is announceStates, 20
// push-pulls in a view of 201, not formedAnnounceStates' 81.
func TestAnnounceBoundedPartlyFormed(t *testing.T) {
	listed := addrsFrom(1, 300)
	up := listed[:200]
	f, _ := partialFirstPass(listed, up)
	if n, want := joins(f.Dist, up), announceStates/201; n != want {
		t.Errorf("%d push-pulls with the 200 members of a first view of 201, want announceStates/201 = %d", n, want)
	}
}

// TestNoAnnounceInStorm: in a join storm the first join brings in a
// partial view (here 4 of 21, less than half the listed set): the node
// announces itself to nobody, since in a storm that costs more than
// gossip, and not to members that appear later either. Listed addresses
// that are not up yet (refused: nothing listens there) are tried once by
// the join itself and then wait out their backoff; being refused, they do
// not stop the one-by-one joins, so the node joins one of the members that
// are up and none of the others, whatever the shuffled order.
func TestNoAnnounceInStorm(t *testing.T) {
	listed := addrsFrom(1, 20)
	up, later := listed[:3], listed[3:]
	f, r := partialFirstPass(listed, up)
	if n := joins(f.Dist, up); n != 1 {
		t.Errorf("%d push-pulls with the %d members of a partial first view, want 1 (the join)", n, len(up))
	}
	for _, a := range later {
		if n := len(f.CallTimes(a)); n != 1 {
			t.Errorf("not-yet-started %s: %d joins, want 1 (the failed join)", a, n)
		}
	}
	for _, a := range later { // they start, and gossip brings them in
		f.Add(membership.Member{Name: "m-" + a, Addr: a, State: membership.StateAlive})
	}
	r.Pass(context.Background(), true)
	if n := joins(f.Dist, listed); n != 1+len(later) {
		t.Errorf("%d push-pulls after the others came up, want still %d: no announcement after the bootstrap", n, 1+len(later))
	}
}

// TestNoAnnounceWhenFirstViewPartial: in a join storm the first join
// brings in a partial view (the peer knew 3 of 20), and the rest of the
// first pass then joins the other listed addresses one by one, so that
// by the end of the pass the view holds them all. Whether the node joined
// a formed cluster is what its first view says, not what its own joins
// made of it afterwards: it announces itself to nobody (the previous
// rule read the view at the end of the pass and pushed state to the
// members the first join had brought in).
func TestNoAnnounceWhenFirstViewPartial(t *testing.T) {
	listed := addrsFrom(1, 20)
	f := &clusterDist{Dist: testutil.NewDist("10.0.0.1:7946", listed...), cluster: listed[:3]}
	c := config(f.Dist, seeds.Static(listed...))
	c.Dist = f
	r := New(c)
	r.Pass(context.Background(), true)
	if got := len(f.Members()); got != len(listed)+1 {
		t.Fatalf("setup: the first pass ended with %d members, want all %d", got, len(listed)+1)
	}
	before := joins(f.Dist, listed)
	r.flushAnnounce(context.Background()) // as Run does, after Start
	if after := joins(f.Dist, listed); after != before {
		t.Errorf("%d push-pulls after the first pass's %d: an announcement from a node whose first view was 4 of 21", after-before, before)
	}
}

// TestAnnounceThroughFewSeeds: a node given a few seeds, behind which
// there is a larger cluster, pushes and pulls state with each seed
// (rule 5) and then with seedAnnounce random members that discovery does
// not list, once each (rule 14); a second pass adds nothing.
func TestAnnounceThroughFewSeeds(t *testing.T) {
	cluster := addrsFrom(1, 20)
	listed := cluster[:3]
	f, r := firstPass(cluster, listed)
	for _, a := range listed {
		if n := len(f.CallTimes(a)); n != 1 {
			t.Errorf("seed %s: %d push-pulls, want 1", a, n)
		}
	}
	unlisted := cluster[3:]
	if n := joins(f.Dist, unlisted); n != seedAnnounce {
		t.Errorf("%d push-pulls with members discovery does not list, want seedAnnounce = %d", n, seedAnnounce)
	}
	for _, a := range unlisted {
		if n := len(f.CallTimes(a)); n > 1 {
			t.Errorf("%s: %d push-pulls, want at most 1", a, n)
		}
	}
	r.Pass(context.Background(), true)
	r.flushAnnounce(context.Background())
	if n := joins(f.Dist, cluster); n != len(listed)+seedAnnounce {
		t.Errorf("%d push-pulls after a second pass, want still %d: a node announces itself once", n, len(listed)+seedAnnounce)
	}
}

package refresh

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/membership"
	"github.com/gencluster/gencluster/seeds"
)

// clusterDist is a fake Dist whose successful join of a seed brings in the
// whole cluster behind it, as a memberlist push-pull does.
type clusterDist struct {
	*testutil.Dist
	cluster []string
}

func (d *clusterDist) Connect(ctx context.Context, addr string) error {
	if err := d.Dist.Connect(ctx, addr); err != nil {
		return err
	}
	for _, a := range d.cluster {
		d.Add(membership.Member{Name: "m-" + a, Addr: a, State: membership.StateAlive})
	}
	return nil
}

func joins(f *testutil.Dist, addrs []string) int {
	k := 0
	for _, a := range addrs {
		k += len(f.CallTimes(a))
	}
	return k
}

// TestPullFewSeeds: a node given a few static seeds pushes and pulls
// state with each of them once, though the first join made the others
// members (memberlist's own Join of the list does the same); given more
// addresses than fewSeeds it joins one and announces itself to the
// others (announce_test.go), once each: the refresh loop joins no listed
// member again.
func TestPullFewSeeds(t *testing.T) {
	few := []string{"10.0.0.2:7946", "10.0.0.3:7946", "10.0.0.4:7946"}
	f := &clusterDist{Dist: testutil.NewDist("10.0.0.1:7946", few...), cluster: append(few, "10.0.0.5:7946")}
	c := config(f.Dist, seeds.Static(few...))
	c.Dist = f
	r := New(c)
	r.Pass(context.Background(), true)
	for _, a := range few {
		if n := len(f.CallTimes(a)); n != 1 {
			t.Errorf("seed %s: %d joins, want 1 (one push-pull with each of a few seeds)", a, n)
		}
	}
	r.Pass(context.Background(), true)
	if n := joins(f.Dist, few); n != len(few) {
		t.Errorf("%d joins after a second pass, want still %d: the seeds are pulled once", n, len(few))
	}

	var many []string // one more than fewSeeds
	for i := range fewSeeds + 1 {
		many = append(many, fmt.Sprintf("10.0.0.%d:7946", i+2))
	}
	g := &clusterDist{Dist: testutil.NewDist("10.0.0.1:7946", many...), cluster: many}
	c = config(g.Dist, seeds.Static(many...))
	c.Dist = g
	r = New(c)
	r.Pass(context.Background(), true)
	r.flushAnnounce(context.Background())
	r.Pass(context.Background(), true)
	for _, a := range many {
		if n := len(g.CallTimes(a)); n != 1 {
			t.Errorf("%s: %d push-pulls with %d listed addresses in two passes, want 1 (the join or the announcement)", a, n, len(many))
		}
	}
}

// TestAntiEntropyAfterQuiet: once the member list has stopped changing
// for the quiet time, the loop pushes and pulls state with a random live
// member, twice (two different members), and never again. While members
// keep arriving, it waits.
func TestAntiEntropyAfterQuiet(t *testing.T) {
	const seed = "10.0.0.2:7946"
	var members []string
	for i := range 6 {
		members = append(members, fmt.Sprintf("10.0.1.%d:7946", i+1))
	}
	f := &clusterDist{Dist: testutil.NewDist("10.0.0.1:7946", seed), cluster: members[:2]}
	c := config(f.Dist, seeds.Static(seed))
	c.Dist = f
	c.AntiEntropyQuiet = 300 * time.Millisecond
	startLoop(t, c)
	// Every live member but this node, the seed included (joined once at
	// the start), is a candidate. Before any anti-entropy the node pushes
	// and pulls with the seed (its join) and with the two members behind
	// it (rule 14's announcement through few seeds, when Run begins).
	cands := append([]string{seed}, members...)
	testutil.Eventually(t, 5*time.Second, func() bool { return joins(f.Dist, cands) == 3 }, "the join and the announcement")
	early := map[string]int{}
	for _, a := range cands {
		early[a] = len(f.CallTimes(a))
	}
	pulls := func() int { return joins(f.Dist, cands) - 3 }

	// Members keep arriving (by gossip) every 100ms: no anti-entropy.
	var lastChange time.Time
	for _, a := range members[2:] {
		time.Sleep(100 * time.Millisecond)
		f.Add(membership.Member{Name: "m-" + a, Addr: a, State: membership.StateAlive})
		lastChange = time.Now()
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return pulls() == 2 }, "two anti-entropy push-pulls")
	var pulled []string
	for _, a := range cands {
		ts := f.CallTimes(a)[early[a]:]
		for _, at := range ts {
			pulled = append(pulled, a)
			if at.Before(lastChange.Add(c.AntiEntropyQuiet)) {
				t.Errorf("anti-entropy push-pull with %s %v after the last change, want at least the quiet time %v", a, at.Sub(lastChange), c.AntiEntropyQuiet)
			}
		}
	}
	if len(pulled) == 2 && pulled[0] == pulled[1] {
		t.Errorf("both push-pulls with %s, want two different members", pulled[0])
	}
	time.Sleep(4 * c.AntiEntropyQuiet)
	if n := pulls(); n != 2 {
		t.Errorf("%d anti-entropy push-pulls, want 2 and no more", n)
	}
}

package refresh

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/joinfail"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/membership"
	"github.com/gencluster/gencluster/seeds"
)

func TestNextDiscoveryGap(t *testing.T) {
	const interval = 5 * time.Second
	for _, c := range []struct {
		gap, interval time.Duration
		grew          bool
		want          time.Duration
	}{
		{warmupFirst, interval, false, 2 * warmupFirst},                             // warm-up doubles
		{firstRediscovery, interval, false, warmupFirst},                            // the short gap after Start is not doubled from
		{firstRediscovery, interval, true, warmupFirst},                             // nor restarted
		{4 * time.Second, interval, false, interval},                                // up to the interval
		{interval, interval, false, interval},                                       // settled: once per interval
		{interval, interval, true, warmupFirst},                                     // new members: others may be coming up
		{2 * warmupFirst, interval, true, warmupFirst},                              // a join storm keeps the gap short
		{50 * time.Millisecond, 50 * time.Millisecond, true, 50 * time.Millisecond}, // never above the interval
	} {
		if got := nextDiscoveryGap(c.gap, c.interval, c.grew); got != c.want {
			t.Errorf("nextDiscoveryGap(%v, %v, grew %v) = %v, want %v", c.gap, c.interval, c.grew, got, c.want)
		}
	}
}

func TestJoinOneByOneStopsAtFirstFailure(t *testing.T) {
	r := New(config(testutil.NewDist("10.0.0.1:7946")))
	refused := joinfail.Wrap("peer", fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED))
	timeout := joinfail.Wrap("peer", errors.New("dial tcp 10.0.0.9:7946: i/o timeout"))
	for _, c := range []struct {
		name    string
		results []error // outcome of each join, in order
		all     bool
		joins   int
	}{
		{"all succeed", []error{nil, nil, nil}, true, 3},
		{"first fails", []error{timeout, nil, nil}, false, 1},
		{"third fails", []error{nil, nil, timeout, nil}, false, 3},
		// Refused at once (not listening yet): no reason to go parallel.
		{"refused ones are passed over", []error{refused, nil, refused, nil}, true, 4},
		{"refused, then a timeout", []error{refused, timeout, nil}, false, 2},
		{"nothing to join", nil, true, 0},
	} {
		next, joins := 0, 0
		take := func() (string, bool) {
			if next == len(c.results) {
				return "", false
			}
			next++
			return "peer", true
		}
		join := func(string) error {
			joins++
			return c.results[next-1]
		}
		if all := r.joinOneByOne(context.Background(), take, join); all != c.all || joins != c.joins {
			t.Errorf("%s: joinOneByOne = %v after %d joins, want %v after %d", c.name, all, joins, c.all, c.joins)
		}
	}
}

// An address whose join failed, and that then became a live member by
// another way (gossip, another join), must not keep a retry time: one left
// in the past made Run wake every millisecond for a pass with nothing to
// do.
func TestRefreshForgetsBackoffOfLiveMembers(t *testing.T) {
	const self, peer = "10.0.0.1:7946", "10.0.0.2:7946"
	f := testutil.NewDist(self, peer)
	r := New(config(f))
	r.addrs = []string{peer}
	r.retry.Failed(peer, time.Now().Add(-time.Minute))
	if _, waiting := r.retry.Next(); !waiting {
		t.Fatal("setup: the failed peer has no retry time")
	}
	f.Add(membership.Member{Name: "peer", Addr: peer, State: membership.StateAlive}) // gossip brought it in

	if joined, _ := r.connectDue(context.Background(), true); joined {
		t.Error("a live member was joined again")
	}
	if calls := f.CallTimes(peer); len(calls) != 0 {
		t.Errorf("Connect(%s) called %d times, want 0", peer, len(calls))
	}
	if next, waiting := r.retry.Next(); waiting {
		t.Errorf("the live member still has a retry time (%v): the loop would wake for nothing", next)
	}
}

// A member that was live at the previous pass and is not now was just
// declared failed: memberlist repairs a false failure itself, so the loop
// leaves it alone for one interval, then joins it again.
func TestRefreshLeavesJustFailedMemberToMemberlist(t *testing.T) {
	const self, peer = "10.0.0.1:7946", "10.0.0.2:7946"
	f := testutil.NewDist(self, peer)
	r := New(config(f))
	r.addrs = []string{peer}
	f.Add(membership.Member{Name: "peer", Addr: peer, State: membership.StateAlive})
	r.connectDue(context.Background(), true) // sees it live
	f.Drop(peer)                             // declared failed

	if _, tried := r.connectDue(context.Background(), true); tried {
		t.Fatal("a member declared failed within the interval was joined at once")
	}
	r.lastLive.set(peer, time.Now().Add(-r.interval)) // one interval later
	if joined, _ := r.connectDue(context.Background(), true); !joined {
		t.Fatal("a member failed for a whole interval was not joined again")
	}
}

// Between discoveries a pass only retries addresses whose join failed: an
// address that never failed (another address of a known member, say) waits
// for the next discovery instead of being joined on every wake-up.
func TestRefreshRetryPassOnlyRetries(t *testing.T) {
	const self, fresh, failed = "10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946"
	f := testutil.NewDist(self, fresh, failed)
	r := New(config(f))
	r.addrs = []string{fresh, failed}
	r.retry.Failed(failed, time.Now().Add(-time.Minute))

	r.connectDue(context.Background(), false)
	if n := len(f.CallTimes(fresh)); n != 0 {
		t.Errorf("a retry pass joined %s, which never failed, %d times", fresh, n)
	}
	if n := len(f.CallTimes(failed)); n != 1 {
		t.Errorf("a retry pass joined %s, whose backoff was over, %d times; want 1", failed, n)
	}
}

// Another address of a member (the other family of a dual-stack name, a
// NAT address) is joined once, not on every discovery; once a member is
// lost it is joined again, in case it is the lost member's only address.
func TestRefreshJoinsAliasOnce(t *testing.T) {
	const self, peer, other, alias = "10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946", "[fd00::2]:7946"
	f := testutil.NewDist(self, peer, other)
	f.Alias(alias, peer)
	r := New(config(f))
	r.addrs = []string{alias, other}
	for range 3 { // the shuffled order decides which is joined first
		r.connectDue(context.Background(), true)
	}
	if n := len(f.CallTimes(alias)); n != 1 {
		t.Fatalf("the alias %s was joined %d times in 3 discoveries, want 1", alias, n)
	}
	if n := len(f.CallTimes(other)); n != 1 {
		t.Fatalf("%s was joined %d times, want 1", other, n)
	}
	f.Drop(other) // a member is lost: aliases may be its only address
	r.lastLive.set(other, time.Now().Add(-r.interval))
	r.connectDue(context.Background(), true)
	if n := len(f.CallTimes(alias)); n != 2 {
		t.Errorf("after a member was lost the alias was joined %d times in all, want 2", n)
	}
}

// A refused join (nothing listens there yet: a peer listed before it has
// bound its port) is retried from refusedMinBackoff, an unreachable one
// from the configured MinBackoff (rule 12).
func TestRefusedJoinRetriedSooner(t *testing.T) {
	const refused, silent = "10.0.0.2:7946", "10.0.0.3:7946"
	f := testutil.NewDist("10.0.0.1:7946")
	f.Refuse(refused)
	c := config(f, seeds.Static(refused, silent))
	c.MinBackoff, c.Interval = 2*time.Second, time.Minute
	r := New(c)
	start := time.Now()
	r.Pass(context.Background(), true)
	end := time.Now()
	for _, a := range []string{refused, silent} {
		if n := len(f.CallTimes(a)); n != 1 {
			t.Fatalf("%s: %d joins, want 1", a, n)
		}
	}
	if !r.retry.Due(refused, end.Add(refusedMinBackoff)) {
		t.Errorf("the refused address is not due %v after its refusal", refusedMinBackoff)
	}
	if r.retry.Due(silent, start.Add(c.MinBackoff/2-time.Millisecond)) {
		t.Errorf("the unreachable address is due before half of MinBackoff (%v)", c.MinBackoff)
	}
}

package gencluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// fakeDist is a Dist whose Connect succeeds for addresses in ok, records
// every call, and whose members are self plus every address joined.
type fakeDist struct {
	self string

	mu      sync.Mutex
	ok      map[string]bool
	calls   map[string][]time.Time
	members map[string]Member
}

func newFakeDist(self string, ok ...string) *fakeDist {
	f := &fakeDist{self: self, ok: map[string]bool{}, calls: map[string][]time.Time{}, members: map[string]Member{}}
	for _, a := range ok {
		f.ok[a] = true
	}
	f.members[self] = Member{Name: "self", Addr: self, State: StateAlive}
	return f
}

func (f *fakeDist) Connect(ctx context.Context, addr string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[addr] = append(f.calls[addr], time.Now())
	if !f.ok[addr] {
		return errors.New("connection refused")
	}
	f.members[addr] = Member{Name: "m-" + addr, Addr: addr, State: StateAlive}
	return nil
}

func (f *fakeDist) Members() []Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Member
	for _, m := range f.members {
		out = append(out, m)
	}
	return out
}

func (f *fakeDist) callTimes(addr string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls[addr])
}

func (f *fakeDist) setOK(addr string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ok[addr] = ok
}

func (f *fakeDist) drop(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.members, addr)
}

func startFake(t *testing.T, f *fakeDist, opts ...Option) *Node {
	t.Helper()
	base := []Option{WithName("self"), WithDist(f), WithAdvertiseAddr(f.self),
		WithRefreshInterval(100 * time.Millisecond), WithRetryBackoff(20 * time.Millisecond)}
	return startNode(t, append(base, opts...)...)
}

func TestRefreshSkipsSelfAndLiveMembers(t *testing.T) {
	f := newFakeDist("10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946")
	d := &testutil.Seeds{}
	d.Set(nil, "10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946")
	startFake(t, f, WithSeeds(d))
	testutil.Eventually(t, 5*time.Second, func() bool { return d.Count() >= 4 }, "three discovery runs")
	if n := len(f.callTimes("10.0.0.1:7946")); n != 0 {
		t.Errorf("connected to itself %d times", n)
	}
	for _, a := range []string{"10.0.0.2:7946", "10.0.0.3:7946"} {
		if n := len(f.callTimes(a)); n != 1 {
			t.Errorf("%s: %d connects, want 1 (it is live after the first)", a, n)
		}
	}
	// A member that dies is re-joined on the next refresh.
	f.drop("10.0.0.2:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { return len(f.callTimes("10.0.0.2:7946")) == 2 }, "re-join of 10.0.0.2")
}

func TestRefreshBacksOffFailingSeed(t *testing.T) {
	const dead = "10.0.0.9:7946"
	f := newFakeDist("10.0.0.1:7946")
	d := &testutil.Seeds{}
	d.Set(nil, dead)
	// Backoff from 20ms up to the 400ms refresh interval.
	startFake(t, f, WithSeeds(d), WithRefreshInterval(400*time.Millisecond))
	testutil.Eventually(t, 10*time.Second, func() bool { return len(f.callTimes(dead)) >= 7 }, "7 attempts")
	ts := f.callTimes(dead)
	for i := 1; i < len(ts); i++ {
		// The i-th failure waits at least half of min(20ms*2^(i-1), 400ms).
		want := min(20*time.Millisecond<<(i-1), 400*time.Millisecond) / 2
		if gap := ts[i].Sub(ts[i-1]); gap < want-5*time.Millisecond {
			t.Errorf("attempt %d came %v after the previous, want at least %v", i+1, gap, want)
		}
	}
	// The cap: never more than the refresh interval (plus scheduling
	// slack) between attempts, so a healed seed is found within one
	// interval.
	for i := 1; i < len(ts); i++ {
		if gap := ts[i].Sub(ts[i-1]); gap > 400*time.Millisecond+300*time.Millisecond {
			t.Errorf("gap %v between attempts exceeds the refresh interval", gap)
		}
	}
	// Once the seed comes back, the next attempt joins it.
	f.setOK(dead, true)
	testutil.Eventually(t, 5*time.Second, func() bool {
		for _, m := range f.Members() {
			if m.Addr == dead {
				return true
			}
		}
		return false
	}, "the healed seed to be joined")
}

func TestRefreshDiscoveryErrorNotFatal(t *testing.T) {
	f := newFakeDist("10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946")
	bad := &testutil.Seeds{}
	bad.Set(errors.New("SERVFAIL"))
	good := &testutil.Seeds{}
	good.Set(nil, "10.0.0.2:7946")
	startFake(t, f, WithSeeds(bad, good))
	testutil.Eventually(t, 5*time.Second, func() bool { return len(f.callTimes("10.0.0.2:7946")) == 1 }, "join of the good backend's seed")
	// A backend that fails and returns partial results still counts.
	bad.Set(errors.New("one of two names failed"), "10.0.0.3:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { return len(f.callTimes("10.0.0.3:7946")) == 1 }, "join of the partial result")
}

// TestRefreshKeepsPeerGoneFromDiscovery: a peer that drops out of
// discovery stays a member and stays listed (the Node never forces it
// out), and is not joined again; once the Dist loses it, it is gone for
// good (nothing re-joins an address discovery no longer lists).
func TestRefreshKeepsPeerGoneFromDiscovery(t *testing.T) {
	const peer = "10.0.0.2:7946"
	f := newFakeDist("10.0.0.1:7946", peer)
	d := &testutil.Seeds{}
	d.Set(nil, peer)
	n := startFake(t, f, WithSeeds(d))
	log := testutil.Collect(n.Events())
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventJoin, "m-"+peer) }, "join")
	d.Set(nil)
	runs := d.Count()
	testutil.Eventually(t, 5*time.Second, func() bool { return d.Count() >= runs+3 }, "three more refreshes")
	if got := names(n.Members()); !slices.Equal(got, []string{"m-" + peer, "self"}) {
		t.Fatalf("members = %v after the peer left discovery, want it still listed", got)
	}
	if log.Has(EventFail, "m-"+peer) {
		t.Fatal("the peer was reported failed because it left discovery")
	}
	f.drop(peer) // the peer really goes
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventFail, "m-"+peer) }, "the fail event")
	runs = d.Count()
	testutil.Eventually(t, 5*time.Second, func() bool { return d.Count() >= runs+3 }, "three more refreshes")
	if calls := len(f.callTimes(peer)); calls != 1 {
		t.Fatalf("%d joins of a peer discovery no longer lists, want the first only", calls)
	}
}

// TestPlainDistEvents: for a Dist that is not an EventSource, the node
// derives events from Members() after each pass.
func TestPlainDistEvents(t *testing.T) {
	f := newFakeDist("10.0.0.1:7946", "10.0.0.2:7946")
	d := &testutil.Seeds{}
	d.Set(nil, "10.0.0.2:7946")
	n := startFake(t, f, WithSeeds(d))
	log := testutil.Collect(n.Events())
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventJoin, "m-10.0.0.2:7946") }, "join event")
	if !log.Has(EventJoin, "self") {
		t.Errorf("no join event for self: %v", log.All())
	}
	d.Set(nil) // stop re-joining it
	f.drop("10.0.0.2:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { return log.Has(EventFail, "m-10.0.0.2:7946") }, "fail event")
}

// TestRefreshHostNameSeedLive: a seed given by host name whose IP is a
// live member is not joined again.
func TestRefreshHostNameSeedLive(t *testing.T) {
	f := newFakeDist("10.0.0.1:7946", "10.0.0.2:7946")
	f.members["10.0.0.2:7946"] = Member{Name: "two", Addr: "10.0.0.2:7946", State: StateAlive}
	c := defaultConfig()
	c.refreshInterval = time.Second
	c.lookupHost = func(_ context.Context, host string) ([]string, error) {
		if host == "two.example" {
			return []string{"10.0.0.2"}, nil
		}
		return nil, errors.New("no such host")
	}
	c.seeds = []seeds.Discoverer{seeds.Static("two.example:7946", "gone.example:7946")}
	r := newRefresher(&c, f, f.self, nopObserver{})
	r.pass(context.Background(), true)
	if n := len(f.callTimes("two.example:7946")); n != 0 {
		t.Errorf("joined two.example %d times though 10.0.0.2 is live", n)
	}
	if n := len(f.callTimes("gone.example:7946")); n != 1 {
		t.Errorf("gone.example: %d joins, want 1 (unresolvable names are tried)", n)
	}
}

// TestRefreshWarmup: right after Start, discovery re-runs after 100ms,
// 200ms, 400ms, ... so nodes that start together find each other well
// before the first full interval.
func TestRefreshWarmup(t *testing.T) {
	const interval = 4 * time.Second
	f := newFakeDist("10.0.0.1:7946")
	d := &testutil.Seeds{}
	start := time.Now()
	startFake(t, f, WithSeeds(d), WithRefreshInterval(interval))
	// Runs at 0 (Start), 0.1s, 0.3s and 0.7s: four before 1s, where a
	// plain schedule would have run once until 4s. The wait may last two
	// intervals, so that a schedule without the warm-up reaches the
	// check below and fails it.
	testutil.Eventually(t, 2*interval, func() bool { return d.Count() >= 4 }, "four discovery runs")
	if took := time.Since(start); took >= interval {
		t.Fatalf("four runs took %v, not less than one interval", took)
	}
	// The gaps grow: the warm-up doubles them towards the interval.
	ts := d.Times()
	for i := 2; i < 4; i++ {
		if prev, gap := ts[i-1].Sub(ts[i-2]), ts[i].Sub(ts[i-1]); gap <= prev {
			t.Errorf("gap %d is %v, not longer than the one before (%v): runs at %v", i, gap, prev, ts)
		}
	}
}

// TestRefreshResolvesInParallel: the join workers resolve host-name seeds
// outside their shared lock, so four slow look-ups overlap.
func TestRefreshResolvesInParallel(t *testing.T) {
	f := newFakeDist("10.0.0.1:7946")
	c := defaultConfig()
	c.refreshInterval = time.Second
	var (
		mu            sync.Mutex
		inFlight, top int
		all4          = make(chan struct{})
	)
	c.lookupHost = func(ctx context.Context, host string) ([]string, error) {
		mu.Lock()
		inFlight++
		top = max(top, inFlight)
		if inFlight == 4 {
			close(all4)
		}
		mu.Unlock()
		// Wait for the others (bounded: without overlap they never come).
		select {
		case <-all4:
		case <-time.After(300 * time.Millisecond):
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil, errors.New("no such host")
	}
	c.seeds = []seeds.Discoverer{seeds.Static("a.example:7946", "b.example:7946", "c.example:7946", "d.example:7946")}
	r := newRefresher(&c, f, f.self, nopObserver{})
	r.pass(context.Background(), true)
	if top != 4 {
		t.Fatalf("at most %d look-ups ran at once, want 4 (one per worker)", top)
	}
}

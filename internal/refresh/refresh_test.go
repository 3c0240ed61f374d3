package refresh

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/membership"
	"github.com/gencluster/gencluster/seeds"

	"github.com/gencluster/gencluster/internal/discovery"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// config is the loop's configuration for a fake Dist at f.Self: a 100ms
// interval, 20ms first backoff, 4 workers, no early anti-entropy (the
// tests count joins; antientropy_test.go turns it on).
func config(f *testutil.Dist, ds ...seeds.Discoverer) Config {
	return Config{Dist: f, Backends: discovery.Resolve(ds...), Self: f.Self, Interval: 100 * time.Millisecond, MinBackoff: 20 * time.Millisecond,
		Timeout: time.Second, Workers: 4, AntiEntropyQuiet: -1}
}

// startLoop runs the loop as a Node does (one pass, then Run) until the test
// ends.
func startLoop(t *testing.T, c Config) *Loop {
	t.Helper()
	r := New(c)
	ctx, cancel := context.WithCancel(context.Background())
	r.Pass(ctx, true)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func TestRefreshSkipsSelfAndLiveMembers(t *testing.T) {
	f := testutil.NewDist("10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946")
	d := &testutil.Seeds{}
	d.Set(nil, "10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946")
	startLoop(t, config(f, d))
	testutil.Eventually(t, 5*time.Second, func() bool { return d.Count() >= 4 }, "three discovery runs")
	if n := len(f.CallTimes("10.0.0.1:7946")); n != 0 {
		t.Errorf("connected to itself %d times", n)
	}
	for _, a := range []string{"10.0.0.2:7946", "10.0.0.3:7946"} {
		if n := len(f.CallTimes(a)); n != 1 {
			t.Errorf("%s: %d connects, want 1 (it is live after the first)", a, n)
		}
	}
	// A member that dies is re-joined on the next refresh.
	f.Drop("10.0.0.2:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { return len(f.CallTimes("10.0.0.2:7946")) == 2 }, "re-join of 10.0.0.2")
}

func TestRefreshBacksOffFailingSeed(t *testing.T) {
	const dead = "10.0.0.9:7946"
	f := testutil.NewDist("10.0.0.1:7946")
	d := &testutil.Seeds{}
	d.Set(nil, dead)
	// Backoff from 20ms up to the 400ms refresh interval.
	c := config(f, d)
	c.Interval = 400 * time.Millisecond
	startLoop(t, c)
	testutil.Eventually(t, 10*time.Second, func() bool { return len(f.CallTimes(dead)) >= 7 }, "7 attempts")
	ts := f.CallTimes(dead)
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
	f.SetOK(dead, true)
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
	f := testutil.NewDist("10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946")
	bad := &testutil.Seeds{}
	bad.Set(errors.New("SERVFAIL"))
	good := &testutil.Seeds{}
	good.Set(nil, "10.0.0.2:7946")
	startLoop(t, config(f, bad, good))
	testutil.Eventually(t, 5*time.Second, func() bool { return len(f.CallTimes("10.0.0.2:7946")) == 1 }, "join of the good backend's seed")
	// A backend that fails and returns partial results still counts.
	bad.Set(errors.New("one of two names failed"), "10.0.0.3:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { return len(f.CallTimes("10.0.0.3:7946")) == 1 }, "join of the partial result")
}

// TestRefreshHostNameSeedLive: a seed given by host name whose IP is a
// live member is not joined again.
func TestRefreshHostNameSeedLive(t *testing.T) {
	f := testutil.NewDist("10.0.0.1:7946", "10.0.0.2:7946")
	f.Add(membership.Member{Name: "two", Addr: "10.0.0.2:7946", State: membership.StateAlive})
	c := config(f)
	c.Interval = time.Second
	c.LookupHost = func(_ context.Context, host string) ([]string, error) {
		if host == "two.example" {
			return []string{"10.0.0.2"}, nil
		}
		return nil, errors.New("no such host")
	}
	c.Backends = discovery.Resolve(seeds.Static("two.example:7946", "gone.example:7946"))
	r := New(c)
	r.Pass(context.Background(), true)
	if n := len(f.CallTimes("gone.example:7946")); n != 1 {
		t.Errorf("gone.example: %d joins, want 1 (unresolvable names are tried)", n)
	}
	// The first pass pushes and pulls state with each of the few seeds
	// once (pullFewSeeds); after that a live seed is not joined again.
	before := len(f.CallTimes("two.example:7946"))
	r.Pass(context.Background(), true)
	if n := len(f.CallTimes("two.example:7946")) - before; n != 0 {
		t.Errorf("joined two.example %d times though 10.0.0.2 is live", n)
	}
}

// TestRefreshWarmup: right after the first pass, discovery re-runs after 100ms,
// 200ms, 400ms, ... so nodes that start together find each other well
// before the first full interval.
func TestRefreshWarmup(t *testing.T) {
	const interval = 4 * time.Second
	f := testutil.NewDist("10.0.0.1:7946")
	d := &testutil.Seeds{}
	start := time.Now()
	c := config(f, d)
	c.Interval = interval
	startLoop(t, c)
	// Runs at 0 (the first pass), 0.1s, 0.3s and 0.7s: four before 1s, where a
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
// outside their shared lock, so four slow look-ups overlap. (The first
// candidate is resolved and joined alone, see joinOneByOne; its join fails,
// and the four workers take the other four.)
func TestRefreshResolvesInParallel(t *testing.T) {
	f := testutil.NewDist("10.0.0.1:7946")
	c := config(f)
	c.Interval = time.Second
	var (
		mu            sync.Mutex
		inFlight, top int
		all4          = make(chan struct{})
	)
	c.LookupHost = func(ctx context.Context, host string) ([]string, error) {
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
	c.Backends = discovery.Resolve(seeds.Static("a.example:7946", "b.example:7946", "c.example:7946", "d.example:7946", "e.example:7946"))
	New(c).Pass(context.Background(), true)
	if top != 4 {
		t.Fatalf("at most %d look-ups ran at once, want 4 (one per worker)", top)
	}
}

package cluster

import (
	"flag"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/gossip"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// reuseDefaults runs TestNameReuseAfterRestart with memberlist's LAN
// timers and gencluster's default reclaim time instead of the test timers,
// to measure what a deployment sees:
//
//	go test -run TestNameReuseAfterRestart -v ./test/cluster -args -reuse-defaults
var reuseDefaults = flag.Bool("reuse-defaults", false, "TestNameReuseAfterRestart: memberlist's LAN timers, the default 5s reclaim time")

// reuseTimers are the test timers with a reclaim time and a push-pull
// interval long enough to tell them apart: memberlist alone accepts a
// restarted name only at a push-pull after the reclaim time.
func reuseTimers(mc *memberlist.Config) {
	testutil.FastGossip(mc)
	mc.DeadNodeReclaimTime = time.Second
	mc.PushPullInterval = 10 * time.Second
}

// restartAfter crashes r-b of a three-node cluster, waits until the others
// have declared it failed (unless pause < 0: then it restarts at once,
// before they can have noticed), waits pause, restarts it under the same name on
// another IP (seeded with r-a only: the others have no discovery that
// finds it) and returns how long until every other node lists it alive at
// its new address.
func restartAfter(t *testing.T, pause time.Duration) time.Duration {
	t.Helper()
	opts := func(name string, extra ...gencluster.Option) []gencluster.Option {
		if *reuseDefaults {
			return append([]gencluster.Option{gencluster.WithName(name), gencluster.WithBindAddr("127.0.0.1:0")}, extra...)
		}
		return append(append(testOpts(t, name), gencluster.WithMemberlistConfig(reuseTimers)), extra...)
	}
	a := startNode(t, opts("nr-a")...)
	c := startNode(t, opts("nr-c", gencluster.WithSeeds(seeds.Static(a.Addr())))...)
	b := startNode(t, opts("nr-b", gencluster.WithSeeds(seeds.Static(a.Addr())))...)
	testutil.WaitMembers(t, 30*time.Second, []*gencluster.Node{a, b, c}, "nr-a", "nr-b", "nr-c")
	b.Close()
	if pause >= 0 { // < 0: restart before the failure is detected
		testutil.WaitMembers(t, 60*time.Second, []*gencluster.Node{a, c}, "nr-a", "nr-c")
	}
	if pause > 0 {
		time.Sleep(pause) // the scenario: the restart comes this late
	}
	start := time.Now()
	b2 := startNode(t, opts("nr-b", gencluster.WithBindAddr("127.0.0.2:0"), gencluster.WithSeeds(seeds.Static(a.Addr())))...)
	testutil.Eventually(t, 60*time.Second, func() bool {
		for _, n := range []*gencluster.Node{a, c} {
			ok := false
			for _, m := range n.Members() {
				ok = ok || (m.Name == "nr-b" && m.Addr == b2.Addr())
			}
			if !ok {
				return false
			}
		}
		return true
	}, "both peers to list the restarted nr-b")
	return time.Since(start)
}

// TestNameReuseAfterRestart: a node restarted under its old name from a
// new address is accepted by every member soon after they may give the
// name away (DeadNodeReclaimTime after they declared it failed), whether
// it comes back at once or later; memberlist alone accepted it only at
// its next push-pull (PushPullInterval, 30s by default).
func TestNameReuseAfterRestart(t *testing.T) {
	reclaim, pause, pushPull := time.Second, 1200*time.Millisecond, 10*time.Second
	if *reuseDefaults {
		reclaim, pause, pushPull = gossip.DefaultDeadNodeReclaimTime, 6*time.Second, memberlist.DefaultLANConfig().PushPullInterval
	}
	early := restartAfter(t, -1)
	now := restartAfter(t, 0)
	later := restartAfter(t, pause)
	t.Logf("measured: restarted before the failure was detected: accepted after %v; right after it was: %v; %v after it: %v (reclaim %v, push-pull %v)",
		early.Round(time.Millisecond), now.Round(time.Millisecond), pause, later.Round(time.Millisecond), reclaim, pushPull)
	// Relative to the configured timers: at once is within two reclaim
	// times (the wait for the reclaim time, then a join), far below the
	// push-pull interval memberlist alone needs.
	if now > 2*reclaim+time.Second {
		t.Errorf("restarted at once: accepted after %v, want within about the reclaim time %v", now, reclaim)
	}
	// Before the failure was detected: detection, then the same.
	if early > now+pushPull/2 {
		t.Errorf("restarted before detection: accepted after %v, want about the detection time more than the %v of a restart after it", early, now)
	}
}

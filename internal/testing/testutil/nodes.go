package testutil

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/membership"
)

// FastGossip shortens memberlist's LAN timers so that failure detection
// takes about a second on loopback instead of several. The root package's
// tests and test/cluster's share it, so that both run on the same timers.
func FastGossip(mc *memberlist.Config) {
	mc.ProbeInterval = 200 * time.Millisecond
	mc.ProbeTimeout = 100 * time.Millisecond
	mc.GossipInterval = 20 * time.Millisecond
	mc.PushPullInterval = 2 * time.Second
	mc.SuspicionMult = 2
	mc.SuspicionMaxTimeoutMult = 2
	mc.TCPTimeout = time.Second
	mc.DeadNodeReclaimTime = 500 * time.Millisecond
	mc.GossipToTheDeadTime = 2 * time.Second
}

// Tolerant relaxes FastGossip (apply it after) for tests that assert that
// no member is falsely declared failed: on a loaded machine (a 2-core CI
// runner under -race) FastGossip's 100ms probe timeout is missed now and
// then.
func Tolerant(mc *memberlist.Config) {
	mc.ProbeInterval = 500 * time.Millisecond
	mc.ProbeTimeout = 400 * time.Millisecond
	mc.SuspicionMult = 4
}

// Names returns the sorted member names.
func Names(ms []membership.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	slices.Sort(out)
	return out
}

// Viewer is what WaitMembers watches: a node's member list (a
// *gencluster.Node; testutil cannot name it, the root package's own tests
// import testutil).
type Viewer interface {
	Members() []membership.Member
}

// WaitMembers waits until every node sees exactly the members named want,
// and fails the test when d passes first.
func WaitMembers[N Viewer](t testing.TB, d time.Duration, nodes []N, want ...string) {
	t.Helper()
	slices.Sort(want)
	Eventually(t, d, func() bool {
		for _, n := range nodes {
			if !slices.Equal(Names(n.Members()), want) {
				return false
			}
		}
		return true
	}, "members %s (seen: %v)", strings.Join(want, ","), views(func() string {
		var b strings.Builder
		for i, n := range nodes {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(strings.Join(Names(n.Members()), ","))
		}
		return b.String()
	}))
}

// views is what each node sees, worked out when a failure message is
// formatted (its String method), not when the wait starts.
type views func() string

func (v views) String() string { return v() }

package gencluster

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// churnMeta makes each node update its metadata rounds times; UpdateMeta
// waits for the broadcast, so it stalls if anything blocks gossip. Each
// update has its own deadline, far above the few gossip rounds one takes:
// a stall never ends, while a loaded machine only slows every update
// (one bound for all 150 updates of a test ran out at load 12, the
// updates still going out at ~200ms each).
func churnMeta(t *testing.T, nodes []*Node, rounds int) {
	t.Helper()
	for i := range rounds {
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := n.UpdateMeta(ctx, map[string]string{"round": strconv.Itoa(i)})
			cancel()
			if err != nil {
				t.Fatalf("UpdateMeta on %s round %d: %v", n.Name(), i, err)
			}
		}
	}
}

// Semantics 1 and 2: nobody reads Events() on node 0 while the others
// churn; gossip goes on, and what waits for the reader is at most one
// event per member.
func TestEventsNeverBlockAndStayBounded(t *testing.T) {
	nodes := startCluster(t, "b", 4)
	testutil.WaitMembers(t, 10*time.Second, nodes, "b-0", "b-1", "b-2", "b-3")
	const rounds = 50
	churnMeta(t, nodes[1:], rounds)
	want := strconv.Itoa(rounds - 1)
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, m := range nodes[0].Members() {
			if m.Name != "b-0" && m.Meta["round"] != want {
				return false
			}
		}
		return true
	}, "node 0 to see the last round")
	if pending := nodes[0].hub.Pending(); pending > 4 {
		t.Fatalf("%d events pending for an unread stream of 4 members, want at most 4", pending)
	}
	if c := nodes[0].hub.Coalesced(); c < uint64(rounds) {
		t.Fatalf("only %d events coalesced after %d updates of 3 members", c, 3*rounds)
	}
}

// Semantics 3: a reader that drains the stream ends with Members(), and
// per member the events arrive in order.
func TestEventsDrainEqualsMembers(t *testing.T) {
	nodes := startCluster(t, "v", 4)
	testutil.WaitMembers(t, 10*time.Second, nodes, "v-0", "v-1", "v-2", "v-3")
	// A slow reader that subscribed late: a snapshot plus the changes.
	snap, evs, cancel := nodes[0].Subscribe()
	defer cancel()
	view := map[string]Member{}
	for _, m := range snap {
		view[m.Name] = m
	}
	lastRound := map[string]int{}
	apply := func(ev Event) {
		if ev.Gone() {
			delete(view, ev.Member.Name)
			return
		}
		if r, err := strconv.Atoi(ev.Member.Meta["round"]); err == nil {
			if r < lastRound[ev.Member.Name] {
				t.Errorf("%s: round %d after round %d: out of order", ev.Member.Name, r, lastRound[ev.Member.Name])
			}
			lastRound[ev.Member.Name] = r
		}
		view[ev.Member.Name] = ev.Member
	}
	churnMeta(t, nodes[1:3], 20)
	nodes[3].Close() // and one failure
	testutil.WaitMembers(t, 10*time.Second, nodes[:1], "v-0", "v-1", "v-2")
	// Drain until the view matches, reading slowly at first.
	deadline := time.After(10 * time.Second)
	for !sameView(view, nodes[0].Members()) {
		select {
		case ev := <-evs:
			apply(ev)
		case <-deadline:
			t.Fatalf("drained view %v never matched Members() %v", view, nodes[0].Members())
		}
	}
}

func sameView(view map[string]Member, ms []Member) bool {
	if len(view) != len(ms) {
		return false
	}
	for _, m := range ms {
		v, ok := view[m.Name]
		if !ok || v.Addr != m.Addr || !maps.Equal(v.Meta, m.Meta) {
			return false
		}
	}
	return true
}

// Semantics 4: every stream is closed after Leave (and Close).
func TestEventsClosedAfterLeave(t *testing.T) {
	nodes := startCluster(t, "c", 2)
	testutil.WaitMembers(t, 10*time.Second, nodes, "c-0", "c-1")
	_, sub, _ := nodes[1].Subscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nodes[1].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan Event{"Events": nodes[1].Events(), "Subscribe": sub} {
		closed := make(chan struct{})
		go func() {
			for range ch {
			}
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s stream still open after Leave", name)
		}
	}
	// Subscribing to a stopped node gives a closed stream, not a hang.
	_, late, _ := nodes[1].Subscribe()
	select {
	case _, ok := <-late:
		if ok {
			t.Fatal("event on a stopped node's new subscription")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription after Leave never closed")
	}
}

func TestSubscribeCancel(t *testing.T) {
	n := startNode(t, testOpts(t, "sc")...)
	snap, ch, cancel := n.Subscribe()
	if got := testutil.Names(snap); !slices.Equal(got, []string{"sc"}) {
		t.Fatalf("snapshot = %v", got)
	}
	cancel()
	cancel() // idempotent
	testutil.Eventually(t, 5*time.Second, func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	}, "cancelled stream to close")
}

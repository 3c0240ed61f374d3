package gencluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/shard"
)

// stateOf returns the state n's view holds for the member called name.
func stateOf(n *Node, name string) (State, bool) {
	for _, m := range n.Members() {
		if m.Name == name {
			return m.State, true
		}
	}
	return 0, false
}

// replies formats a response as "name=status" words, by name.
func replies(r DrainResponse) string {
	var out []string
	for _, m := range r.Members {
		out = append(out, m.Name+"="+m.Status.String())
	}
	return strings.Join(out, " ")
}

// TestDrain: Drain returns once every other member acknowledged; by then
// every view holds the drainer draining (events, Members, /members), a
// shard table built from a peer's members gives it nothing, and the
// drainer is not ready. A second Drain asks again. Leave after Drain is a
// leave everywhere, with no update back to alive in between.
func TestDrain(t *testing.T) {
	nodes := startCluster(t, "dr", 4)
	testutil.WaitMembers(t, 10*time.Second, nodes, "dr-0", "dr-1", "dr-2", "dr-3")
	var logs []*testutil.EventLog
	for _, n := range nodes[1:] {
		_, evs, cancel := n.Subscribe()
		t.Cleanup(cancel)
		logs = append(logs, testutil.Collect(evs))
	}
	// Before: dr-0 owns some keys in dr-1's table (positive control).
	before, err := shard.New(nodes[1].Members())
	if err != nil {
		t.Fatal(err)
	}
	owned := 0
	for i := range 1000 {
		if o, _ := before.Owner(fmt.Sprint(i)); o.Name == "dr-0" {
			owned++
		}
	}
	if owned == 0 {
		t.Fatal("dr-0 owns none of 1000 keys before the drain")
	}
	if ready, _ := nodes[0].Ready(); !ready {
		t.Fatal("dr-0 not ready before the drain")
	}
	own, err := nodes[1].Ownership()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if first := <-own.Changes(); len(first.Added) != 4 {
		t.Fatalf("first ownership change adds %v, want all 4", testutil.Names(first.Added))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := nodes[0].Drain(ctx)
	if err != nil || replies(res) != "dr-1=acked dr-2=acked dr-3=acked" {
		t.Fatalf("Drain = %s, %v; want every other member acked", replies(res), err)
	}
	if !slices.Equal(res.Acked(), []string{"dr-1", "dr-2", "dr-3"}) || len(res.NotAcked()) != 0 || res.Count(DrainAcked) != 3 {
		t.Fatalf("Acked %v NotAcked %v", res.Acked(), res.NotAcked())
	}
	// Acknowledged means: each view holds it draining now.
	for _, n := range nodes {
		if s, ok := stateOf(n, "dr-0"); !ok || s != StateDraining {
			t.Errorf("%s holds dr-0 as %v (listed %v), want draining", n.Name(), s, ok)
		}
	}
	if s := nodes[0].LocalMember().State; s != StateDraining || !nodes[0].Draining() {
		t.Errorf("LocalMember state %v, Draining %v; want draining", s, nodes[0].Draining())
	}
	after, err := shard.New(nodes[1].Members())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if o, _ := after.Owner(fmt.Sprint(i)); o.Name == "dr-0" {
			t.Fatalf("key %d still owned by the draining dr-0", i)
		}
	}
	if after.Len() != 3 {
		t.Fatalf("table of %d members, want 3", after.Len())
	}
	// dr-1's ownership stream gives dr-0's keys away: its next change
	// removes dr-0, before dr-0 leaves.
	select {
	case ch := <-own.Changes():
		if len(ch.Added) != 0 || len(ch.Removed) != 1 || ch.Removed[0].Name != "dr-0" || ch.Table.Len() != 3 {
			t.Fatalf("ownership change on the drain: added %v removed %v, want dr-0 removed", testutil.Names(ch.Added), testutil.Names(ch.Removed))
		}
	case <-ctx.Done():
		t.Fatal("no ownership change on the drain")
	}
	// The drainer is not ready, and says why.
	if ready, _ := nodes[0].Ready(); ready {
		t.Error("dr-0 ready while draining")
	}
	rec := httptest.NewRecorder()
	nodes[0].Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "draining") {
		t.Errorf("/readyz = %d %q, want 503 draining", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	nodes[1].Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/members", nil))
	if !strings.Contains(rec.Body.String(), `"name":"dr-0","addr":"`+nodes[0].Addr()+`","state":"draining"`) {
		t.Errorf("/members of dr-1 = %s, want dr-0 draining", rec.Body.String())
	}
	// A second Drain asks again, and an UpdateMeta keeps the state.
	if err := nodes[0].UpdateMeta(ctx, map[string]string{"v": "2"}); err != nil {
		t.Fatal(err)
	}
	if res, err := nodes[0].Drain(ctx); err != nil || res.Count(DrainAcked) != 3 {
		t.Fatalf("second Drain = %s, %v", replies(res), err)
	}
	for _, n := range nodes[1:] {
		if m := memberOf(n, "dr-0"); m.State != StateDraining || m.Meta["v"] != "2" {
			t.Errorf("%s holds dr-0 as %v %v after UpdateMeta, want draining v=2", n.Name(), m.State, m.Meta)
		}
	}

	if err := nodes[0].Leave(ctx); err != nil {
		t.Fatalf("Leave after Drain: %v", err)
	}
	for i, l := range logs {
		name := nodes[i+1].Name()
		testutil.Eventually(t, 10*time.Second, func() bool { return l.Has(EventLeave, "dr-0") }, "%s to see dr-0 leave", name)
		var seq []string
		for _, ev := range l.All() {
			if ev.Member.Name == "dr-0" {
				seq = append(seq, ev.Type.String()+":"+ev.Member.State.String())
			}
		}
		// draining, (meta update while draining), left: never alive again, never failed.
		if len(seq) < 2 || seq[0] != "update:draining" || seq[len(seq)-1] != "leave:left" || slices.Contains(seq, "update:alive") || slices.Contains(seq, "fail:failed") {
			t.Errorf("%s saw dr-0 as %v, want update:draining ... leave:left", name, seq)
		}
	}
	if _, err := nodes[0].Drain(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("Drain after Leave: %v, want ErrStopped", err)
	}
}

func memberOf(n *Node, name string) Member {
	for _, m := range n.Members() {
		if m.Name == name {
			return m
		}
	}
	return Member{}
}

// TestDrainMemberKilled: a member that is killed (Close, no leave) just
// as the drain starts does not hold it: it is reported gone once the
// cluster declares it failed (or, on a slow machine, timeout), and Drain
// returns by its deadline.
func TestDrainMemberKilled(t *testing.T) {
	nodes := startCluster(t, "dk", 3)
	testutil.WaitMembers(t, 10*time.Second, nodes, "dk-0", "dk-1", "dk-2")
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	res, err := nodes[0].Drain(ctx)
	t.Logf("Drain = %s, %v", replies(res), err)
	if len(res.Members) != 2 || res.Members[0].Status != DrainAcked {
		t.Fatalf("Drain = %s, %v; want dk-1 acked, dk-2 gone or not acked", replies(res), err)
	}
	switch killed := res.Members[1]; killed.Status {
	case DrainGone:
		if err != nil {
			t.Fatalf("Drain with every live member acked: %v", err)
		}
	case DrainTimeout, DrainUnreachable:
		if !errors.Is(err, ErrNotAcknowledged) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Drain with dk-2 %s: %v, want ErrNotAcknowledged", killed.Status, err)
		}
	default:
		t.Fatalf("killed dk-2: %+v", killed)
	}
}

// TestDrainDeadline: a member that never answers (a plain memberlist
// node, which has no drain protocol) ends the drain at ctx's deadline:
// ErrNotAcknowledged, and a timeout reply that names it.
func TestDrainDeadline(t *testing.T) {
	nodes := startCluster(t, "dd", 2)
	testutil.WaitMembers(t, 10*time.Second, nodes, "dd-0", "dd-1")
	mc := memberlist.DefaultLANConfig()
	testutil.FastGossip(mc)
	mc.Name, mc.BindAddr, mc.BindPort = "dd-plain", "127.0.0.1", 0
	mc.LogOutput = testWriter{t}
	plain, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = plain.Shutdown()
		time.Sleep(2 * mc.ProbeInterval) // its last probe ends (goleak)
	})
	if _, err := plain.Join([]string{nodes[0].Addr()}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitMembers(t, 10*time.Second, nodes, "dd-0", "dd-1", "dd-plain")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := nodes[0].Drain(ctx)
	if !errors.Is(err, ErrNotAcknowledged) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain: %v, want ErrNotAcknowledged and the deadline", err)
	}
	if !strings.Contains(err.Error(), "1 of 2 members did not acknowledge that this node is draining (dd-plain)") {
		t.Errorf("error %q does not say who", err)
	}
	if replies(res) != "dd-1=acked dd-plain=timeout" || res.Members[1].Err == "" || !slices.Equal(res.NotAcked(), []string{"dd-plain"}) {
		t.Fatalf("Drain = %s (%+v), want dd-1 acked, dd-plain timeout with a reason", replies(res), res.Members)
	}
}

// testWriter sends memberlist's log lines to t.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestDrainAloneAndStopped: alone there is nothing to wait for; a stopped
// node returns ErrStopped.
func TestDrainAloneAndStopped(t *testing.T) {
	n := startNode(t, testOpts(t, "da")...)
	res, err := n.Drain(context.Background())
	if err != nil || len(res.Members) != 0 {
		t.Fatalf("Drain alone = %s, %v", replies(res), err)
	}
	if ready, _ := n.Ready(); ready {
		t.Error("ready while draining")
	}
	_ = n.Close()
	if _, err := n.Drain(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("Drain after Close: %v, want ErrStopped", err)
	}
}

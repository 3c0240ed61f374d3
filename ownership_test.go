package gencluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
	"github.com/gencluster/gencluster/shard"
)

var (
	workerMeta = map[string]string{"role": "worker"}
	apiMeta    = map[string]string{"role": "api"}
	isWorker   = shard.WithFilter(shard.MetaEquals("role", "worker"))
)

// changeReader reads an Ownership's Changes and checks each as it
// arrives, against the node's view at that moment.
type changeReader struct {
	t       *testing.T
	n       *Node
	o       *Ownership
	prev    *shard.Table
	tables  []*shard.Table // every Table delivered, and Table() at each delivery
	headers []headerSeen
	matched int // Changes whose version the view was still at
}

// until reads Changes until one leaves the workers named want (a comma
// separated list) owning keys, and returns it.
func (r *changeReader) until(want string) shard.Change {
	r.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case c, ok := <-r.o.Changes():
			if !ok {
				r.t.Fatalf("Changes closed while waiting for owners %v", want)
			}
			r.check(c)
			if names(c.Table.Members()) == want {
				return c
			}
		case <-deadline:
			r.t.Fatalf("no Change to owners %v within 15s (Table: %v)", want, names(r.o.Table().Members()))
		}
	}
}

// check checks one Change: it is relative to the one before, its Table
// is the view's workers when the view is still at its version, and the
// current Table too.
func (r *changeReader) check(c shard.Change) {
	r.t.Helper()
	r.headers = append(r.headers, headerSeen{change: c.Version, header: headerVersion(r.t, r.n)})
	if c.Table.Version() != c.Version {
		r.t.Fatalf("Change at %d carries a Table at %d", c.Version, c.Table.Version())
	}
	added, removed := shard.Diff(r.prev, c.Table)
	if names(added) != names(c.Added) || names(removed) != names(c.Removed) {
		r.t.Fatalf("Change at %d: +%v -%v, but from the last Change it is +%v -%v",
			c.Version, names(c.Added), names(c.Removed), names(added), names(removed))
	}
	if len(c.Added)+len(c.Removed) == 0 {
		r.t.Fatalf("Change at %d changes no owner", c.Version)
	}
	r.prev = c.Table
	for _, tb := range []*shard.Table{c.Table, r.o.Table()} {
		ok, err := atVersion(r.n, tb)
		if err != nil {
			r.t.Fatal(err)
		}
		if ok {
			r.matched++
		}
		r.tables = append(r.tables, tb)
	}
}

func names(ms []Member) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return strings.Join(out, ",")
}

// TestOwnershipFollowsChurn: on a real cluster, the Changes of one node
// follow a join, a member moving in and out of the filter, a graceful
// leave and a crash, each relative to the one before and equal to the
// view's workers at its version; /members reports the same version; and
// no lookup on any Table delivered answers a member that the node had
// seen leave or fail by that Table's version.
func TestOwnershipFollowsChurn(t *testing.T) {
	nodes := startCluster(t, "own", 3, WithMeta(workerMeta))
	testutil.WaitMembers(t, 10*time.Second, nodes, "own-0", "own-1", "own-2")
	n := nodes[0]
	_, evs, cancelLog := n.Subscribe() // every event, with its version
	log := testutil.Collect(evs)
	defer func() { cancelLog(); <-log.Done() }()
	o, err := n.Ownership(isWorker)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r := &changeReader{t: t, n: n, o: o}

	first := r.until("own-0,own-1,own-2")
	if names(first.Added) != "own-0,own-1,own-2" || len(first.Removed) != 0 {
		t.Fatalf("first Change +%v -%v, want every owner added", names(first.Added), names(first.Removed))
	}
	// A join.
	seed := WithSeeds(seeds.Static(n.Addr()))
	n3 := startNode(t, append(testOpts(t, "own-3"), seed, WithMeta(workerMeta))...)
	r.until("own-0,own-1,own-2,own-3")
	// A member that owns nothing joins (no Change), then moves into the
	// filter and out of it with its metadata.
	n4 := startNode(t, append(testOpts(t, "own-4"), seed, WithMeta(apiMeta))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{n}, "own-0", "own-1", "own-2", "own-3", "own-4")
	updateMeta(t, n4, workerMeta)
	if c := r.until("own-0,own-1,own-2,own-3,own-4"); names(c.Added) != "own-4" {
		t.Fatalf("own-4 moved into the filter: +%v -%v", names(c.Added), names(c.Removed))
	}
	updateMeta(t, n4, apiMeta)
	r.until("own-0,own-1,own-2,own-3")
	// A graceful leave, then a crash (Close: the others declare it failed),
	// then a drain.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nodes[1].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	r.until("own-0,own-2,own-3")
	if err := n3.Close(); err != nil {
		t.Fatal(err)
	}
	if c := r.until("own-0,own-2"); names(c.Removed) != "own-3" {
		t.Fatalf("own-3 crashed: +%v -%v", names(c.Added), names(c.Removed))
	}
	// A drain: own-2 stops owning on this node as soon as it hears.
	if _, err := nodes[2].Drain(ctx); err != nil {
		t.Fatalf("Drain of own-2: %v", err)
	}
	if c := r.until("own-0"); names(c.Removed) != "own-2" {
		t.Fatalf("own-2 drained: +%v -%v", names(c.Added), names(c.Removed))
	}

	// The log catches up with the view, then the whole run is checked.
	testutil.Eventually(t, 10*time.Second, func() bool {
		all := log.All()
		return len(all) > 0 && all[len(all)-1].Version >= n.view().Version()
	}, "the event log to reach the view's version")
	all := log.All()
	for _, h := range r.headers {
		if err := headerErr(h, all); err != nil {
			t.Error(err)
		}
	}
	if bad := goneOwners(r.tables, all, 2000); len(bad) > 0 {
		t.Errorf("lookups answered members already gone:\n%s", strings.Join(bad, "\n"))
	}
	// The check works on this run's events: a Table that held own-1 or
	// own-3, as if it were still current when they left or failed, is
	// caught.
	for _, ev := range all {
		if !ownsNothing(ev) {
			continue
		}
		i := slices.IndexFunc(r.tables, func(tb *shard.Table) bool {
			return strings.Contains(","+names(tb.Members())+",", ","+ev.Member.Name+",")
		})
		if i < 0 {
			t.Fatalf("no Table delivered held %s", ev.Member.Name)
		}
		stale, err := shard.NewTracker(r.tables[i].Members(), ev.Version, isWorker)
		if err != nil {
			t.Fatal(err)
		}
		bad := goneOwners([]*shard.Table{stale.Table()}, all, 2000)
		if !slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, "-> "+ev.Member.Name+" ") }) {
			t.Errorf("a Table with %s at the version of its %s (%d) was not caught: %v", ev.Member.Name, ev.Type, ev.Version, bad)
		}
	}
	for _, typ := range []EventType{EventLeave, EventFail} {
		if !slices.ContainsFunc(all, func(ev Event) bool { return ev.Type == typ }) {
			t.Errorf("no %s in the log: the run did not exercise it", typ)
		}
	}
	if !slices.ContainsFunc(all, func(ev Event) bool { return ev.Member.State == StateDraining }) {
		t.Error("no draining update in the log: the run did not exercise it")
	}
	if r.matched == 0 {
		t.Error("the view never was at a Change's version when it was checked: nothing compared")
	}
	t.Logf("%d Changes, %d Tables checked against the view at their version, %d events", len(r.headers), r.matched, len(all))
}

// updateMeta sets a node's metadata, with a deadline for a loaded machine.
func updateMeta(t *testing.T, n *Node, meta map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.UpdateMeta(ctx, meta); err != nil {
		t.Fatalf("UpdateMeta on %s: %v", n.Name(), err)
	}
}

// TestOwnershipUnreadMerges: Changes nobody reads merge into one, which
// is relative to the last Change delivered, while gossip goes on; a
// change undone before it is read is never delivered.
func TestOwnershipUnreadMerges(t *testing.T) {
	// Tolerant timers: a false failure would be a change of its own.
	nodes := startCluster(t, "merge", 2, WithMeta(apiMeta), WithMemberlistConfig(testutil.Tolerant))
	testutil.WaitMembers(t, 10*time.Second, nodes, "merge-0", "merge-1")
	o, err := nodes[0].Ownership(isWorker)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r := &changeReader{t: t, n: nodes[0], o: o}
	for range 3 { // unread: the first Change (no owner) merges with these
		updateMeta(t, nodes[1], workerMeta)
		updateMeta(t, nodes[1], apiMeta)
	}
	updateMeta(t, nodes[1], workerMeta)
	testutil.Eventually(t, 10*time.Second, func() bool { return o.Table().Len() == 1 }, "merge-1 to own keys")
	if c := r.until("merge-1"); names(c.Added) != "merge-1" {
		t.Fatalf("merged first Change +%v -%v, want +merge-1", names(c.Added), names(c.Removed))
	}
	updateMeta(t, nodes[1], apiMeta)
	updateMeta(t, nodes[1], workerMeta) // undone before anyone read it: nothing to deliver
	updateMeta(t, nodes[0], workerMeta)
	if c := r.until("merge-0,merge-1"); names(c.Added) != "merge-0" || len(c.Removed) != 0 {
		t.Fatalf("Change +%v -%v, want +merge-0 alone (merge-1 went and came back unread)", names(c.Added), names(c.Removed))
	}
}

// TestOwnershipEnds: bad options fail naming the value; Close and the
// node's stop close Changes and end the goroutine (goleak checks at the
// end of the package); a stopped node gives ErrStopped.
func TestOwnershipEnds(t *testing.T) {
	n := startNode(t, append(testOpts(t, "end-0"), WithMeta(workerMeta))...)
	if _, err := n.Ownership(shard.WithWeightMeta("")); err == nil || !strings.Contains(err.Error(), "WithWeightMeta: empty metadata key") {
		t.Fatalf("bad option: %v", err)
	}
	if _, err := n.Ownership(shard.WithZoneMeta("a"), shard.WithZoneMeta("b")); err == nil || !strings.Contains(err.Error(), `("a" and "b")`) {
		t.Fatalf("zone key twice: %v", err)
	}
	closed, err := n.Ownership()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	closed.Close()
	for range closed.Changes() { // closed: the first Change may have gone unread
	}
	kept, err := n.Ownership(isWorker)
	if err != nil {
		t.Fatal(err)
	}
	if tb := kept.Table(); tb.Len() != 1 || tb.Version() == 0 {
		t.Fatalf("Table of a one-node cluster: %d owners at version %d", tb.Len(), tb.Version())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for range kept.Changes() { // closed by the stop
	}
	kept.Close()
	if kept.Table().Len() != 1 {
		t.Fatal("Table lost after the stop")
	}
	if _, err := n.Ownership(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Ownership of a stopped node: %v, want ErrStopped", err)
	}
}

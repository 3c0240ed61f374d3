package gencluster

import (
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"

	"github.com/gencluster/gencluster/shard"
)

// The checks of the Ownership tests, apart so that each can be shown to
// fail (TestOwnershipChecksCanFail).

// sameMembers reports whether a Table's members are want exactly: names,
// addresses, states, boot ids and metadata.
func sameMembers(got, want []Member) bool {
	return slices.EqualFunc(got, want, func(a, b Member) bool {
		return a.Name == b.Name && a.Addr == b.Addr && a.State == b.State && a.Boot == b.Boot && maps.Equal(a.Meta, b.Meta)
	})
}

// workers is the members the tests' filter accepts: alive, role=worker,
// sorted by name (a Table without zones is sorted by name too).
func workers(ms []Member) []Member {
	var out []Member
	for _, m := range ms {
		if m.State == StateAlive && m.Meta["role"] == "worker" {
			out = append(out, m)
		}
	}
	return out
}

// atVersion checks a Table against the node's view when the view is at
// the Table's version: its owners must be the view's workers. It reports
// whether the versions matched (and so whether anything was checked).
func atVersion(n *Node, tb *shard.Table) (bool, error) {
	ms, v := n.snapshot()
	if v != tb.Version() {
		return false, nil
	}
	if want := workers(ms); !sameMembers(tb.Members(), want) {
		return true, fmt.Errorf("Table at version %d holds %v, the view's workers at that version are %v", v, tb.Members(), want)
	}
	return true, nil
}

// headerVersion is the Gencluster-View-Version /members reports now.
func headerVersion(t *testing.T, n *Node) uint64 {
	t.Helper()
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/members", nil))
	v, err := strconv.ParseUint(rec.Header().Get(viewVersionHeader), 10, 64)
	if err != nil {
		t.Fatalf("/members answered %d with version header %q", rec.Code, rec.Header().Get(viewVersionHeader))
	}
	return v
}

// headerSeen is a Change's version beside the header /members reported
// right after it was received.
type headerSeen struct{ change, header uint64 }

// headerErr checks that /members reported a Change's version unless
// another change of the view (an event in log, a record of every event)
// came between the two.
func headerErr(h headerSeen, log []Event) error {
	if h.header < h.change {
		return fmt.Errorf("/members reported version %d after a Change at %d", h.header, h.change)
	}
	if h.header == h.change {
		return nil
	}
	for _, ev := range log {
		if ev.Version > h.change && ev.Version <= h.header {
			return nil // the view moved on in between: nothing to compare
		}
	}
	return fmt.Errorf("/members reported version %d after a Change at %d, with no event in between", h.header, h.change)
}

// ownsNothing reports whether ev takes its member out of the owners for
// good in this life: a leave, a failure, or the update that says it is
// draining.
func ownsNothing(ev Event) bool { return ev.Gone() || ev.Member.State == StateDraining }

// goneOwners returns the lookups, over keys on every Table, that answer a
// member this node had seen go (leave, fail or drain) at or before the
// Table's version: the member's last event up to that version, in log (the
// node's events, in order per member), takes that life out of the owners
// (ownsNothing). Each gone member is named once.
func goneOwners(tables []*shard.Table, log []Event, keys int) []string {
	gone := func(name string, boot BootID, version uint64) (uint64, bool) {
		var last *Event
		for i := range log {
			if ev := &log[i]; ev.Member.Name == name && ev.Version <= version {
				last = ev
			}
		}
		if last != nil && ownsNothing(*last) && last.Member.Boot == boot {
			return last.Version, true
		}
		return 0, false
	}
	var out []string
	seen := map[string]bool{}
	for _, tb := range tables {
		for i := range keys {
			m, ok := tb.Owner("job-" + strconv.Itoa(i))
			if !ok || seen[m.Name] {
				continue
			}
			if at, ok := gone(m.Name, m.Boot, tb.Version()); ok {
				seen[m.Name] = true
				out = append(out, fmt.Sprintf("job-%d -> %s on the Table at version %d; it went at version %d", i, m.Name, tb.Version(), at))
			}
		}
	}
	return out
}

// TestOwnershipChecksCanFail: each check of the churn test catches what
// it is there to catch.
func TestOwnershipChecksCanFail(t *testing.T) {
	a := Member{Name: "a", Addr: "a:1", State: StateAlive, Boot: 1, Meta: map[string]string{"role": "worker"}}
	b := Member{Name: "b", Addr: "b:1", State: StateAlive, Boot: 2, Meta: map[string]string{"role": "worker"}}
	tr, err := shard.NewTracker([]Member{a, b}, 4, shard.WithFilter(shard.MetaEquals("role", "worker")))
	if err != nil {
		t.Fatal(err)
	}
	before := tr.Table()
	left := b
	left.State = StateLeft
	log := []Event{{Type: EventJoin, Member: b, Version: 3}, {Type: EventLeave, Member: left, Version: 5}}
	after, _ := tr.Apply(log[1])

	// A Table that still has b at b's leave is caught; the honest ones
	// are not.
	if got := goneOwners([]*shard.Table{before, after.Table}, log, 100); len(got) != 0 {
		t.Fatalf("honest Tables flagged: %v", got)
	}
	stale, _ := shard.NewTracker([]Member{a, b}, 6)
	if got := goneOwners([]*shard.Table{stale.Table()}, log, 100); len(got) != 1 {
		t.Fatalf("a Table at version 6 with b, gone at 5: %v, want one lookup flagged", got)
	}

	// A header ahead of a Change with no event between is caught.
	if headerErr(headerSeen{change: 5, header: 5}, log) != nil || headerErr(headerSeen{change: 3, header: 5}, log) != nil {
		t.Fatal("honest header flagged")
	}
	if headerErr(headerSeen{change: 5, header: 6}, log) == nil || headerErr(headerSeen{change: 5, header: 4}, log) == nil {
		t.Fatal("a header that disagrees with the Change passed")
	}

	// A Table that is not the view's workers is caught.
	if sameMembers(before.Members(), []Member{a}) || !sameMembers(after.Table.Members(), workers([]Member{a, left})) {
		t.Fatal("sameMembers/workers do not tell Tables apart")
	}
	moved := a
	moved.Addr = "elsewhere:1"
	if sameMembers([]Member{a}, []Member{moved}) {
		t.Fatal("sameMembers ignores the address")
	}
}

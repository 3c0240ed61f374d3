package shard

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

// tm is a member for the Tracker tests: alive, boot 1, meta from kv pairs.
func tm(name string, kv ...string) membership.Member {
	m := membership.Member{Name: name, Addr: name + ":7946", State: membership.StateAlive, Boot: 1, Meta: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Meta[kv[i]] = kv[i+1]
	}
	return m
}

func boot(m membership.Member, b membership.BootID) membership.Member { m.Boot = b; return m }

func at(typ membership.EventType, m membership.Member, v uint64) membership.Event {
	switch typ {
	case membership.EventLeave:
		m.State = membership.StateLeft
	case membership.EventFail:
		m.State = membership.StateFailed
	}
	return membership.Event{Type: typ, Member: m, Version: v}
}

// lives names members as name or name#boot when the boot is not 1.
func lives(ms []membership.Member) string {
	var out []string
	for _, m := range ms {
		s := m.Name
		if m.Boot != 1 {
			s += fmt.Sprintf("#%d", m.Boot)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// step is one event and what it must do: "" for no Change, or
// "v+added -removed" for a Change at version v.
type step struct {
	ev   membership.Event
	want string
}

func describe(c Change, ok bool) string {
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d+%s -%s", c.Version, lives(c.Added), lives(c.Removed))
}

var worker = WithFilter(MetaEquals("role", "worker"))

func TestTrackerApply(t *testing.T) {
	w := func(name string, kv ...string) membership.Member {
		return tm(name, append([]string{"role", "worker"}, kv...)...)
	}
	start := []membership.Member{w("a"), w("b"), tm("x", "role", "api")}
	for _, c := range []struct {
		name  string
		opts  []Option
		steps []step
	}{
		{"join and leave of owners", []Option{worker}, []step{
			{at(membership.EventJoin, w("c"), 11), "11+c -"},
			{at(membership.EventLeave, w("a"), 12), "12+ -a"},
			{at(membership.EventFail, w("b"), 13), "13+ -b"},
			{at(membership.EventJoin, w("a"), 14), "14+a -"},
		}},
		{"non-owners change nothing", []Option{worker}, []step{
			{at(membership.EventJoin, tm("y", "role", "api"), 11), ""},
			{at(membership.EventUpdate, tm("x", "role", "db"), 12), ""},
			{at(membership.EventFail, tm("x"), 13), ""},
			{at(membership.EventLeave, w("nobody"), 14), ""},
		}},
		{"meta moves a member in and out of the filter", []Option{worker}, []step{
			{at(membership.EventUpdate, tm("x", "role", "worker"), 11), "11+x -"},
			{at(membership.EventUpdate, tm("a", "role", "api"), 12), "12+ -a"},
			{at(membership.EventUpdate, w("b", "colour", "blue"), 13), ""}, // other meta of an owner
			{at(membership.EventUpdate, func() membership.Member { m := w("b", "colour", "blue"); m.Addr = "moved:1"; return m }(), 14), ""},
		}},
		{"weights", []Option{worker, WithWeightMeta("weight")}, []step{
			{at(membership.EventUpdate, w("a", "weight", "1"), 11), ""}, // absent weighs 1
			{at(membership.EventUpdate, w("a", "weight", "2"), 12), "12+a -a"},
			{at(membership.EventUpdate, w("a", "weight", "2.0"), 13), ""},
			{at(membership.EventUpdate, w("b", "weight", "2"), 14), "14+b -b"}, // now both 2: still a change of b
			{at(membership.EventUpdate, w("b", "weight", "heavy"), 15), "15+ -b"},
			{at(membership.EventUpdate, w("b", "weight", "3"), 16), "16+b -"},
		}},
		{"zones only with WithZoneMeta", []Option{worker, WithZoneMeta("zone")}, []step{
			{at(membership.EventUpdate, w("a", "zone", "z1"), 11), "11+a -a"},
			{at(membership.EventUpdate, w("a", "zone", "z1", "k", "v"), 12), ""},
		}},
		{"zone ignored without WithZoneMeta", []Option{worker}, []step{
			{at(membership.EventUpdate, w("a", "zone", "z1"), 11), ""},
		}},
		{"a state other than alive owns nothing", []Option{worker}, []step{
			{at(membership.EventUpdate, func() membership.Member { m := w("a"); m.State = membership.State(7); return m }(), 11), "11+ -a"},
			{at(membership.EventUpdate, w("a"), 12), "12+a -"},
		}},
		{"restart seen going", []Option{worker}, []step{
			{at(membership.EventFail, w("a"), 11), "11+ -a"},
			{at(membership.EventJoin, boot(w("a"), 2), 12), "12+a#2 -"},
		}},
		{"restart coalesced into one event", []Option{worker}, []step{
			{at(membership.EventJoin, boot(w("a"), 2), 12), "12+a#2 -a"},
		}},
		{"coalesced stream: versions skip and go back", nil, []step{
			{at(membership.EventJoin, w("c"), 19), "19+c -"},
			{at(membership.EventJoin, w("d"), 15), "19+d -"}, // older than c's, delivered after it
			{at(membership.EventUpdate, w("e"), 25), "25+e -"},
		}},
		{"events in the snapshot are ignored", nil, []step{
			{at(membership.EventLeave, w("a"), 9), ""},
			{at(membership.EventLeave, w("a"), 10), ""},
			{at(membership.EventLeave, w("a"), 11), "11+ -a"},
		}},
		{"events without a version", nil, []step{
			{at(membership.EventJoin, w("c"), 0), "10+c -"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTracker(start, 10, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			members := map[string]membership.Member{}
			for _, m := range start {
				members[m.Name] = m
			}
			if tr.Table().Version() != 10 {
				t.Fatalf("first Table at version %d, want 10", tr.Table().Version())
			}
			prev := tr.Table()
			for i, s := range c.steps {
				ch, ok := tr.Apply(s.ev)
				if got := describe(ch, ok); got != s.want {
					t.Fatalf("step %d (%s @%d): got %q, want %q", i, s.ev, s.ev.Version, got, s.want)
				}
				if s.ev.Version == 0 || s.ev.Version > 10 {
					if s.ev.Gone() {
						delete(members, s.ev.Member.Name)
					} else {
						members[s.ev.Member.Name] = s.ev.Member
					}
				}
				checkTracker(t, tr, members, c.opts)
				if ok {
					checkChange(t, prev, ch)
					prev = ch.Table
				}
			}
		})
	}
}

// checkTracker checks that the Tracker's Table is the Table New builds of
// the members, less those New would refuse for their weight or name.
func checkTracker(t *testing.T, tr *Tracker, members map[string]membership.Member, opts []Option) {
	t.Helper()
	var ms []membership.Member
	for _, m := range members {
		if _, err := New([]membership.Member{m}, opts...); err == nil {
			ms = append(ms, m)
		}
	}
	want := mustNew(t, ms, opts...)
	got := tr.Table()
	if !slices.EqualFunc(got.Members(), want.Members(), func(a, b membership.Member) bool {
		return a.Name == b.Name && sameMember(a, b)
	}) {
		t.Fatalf("Table %v, want %v", got.Members(), want.Members())
	}
	for i := range 200 {
		k := fmt.Sprintf("job-%d", i)
		if slices.Compare(names(got.Owners(k, 3, nil)), names(want.Owners(k, 3, nil))) != 0 {
			t.Fatalf("owners of %s: %v, want %v", k, names(got.Owners(k, 3, nil)), names(want.Owners(k, 3, nil)))
		}
	}
}

// checkChange fails t unless c is a good Change after prev (changeErr).
func checkChange(t *testing.T, prev *Table, c Change) {
	t.Helper()
	if err := changeErr(prev, c, 2000); err != nil {
		t.Fatal(err)
	}
}

// changeErr checks a Change against the Table before it: Added and
// Removed are sorted by name, and every one of keys keys that changed
// owners has a Removed member among its old owners or an Added one among
// its new (Owners of 2: of 3, a small Table's every member would be
// named).
func changeErr(prev *Table, c Change, keys int) error {
	if c.Table.Version() != c.Version {
		return fmt.Errorf("Change at %d with a Table at %d", c.Version, c.Table.Version())
	}
	for _, l := range [][]membership.Member{c.Added, c.Removed} {
		if !slices.IsSortedFunc(l, func(a, b membership.Member) int { return strings.Compare(a.Name, b.Name) }) {
			return fmt.Errorf("not sorted by name: %v", l)
		}
	}
	involved := map[string]bool{}
	for _, m := range append(slices.Clone(c.Added), c.Removed...) {
		involved[m.Name] = true
	}
	for i := range keys {
		k := fmt.Sprintf("job-%d", i)
		old, now := prev.Owners(k, 2, nil), c.Table.Owners(k, 2, nil)
		if slices.Compare(names(old), names(now)) == 0 {
			continue
		}
		if !slices.ContainsFunc(append(old, now...), func(m membership.Member) bool { return involved[m.Name] }) {
			return fmt.Errorf("%s moved from %v to %v, but the Change names only %v", k, names(old), names(now), involved)
		}
	}
	return nil
}

// The check of Changes can fail: a Change that drops a member without
// naming it, or names another one, is caught.
func TestChangeCheckCanFail(t *testing.T) {
	abc := mustNew(t, []membership.Member{tm("a"), tm("b"), tm("c"), tm("d"), tm("e"), tm("f")})
	ab := mustNew(t, []membership.Member{tm("a"), tm("b"), tm("d"), tm("e"), tm("f")})
	if changeErr(abc, Change{Table: ab}, 2000) == nil {
		t.Error("a Change naming no one passed")
	}
	if changeErr(abc, Change{Table: ab, Removed: []membership.Member{tm("a")}}, 2000) == nil {
		t.Error("a Change naming the wrong member passed")
	}
	added, removed := Diff(abc, ab)
	if err := changeErr(abc, Change{Table: ab, Added: added, Removed: removed}, 2000); err != nil || lives(removed) != "c" || added != nil {
		t.Errorf("Diff's Change: +%v -%v: %v", added, removed, err)
	}
}

func TestTrackerErrors(t *testing.T) {
	if _, err := NewTracker(nil, 0, WithWeightMeta("")); err == nil || !strings.Contains(err.Error(), "WithWeightMeta: empty") {
		t.Errorf("bad option: %v", err)
	}
	if _, err := NewTracker(nil, 0, nil); err == nil || !strings.Contains(err.Error(), "option 0 is nil") {
		t.Errorf("nil option: %v", err)
	}
	dup := []membership.Member{tm("a"), tm("b"), tm("a")}
	if _, err := NewTracker(dup, 0); err == nil || !strings.Contains(err.Error(), `member "a" appears twice`) {
		t.Errorf("duplicate: %v", err)
	}
	tr, err := NewTracker([]membership.Member{tm("a", "w", "x"), tm("b"), tm("", "w", "2")}, 1, WithWeightMeta("w"))
	if err != nil {
		t.Fatalf("a bad weight must not fail NewTracker: %v", err)
	}
	if got := lives(tr.Table().Members()); got != "b" {
		t.Errorf("owners %q, want b alone", got)
	}
	errs := fmt.Sprint(tr.Errors())
	for _, want := range []string{`member at ":7946" has an empty name`, `member "a": weight w="x" is not a number`} {
		if !strings.Contains(errs, want) {
			t.Errorf("Errors() = %s, missing %q", errs, want)
		}
	}
	if _, _, err := tr.Sync(dup, 2); err == nil || !strings.Contains(err.Error(), `member "a" appears twice`) {
		t.Errorf("Sync of a duplicate: %v", err)
	}
	if tr.Version() != 1 || tr.Table().Len() != 1 {
		t.Errorf("a failed Sync changed the Tracker: version %d, %d owners", tr.Version(), tr.Table().Len())
	}
}

// TestTrackerSync: a snapshot gives the Change from the last one, the same
// as the events that lead to it would in sum, and a Table at its version.
func TestTrackerSync(t *testing.T) {
	tr, err := NewTracker([]membership.Member{tm("a"), tm("b"), tm("c")}, 3, worker)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Table().Len() != 0 {
		t.Fatalf("no worker, yet %d owners", tr.Table().Len())
	}
	w := func(name string) membership.Member { return tm(name, "role", "worker") }
	for _, s := range []struct {
		members []membership.Member
		version uint64
		want    string
	}{
		{[]membership.Member{w("a"), w("b"), tm("c")}, 5, "5+a b -"},
		{[]membership.Member{w("a"), w("b"), tm("c"), tm("d")}, 6, ""},
		{[]membership.Member{boot(w("a"), 2), w("c")}, 9, "9+a#2 c -a b"},
		{[]membership.Member{boot(w("a"), 2), w("c")}, 10, ""},
	} {
		prev := tr.Table()
		ch, ok, err := tr.Sync(s.members, s.version)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(ch, ok); got != s.want {
			t.Fatalf("Sync at %d: got %q, want %q", s.version, got, s.want)
		}
		if ok {
			checkChange(t, prev, ch)
		}
		if tr.Version() != s.version {
			t.Fatalf("Version %d after a Sync at %d", tr.Version(), s.version)
		}
	}
	// Events from before the last snapshot are in it.
	if ch, ok := tr.Apply(at(membership.EventFail, w("c"), 10)); ok {
		t.Fatalf("an event at the snapshot's version made a Change: %v", ch)
	}
	// An owner's address changes no owner, but the Table follows it, at
	// the version of the Sync that brought it.
	moved := w("c")
	moved.Addr = "elsewhere:1"
	if ch, ok, _ := tr.Sync([]membership.Member{boot(w("a"), 2), moved}, 12); ok {
		t.Fatalf("an address made a Change: %v", describe(ch, ok))
	}
	if ms := tr.Table().Members(); len(ms) != 2 || ms[1].Name != "c" || ms[1].Addr != "elsewhere:1" {
		t.Fatalf("Table %v, want c at elsewhere:1", ms)
	}
	if got := tr.Table().Version(); got != 12 {
		t.Fatalf("Table at %d, want 12", got)
	}
}

// TestTrackerApplyAgreesWithSync: over random churn (joins, leaves,
// restarts, filter, weight and zone changes), a Tracker fed events and one
// fed a snapshot after each event report the same Changes, and their
// Changes move only keys of the members they name.
func TestTrackerApplyAgreesWithSync(t *testing.T) {
	opts := []Option{worker, WithWeightMeta("w"), WithZoneMeta("z")}
	rng := uint64(42)
	next := func(n int) int { // SplitMix64: the same run everywhere
		rng += 0x9e3779b97f4a7c15
		return int(mix(rng) % uint64(n))
	}
	random := func(name string) membership.Member {
		m := tm(name, "role", []string{"worker", "worker", "api"}[next(3)], "z", []string{"z1", "z2"}[next(2)])
		if next(3) == 0 {
			m.Meta["w"] = []string{"1", "2", "0.5", "bad"}[next(4)]
		}
		m.Boot = membership.BootID(1 + next(2))
		return m
	}
	members := map[string]membership.Member{}
	byEvents, _ := NewTracker(nil, 0, opts...)
	bySync, _ := NewTracker(nil, 0, opts...)
	prev := byEvents.Table()
	changes := 0
	for v := uint64(1); v <= 1000; v++ {
		name := fmt.Sprintf("m%d", next(12))
		var ev membership.Event
		if _, ok := members[name]; ok && next(4) == 0 {
			ev = at([]membership.EventType{membership.EventLeave, membership.EventFail}[next(2)], members[name], v)
			delete(members, name)
		} else {
			ev = at(membership.EventUpdate, random(name), v)
			members[name] = ev.Member
		}
		c1, ok1 := byEvents.Apply(ev)
		snap := make([]membership.Member, 0, len(members))
		for _, m := range members {
			snap = append(snap, m)
		}
		c2, ok2, err := bySync.Sync(snap, v)
		if err != nil {
			t.Fatal(err)
		}
		if d1, d2 := describe(c1, ok1), describe(c2, ok2); d1 != d2 {
			t.Fatalf("event %d (%s): Apply %q, Sync %q", v, ev, d1, d2)
		}
		if ok1 {
			changes++
			if err := changeErr(prev, c1, 200); err != nil {
				t.Fatalf("event %d (%s): %v", v, ev, err)
			}
			prev = c1.Table
		}
		if v%100 == 0 {
			checkTracker(t, byEvents, members, opts)
		}
	}
	if changes < 250 {
		t.Fatalf("only %d Changes in 1000 events: the churn does not exercise the Tracker", changes)
	}
}

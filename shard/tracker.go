package shard

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gencluster/gencluster/membership"
)

// Change is a change of the owning set: members that began or ceased to
// own keys, or whose part in ownership changed (weight, zone, life).
type Change struct {
	// Version is the membership view's version the change brought the
	// owners to (Table.Version): the number /members reports in its
	// Gencluster-View-Version header when nothing changed since.
	Version uint64
	// Table is the Table after the change.
	Table *Table
	// Added and Removed are Diff(previous, Table), where previous is the
	// Table of the Change before this one: the members that own keys now
	// and did not (as they are now), and those that owned keys and do
	// not (as they were). A member whose weight, zone or Boot changed is
	// in both. Each is sorted by name. Only keys whose owners included a
	// Removed member, or include an Added one, changed owners.
	Added, Removed []membership.Member
}

// Tracker follows a membership stream (a snapshot, then events) and
// reports the changes of the owning set: it is Node.Ownership's state
// machine, without the Node. It is a value with no goroutine; use it from
// one goroutine at a time.
//
// Feed it events in the order a Node's Events or Subscribe delivers them
// (each member's events in order). A stream that coalesced (its reader
// fell behind) is fine: a member's merged event holds its latest state
// and version, and the owners the Tracker reports are those of the
// members it has been told about. While such a stream catches up, though,
// events of different members may arrive out of version order, so the
// Tracker's members may for a moment be a mix that the view never held at
// any one version; a Change's Version is then the highest version
// applied. Sync with a snapshot of the view and its version (as
// Node.Ownership does after each batch of events) to be exact.
//
// A member restarted under its name (another Boot) is a Change, removed
// as its old life and added as its new one, whether the stream shows the
// old life going (a fail, then a join) or, coalesced, only the new life:
// its keys stay the same (they follow the name), but a new process holds
// none of what the old one held, and the outcome must not depend on how
// far a reader lagged. A member that is not StateAlive (failed, left, or
// any state a later version adds, such as draining) owns nothing.
type Tracker struct {
	c       *config
	members map[string]tracked
	last    *Table // the Table of the last Change, or the first one
	cur     *Table // the freshest Table; nil when an owner changed since it was built in a way that moves no key
	version uint64 // the highest version applied
	floor   uint64 // the version of the last snapshot: events at or below it are in it
}

// tracked is a member as the Tracker holds it.
type tracked struct {
	m   membership.Member
	own ownership
	err error // why m, alive and accepted by the filters, owns nothing
}

// ownership is what of a member decides which keys it owns. Two members
// of one name with the same ownership own the same keys (Diff's test).
type ownership struct {
	owns   bool
	boot   membership.BootID
	weight float64
	zone   string
}

// NewTracker returns a Tracker that starts from members at version (the
// view's version of that snapshot; 0 when unknown). It fails on bad
// options, with the error New would give, and on two members of one
// name. A member that cannot own keys as published (an invalid weight,
// an empty name) does not fail it: that member owns nothing, on every
// node alike, and Errors says why; the others go on owning keys.
func NewTracker(members []membership.Member, version uint64, opts ...Option) (*Tracker, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	t := &Tracker{c: c, version: version, floor: version}
	if t.members, err = t.trackAll(members); err != nil {
		return nil, err
	}
	t.last = t.rebuild()
	t.cur = t.last
	return t, nil
}

// trackAll returns members by name, reusing what t knows of a member that
// did not change.
func (t *Tracker) trackAll(members []membership.Member) (map[string]tracked, error) {
	out := make(map[string]tracked, len(members))
	for _, m := range members {
		if _, dup := out[m.Name]; dup {
			return nil, fmt.Errorf("shard: member %q appears twice", m.Name)
		}
		if prev, ok := t.members[m.Name]; ok && sameMember(prev.m, m) {
			out[m.Name] = prev
			continue
		}
		out[m.Name] = t.track(m)
	}
	return out, nil
}

// track decides m's part in ownership, once per change of m (the filters
// run here, not on every lookup).
func (t *Tracker) track(m membership.Member) tracked {
	tr := tracked{m: m.Clone()}
	if !t.c.owns(m) {
		return tr
	}
	if m.Name == "" {
		tr.err = fmt.Errorf("shard: member at %q has an empty name", m.Addr)
		return tr
	}
	own := ownership{owns: true, boot: m.Boot, weight: 1}
	if t.c.weightMeta != "" {
		w, err := parseWeight(m, t.c.weightMeta)
		if err != nil {
			tr.err = err
			return tr
		}
		own.weight = w
	}
	if t.c.zoneMeta != "" {
		own.zone = m.Meta[t.c.zoneMeta]
	}
	tr.own = own
	return tr
}

// sameMember reports whether a and b look the same to a user (the
// view's test for a change).
func sameMember(a, b membership.Member) bool {
	return a.Addr == b.Addr && a.State == b.State && a.Boot == b.Boot && maps.Equal(a.Meta, b.Meta)
}

// Apply applies one event and returns the Change it makes, if the owning
// set changed. An event of a member that owns no keys before or after it,
// or an update of an owner that leaves its weight, zone and Boot alone
// (its address, other metadata), is no Change; Table follows it all the
// same. An event whose Version is not above the last snapshot's (given to
// NewTracker or Sync) is in that snapshot already and is ignored; an
// event without a Version (0) is always applied and leaves Version where
// it is.
func (t *Tracker) Apply(ev membership.Event) (Change, bool) {
	if ev.Version != 0 && ev.Version <= t.floor {
		return Change{}, false
	}
	t.version = max(t.version, ev.Version)
	name := ev.Member.Name
	old, had := t.members[name]
	var now tracked
	if ev.Gone() {
		delete(t.members, name)
	} else {
		now = t.track(ev.Member)
		t.members[name] = now
	}
	if old.own == now.own {
		if now.own.owns && (!had || !sameMember(old.m, now.m)) {
			t.cur = nil // an owner's address or metadata: Table rebuilds
		}
		return Change{}, false
	}
	return t.change()
}

// Sync replaces the Tracker's members with members, a snapshot of the
// view at version (Node.Members with the version /members reports), and
// returns the Change from the last one to it, if the owning set changed.
// Events at or below version are ignored from then on. Two members of
// one name are an error, and change nothing.
func (t *Tracker) Sync(members []membership.Member, version uint64) (Change, bool, error) {
	next, err := t.trackAll(members)
	if err != nil {
		return Change{}, false, err
	}
	changed, fresh := false, t.cur != nil
	for name, n := range next {
		o, had := t.members[name]
		if o.own != n.own {
			changed = true
		}
		if n.own.owns && (!had || !sameMember(o.m, n.m)) {
			fresh = false
		}
	}
	for name, o := range t.members {
		if _, ok := next[name]; !ok && o.own.owns {
			changed = true
		}
	}
	t.members, t.version, t.floor = next, version, version
	if !changed {
		if !fresh {
			t.cur = nil
		}
		return Change{}, false, nil
	}
	c, ok := t.change()
	return c, ok, nil
}

// change rebuilds the Table after a change of an owner's part in
// ownership, and returns it as a Change from the last one.
func (t *Tracker) change() (Change, bool) {
	tb := t.rebuild()
	t.cur = tb
	added, removed := Diff(t.last, tb)
	if len(added) == 0 && len(removed) == 0 {
		return Change{}, false // back to the last Change's owners
	}
	t.last = tb
	return Change{Version: t.version, Table: tb, Added: added, Removed: removed}, true
}

// rebuild builds the Table of the members that own keys, at t.version.
func (t *Tracker) rebuild() *Table {
	owners := make([]membership.Member, 0, len(t.members))
	for _, tr := range t.members {
		if tr.own.owns {
			owners = append(owners, tr.m)
		}
	}
	tb, err := t.c.build(owners, t.version)
	if err != nil {
		// Unreachable: track admitted only members New accepts (a
		// name, a valid weight), and names are the map's keys.
		panic("shard: Tracker: " + err.Error())
	}
	return tb
}

// Table returns the freshest Table: the owners of the members applied so
// far, with their latest addresses and metadata, at the version of its
// last rebuild. It is the last Change's Table unless an owner changed
// since in a way that moves no key (then it is rebuilt, once).
func (t *Tracker) Table() *Table {
	if t.cur == nil {
		t.cur = t.rebuild()
	}
	return t.cur
}

// Version returns the highest version applied: the last snapshot's, or
// a later event's.
func (t *Tracker) Version() uint64 { return t.version }

// Errors returns, sorted by member name, why each member that is alive
// and accepted by the filters owns no keys: its weight is not valid, or
// its name is empty. Nil when there is none.
func (t *Tracker) Errors() []error {
	var names []string
	for name, tr := range t.members {
		if tr.err != nil {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, strings.Compare)
	var out []error
	for _, name := range names {
		out = append(out, t.members[name].err)
	}
	return out
}

// Package view is a Node's membership view: the live members that the
// membership events add up to, and a version that advances with every
// change. It is the only copy of the live set in a Node: the Dist's
// events are applied to it, and Members, Ready, the metrics, the handler,
// the subscribers' snapshots and the gossip adapter's own decisions (is
// this name live, did this update change anything) all read it, so they
// cannot disagree.
package view

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/gencluster/gencluster/membership"
)

// View is the live members by name, with a version. Its methods are safe
// for concurrent use. Publish may be called from memberlist's callbacks
// (under its node lock): it only takes the view's own lock and calls the
// listener, which must not block.
type View struct {
	listener func(membership.Event) // called under mu for every change

	mu      sync.Mutex
	members table // by name: one entry per member (see table)
	version uint64
}

// New returns an empty view. listener, if not nil, is called with every
// event that changes the view, in order, with the view's lock held (so
// that Watch can register for exactly the changes after a snapshot): it
// must not block and must not call back into the view.
func New(listener func(membership.Event)) *View {
	return &View{listener: listener, members: newTable()}
}

// Publish applies ev and reports whether it changed the view: a join or
// update of a member whose name, address, state, metadata and boot id
// are already in the view changes nothing, nor does the removal of a
// member the view does not hold. An event that changes nothing is
// dropped (the listener does not see it, the version stays); any other
// advances the version by one and goes to the listener.
func (v *View) Publish(ev membership.Event) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.applyLocked(ev)
}

func (v *View) applyLocked(ev membership.Event) bool {
	old, ok := v.members.get(ev.Member.Name)
	if ev.Gone() {
		if !ok {
			return false
		}
		v.members.remove(ev.Member.Name)
	} else {
		if ok && same(old, ev.Member) {
			return false
		}
		v.members.put(ev.Member.Clone()) // the view's own copy
	}
	v.version++
	// The event carries the version it brought the view to, so that a
	// subscriber can tell which view its state matches (the version
	// /members reports).
	ev.Version = v.version
	if v.listener != nil {
		// The listener's copy shares no map with the view or the
		// publisher (the hub copies it again for every further
		// subscriber, so each may keep or change what it receives).
		ev.Member = ev.Member.Clone()
		v.listener(ev)
	}
	return true
}

// same reports whether a and b look the same to a user.
func same(a, b membership.Member) bool {
	return a.Addr == b.Addr && a.State == b.State && a.Boot == b.Boot && maps.Equal(a.Meta, b.Meta)
}

// Sync publishes, under one lock, the events that turn the view into
// members: EventFail for each member missing from it (a source that only
// lists members cannot tell a leave from a failure), EventJoin for each
// new one, EventUpdate for each changed one, in name order. It serves a
// Dist that does not report events itself.
func (v *View) Sync(members []membership.Member) {
	cur := make(map[string]membership.Member, len(members))
	for _, m := range members {
		cur[m.Name] = m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var evs []membership.Event
	for _, old := range v.members.members {
		if _, ok := cur[old.Name]; !ok {
			old.State = membership.StateFailed
			evs = append(evs, membership.Event{Type: membership.EventFail, Member: old})
		}
	}
	for name, m := range cur {
		old, ok := v.members.get(name)
		switch {
		case !ok:
			evs = append(evs, membership.Event{Type: membership.EventJoin, Member: m})
		case !same(old, m):
			evs = append(evs, membership.Event{Type: membership.EventUpdate, Member: m})
		}
	}
	slices.SortFunc(evs, func(a, b membership.Event) int { return strings.Compare(a.Member.Name, b.Member.Name) })
	for _, ev := range evs {
		v.applyLocked(ev)
	}
}

// Member returns the live member called name. Its Meta map is the view's:
// the caller must not modify it (Clone it to keep or change it).
func (v *View) Member(name string) (membership.Member, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.members.get(name)
}

// Members returns a copy of the live members, sorted by name.
func (v *View) Members() []membership.Member {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.snapshotLocked()
}

// Snapshot returns a copy of the live members, sorted by name, and the
// version they are at, read together.
func (v *View) Snapshot() ([]membership.Member, uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.snapshotLocked(), v.version
}

func (v *View) snapshotLocked() []membership.Member {
	out := make([]membership.Member, 0, v.members.len())
	for _, m := range v.members.members {
		out = append(out, m.Clone())
	}
	slices.SortFunc(out, func(a, b membership.Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Watch calls f with a snapshot of the members (sorted by name) and its
// version while holding the view's lock, so that what f registers with
// the listener receives exactly the changes after that snapshot. f must
// not block and must not call back into the view.
func (v *View) Watch(f func(snapshot []membership.Member, version uint64)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f(v.snapshotLocked(), v.version)
}

// Len returns the number of live members.
func (v *View) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.members.len()
}

// Others reports whether a live member other than the one called self
// is in the view.
func (v *View) Others(self string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.members.len()
	if _, ok := v.members.get(self); ok {
		n--
	}
	return n > 0
}

// Version returns the view's version: 0 for the empty view it starts as,
// then one more for every event that changed it (a member joined, left
// or failed, or its address, state, metadata or boot id changed). Two
// reads that return the same version saw the same members.
func (v *View) Version() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.version
}

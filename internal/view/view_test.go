package view

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

func member(name, addr string, meta map[string]string) membership.Member {
	return membership.Member{Name: name, Addr: addr, State: membership.StateAlive, Meta: meta, Boot: 1}
}

func ev(t membership.EventType, m membership.Member) membership.Event {
	if t == membership.EventFail {
		m.State = membership.StateFailed
	}
	if t == membership.EventLeave {
		m.State = membership.StateLeft
	}
	return membership.Event{Type: t, Member: m}
}

// recorder is a listener that keeps what it was told.
type recorder struct {
	mu  sync.Mutex
	evs []membership.Event
}

func (r *recorder) add(e membership.Event) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() }

func (r *recorder) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		out = append(out, e.Type.String()+" "+e.Member.Name)
	}
	return strings.Join(out, ",")
}

// TestVersionAdvancesOnEveryChange: each change of the live set or of a
// member (address, metadata, boot id) advances the version by one and
// reaches the listener; an event that changes nothing does neither.
func TestVersionAdvancesOnEveryChange(t *testing.T) {
	r := &recorder{}
	v := New(r.add)
	if got := v.Version(); got != 0 {
		t.Fatalf("empty view at version %d, want 0", got)
	}
	a := member("a", "10.0.0.1:7946", map[string]string{"k": "1"})
	moved := a
	moved.Addr = "10.0.0.9:7946"
	meta := moved
	meta.Meta = map[string]string{"k": "2"}
	reborn := meta
	reborn.Boot = 2
	steps := []struct {
		ev      membership.Event
		changes bool
	}{
		{ev(membership.EventJoin, a), true},
		{ev(membership.EventJoin, a), false},   // the same member again
		{ev(membership.EventUpdate, a), false}, // a refuted suspicion: nothing a user sees
		{ev(membership.EventUpdate, moved), true},
		{ev(membership.EventUpdate, meta), true},
		{ev(membership.EventUpdate, reborn), true},
		{ev(membership.EventFail, reborn), true},
		{ev(membership.EventFail, reborn), false},                                            // not in the view any more
		{ev(membership.EventLeave, member("b", "10.0.0.2:7946", nil)), false},                // never in it
		{ev(membership.EventUpdate, member("b", "10.0.0.2:7946", nil)), true},                // an update adds
		{ev(membership.EventLeave, member("b", "10.0.0.2:7946", map[string]string{})), true}, // removal by name
	}
	want := uint64(0)
	for i, s := range steps {
		if got := v.Publish(s.ev); got != s.changes {
			t.Fatalf("step %d (%s %s): Publish = %v, want %v", i, s.ev.Type, s.ev.Member.Name, got, s.changes)
		}
		if s.changes {
			want++
		}
		if got := v.Version(); got != want {
			t.Fatalf("step %d: version %d, want %d", i, got, want)
		}
	}
	// Events are passed on as published: the update that added b stays
	// an update.
	if got, w := r.summary(), "join a,update a,update a,update a,fail a,update b,leave b"; got != w {
		t.Fatalf("listener saw %s, want %s", got, w)
	}
	if v.Len() != 0 {
		t.Fatalf("%d members left, want 0", v.Len())
	}
}

// TestViewOwnsItsCopies: neither the publisher nor the listener shares a
// map with what the view stores, and Members returns copies.
func TestViewOwnsItsCopies(t *testing.T) {
	var got membership.Event
	v := New(func(e membership.Event) { got = e })
	meta := map[string]string{"k": "v"}
	v.Publish(ev(membership.EventJoin, member("a", "10.0.0.1:7946", meta)))
	meta["k"] = "publisher"
	got.Member.Meta["k"] = "listener"
	v.Members()[0].Meta["k"] = "reader"
	m, _ := v.Member("a")
	if m.Meta["k"] != "v" {
		t.Fatalf("stored meta %v, want k=v", m.Meta)
	}
}

// TestSync: a list of members turns into the events that lead the view
// to it, in name order, under one lock; a second Sync of the same list
// changes nothing.
func TestSync(t *testing.T) {
	r := &recorder{}
	v := New(r.add)
	v.Publish(ev(membership.EventJoin, member("a", "10.0.0.1:7946", nil)))
	v.Publish(ev(membership.EventJoin, member("b", "10.0.0.2:7946", nil)))
	list := []membership.Member{member("c", "10.0.0.3:7946", nil), member("b", "10.0.0.2:7946", map[string]string{"k": "v"})}
	v.Sync(list)
	if got, want := r.summary(), "join a,join b,fail a,update b,join c"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	ver := v.Version()
	v.Sync(list)
	if v.Version() != ver {
		t.Fatalf("a Sync that changes nothing moved the version from %d to %d", ver, v.Version())
	}
	ms, sv := v.Snapshot()
	if len(ms) != 2 || ms[0].Name != "b" || ms[1].Name != "c" || sv != ver {
		t.Fatalf("snapshot %v at %d, want b, c at %d", ms, sv, ver)
	}
}

// TestWatchSeesNoGap: a registration made inside Watch gets exactly the
// changes after the snapshot it was given, while another goroutine
// publishes: snapshot plus changes always add up to the final view.
func TestWatchSeesNoGap(t *testing.T) {
	var mu sync.Mutex
	var sink func(membership.Event)
	v := New(func(e membership.Event) {
		mu.Lock()
		defer mu.Unlock()
		if sink != nil {
			sink(e)
		}
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 2000 {
			name := string(rune('a' + i%7))
			if i%3 == 0 {
				v.Publish(ev(membership.EventFail, member(name, "x", nil)))
			} else {
				v.Publish(ev(membership.EventJoin, member(name, "x", map[string]string{"i": string(rune(i))})))
			}
		}
	})
	live := map[string]bool{}
	var at uint64
	seen := 0
	v.Watch(func(snap []membership.Member, version uint64) {
		for _, m := range snap {
			live[m.Name] = true
		}
		at = version
		mu.Lock()
		sink = func(e membership.Event) {
			seen++
			if e.Gone() {
				delete(live, e.Member.Name)
			} else {
				live[e.Member.Name] = true
			}
		}
		mu.Unlock()
	})
	wg.Wait()
	final, version := v.Snapshot()
	mu.Lock()
	defer mu.Unlock()
	if uint64(seen) != version-at {
		t.Fatalf("saw %d changes after version %d, the view is at %d", seen, at, version)
	}
	if len(final) != len(live) {
		t.Fatalf("snapshot plus changes: %v, view: %v", live, final)
	}
	for _, m := range final {
		if !live[m.Name] {
			t.Fatalf("snapshot plus changes: %v, view: %v", live, final)
		}
	}
}

// TestOthers: whether anyone but self is live.
func TestOthers(t *testing.T) {
	v := New(nil)
	if v.Others("me") {
		t.Fatal("empty view has others")
	}
	v.Publish(ev(membership.EventJoin, member("me", "x", nil)))
	if v.Others("me") {
		t.Fatal("a view of self alone has others")
	}
	v.Publish(ev(membership.EventJoin, member("b", "y", nil)))
	if !v.Others("me") || !v.Others("nobody") {
		t.Fatal("b is not counted")
	}
}

// TestEventCarriesTheVersion: the listener sees each change with the
// version the view is at once it is applied, from Publish and from Sync.
func TestEventCarriesTheVersion(t *testing.T) {
	var got []uint64
	v := New(func(e membership.Event) {
		got = append(got, e.Version)
	})
	v.Publish(ev(membership.EventJoin, member("a", "10.0.0.1:7946", nil)))
	v.Publish(ev(membership.EventJoin, member("a", "10.0.0.1:7946", nil))) // no change, no event
	v.Publish(ev(membership.EventJoin, member("b", "10.0.0.2:7946", nil)))
	v.Sync([]membership.Member{member("b", "10.0.0.2:7946", map[string]string{"k": "v"}), member("c", "10.0.0.3:7946", nil)})
	if s := fmt.Sprint(got); s != "[1 2 3 4 5]" {
		t.Fatalf("versions %s, want [1 2 3 4 5]", s)
	}
	if v.Version() != 5 {
		t.Fatalf("view at %d, want 5", v.Version())
	}
}

package view

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

// TestTableMatchesMap drives the table and a Go map with the same random
// puts and removes (growing to hundreds of members, shrinking to a few,
// growing again) and checks after every step that both hold the same
// members and that the index finds every one.
func TestTableMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := newTable()
	ref := map[string]membership.Member{}
	check := func(step int) {
		t.Helper()
		if tab.len() != len(ref) {
			t.Fatalf("step %d: %d members, want %d", step, tab.len(), len(ref))
		}
		if n := len(tab.slots); n != 0 && (n&(n-1) != 0 || 4*tab.len() > 3*n) {
			t.Fatalf("step %d: %d slots for %d members", step, n, tab.len())
		}
		for name, want := range ref {
			got, ok := tab.get(name)
			if !ok || got.Addr != want.Addr {
				t.Fatalf("step %d: get(%s) = %v, %v; want %v", step, name, got, ok, want)
			}
		}
		used := 0
		for _, p := range tab.slots {
			if p != 0 {
				used++
			}
		}
		if used != len(ref) {
			t.Fatalf("step %d: %d slots used for %d members", step, used, len(ref))
		}
	}
	step := 0
	for _, phase := range []struct{ names, ops, putPct int }{
		{500, 3000, 80}, // grow
		{500, 3000, 5},  // shrink to few
		{50, 2000, 50},  // churn
		{700, 4000, 70}, // grow again
	} {
		for range phase.ops {
			step++
			name := fmt.Sprintf("n%d", rng.IntN(phase.names))
			if rng.IntN(100) < phase.putPct {
				m := membership.Member{Name: name, Addr: fmt.Sprint(step)}
				tab.put(m)
				ref[name] = m
			} else {
				_, want := ref[name]
				if got := tab.remove(name); got != want {
					t.Fatalf("step %d: remove(%s) = %v, want %v", step, name, got, want)
				}
				delete(ref, name)
			}
			if step%97 == 0 || len(ref) < 20 {
				check(step)
			}
		}
		check(step)
	}
	if _, ok := tab.get("absent"); ok {
		t.Error("get of an absent name succeeded")
	}
}

// An empty table answers lookups and removals without an index.
func TestTableEmpty(t *testing.T) {
	tab := newTable()
	if _, ok := tab.get("a"); ok {
		t.Error("get on an empty table succeeded")
	}
	if tab.remove("a") {
		t.Error("remove on an empty table succeeded")
	}
}

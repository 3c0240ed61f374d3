package shard

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

// Two Tables built from the same members in different orders (as two
// nodes see them) give every key the same owners.
func TestDeterministicAcrossOrder(t *testing.T) {
	fill := func(i int, meta map[string]string) {
		meta["zone"] = fmt.Sprintf("z%d", i%3)
		meta["weight"] = fmt.Sprint(1 + i%4)
	}
	ms := alive(50, fill)
	shuffled := slices.Clone(ms)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	opts := []Option{WithWeightMeta("weight"), WithZoneMeta("zone")}
	a, b := mustNew(t, ms, opts...), mustNew(t, shuffled, opts...)
	var da, db []membership.Member
	for k := range 20000 {
		key := fmt.Sprintf("job-%d", k)
		oa, _ := a.Owner(key)
		ob, _ := b.Owner(key)
		if oa.Name != ob.Name {
			t.Fatalf("key %q: owner %s in one Table, %s in the other", key, oa.Name, ob.Name)
		}
		da, db = a.Owners(key, 5, da[:0]), b.Owners(key, 5, db[:0])
		if strings.Join(names(da), ",") != strings.Join(names(db), ",") {
			t.Fatalf("key %q: Owners %v and %v", key, names(da), names(db))
		}
	}
}

// Owners(key, n)[0] is Owner(key), the n members are distinct, n beyond
// Len gives every member, n <= 0 none, bytes and strings agree, and the
// selection (at most 2n candidates kept) agrees with the obvious sort of
// every member, with and without weights and zones, for n on the stack
// and beyond it.
func TestOwnersAgreeWithReference(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		fill func(i int, meta map[string]string)
		opts []Option
	}{
		{"plain", 40, nil, nil},
		{"weights", 40, func(i int, m map[string]string) { m["w"] = fmt.Sprint(0.5 + float64(i%5)) }, []Option{WithWeightMeta("w")}},
		{"zones", 40, func(i int, m map[string]string) { m["az"] = fmt.Sprintf("az-%d", i%3) }, []Option{WithZoneMeta("az")}},
		{"uneven zones and weights", 70, func(i int, m map[string]string) {
			m["az"] = fmt.Sprintf("az-%d", min(i%7, 3)) // az-3 holds 4 of every 7 members
			m["w"] = fmt.Sprint(1 + i%3)
		}, []Option{WithZoneMeta("az"), WithWeightMeta("w")}},
		{"a zone per member", 12, func(i int, m map[string]string) { m["host"] = fmt.Sprint(i) }, []Option{WithZoneMeta("host")}},
	} {
		tb := mustNew(t, alive(c.n, c.fill), c.opts...)
		var dst []membership.Member
		for k := range 300 {
			key := fmt.Sprintf("job-%d", k)
			h := hashKey(key)
			owner, ok := tb.Owner(key)
			if ob, _ := tb.OwnerBytes([]byte(key)); !ok || ob.Name != owner.Name {
				t.Fatalf("%s: Owner %v, OwnerBytes %v", c.name, owner, ob)
			}
			for _, n := range []int{-1, 0, 1, 2, 3, 7, 32, 33, c.n - 1, c.n, c.n + 5} {
				dst = tb.Owners(key, n, dst[:0])
				got := names(dst)
				want := referenceOwners(tb, h, n)
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Fatalf("%s key %q n=%d: Owners = %v, reference = %v", c.name, key, n, got, want)
				}
				if wantLen := max(0, min(n, c.n)); len(got) != wantLen {
					t.Fatalf("%s n=%d: %d owners, want %d", c.name, n, len(got), wantLen)
				}
				if n > 0 && got[0] != owner.Name {
					t.Fatalf("%s key %q: Owners[0] = %s, Owner = %s", c.name, key, got[0], owner.Name)
				}
				seen := map[string]bool{}
				for _, name := range got {
					if seen[name] {
						t.Fatalf("%s key %q n=%d: %s twice in %v", c.name, key, n, name, got)
					}
					seen[name] = true
				}
				if b := names(tb.OwnersBytes([]byte(key), n, nil)); strings.Join(b, ",") != strings.Join(got, ",") {
					t.Fatalf("%s: OwnersBytes %v, Owners %v", c.name, b, got)
				}
			}
		}
	}
}

// Owners appends: what dst held stays in front.
func TestOwnersAppends(t *testing.T) {
	tb := mustNew(t, alive(5, nil))
	dst := tb.Owners("job-1", 2, []membership.Member{{Name: "first"}})
	if len(dst) != 3 || dst[0].Name != "first" {
		t.Fatalf("Owners appended to dst = %v", names(dst))
	}
	if o, _ := tb.Owner("job-1"); dst[1].Name != o.Name {
		t.Errorf("dst[1] = %s, want the owner %s", dst[1].Name, o.Name)
	}
}

// With zones, Owners takes one member of each zone before a second of
// any, and two of each (or all a zone has) before a third.
func TestZoneSpread(t *testing.T) {
	// az-a has 6 members, az-b 3, az-c 1.
	zoneOf := func(i int) string {
		switch {
		case i < 6:
			return "az-a"
		case i < 9:
			return "az-b"
		}
		return "az-c"
	}
	tb := mustNew(t, alive(10, func(i int, m map[string]string) { m["zone"] = zoneOf(i) }), WithZoneMeta("zone"))
	var dst []membership.Member
	for k := range 5000 {
		dst = tb.Owners(fmt.Sprintf("job-%d", k), 10, dst[:0])
		count := map[string]int{}
		for j, m := range dst {
			z := m.Meta["zone"]
			count[z]++
			// After j+1 picks, no zone may have two more than a zone
			// that still has members left to give.
			for _, other := range []string{"az-a", "az-b", "az-c"} {
				size := map[string]int{"az-a": 6, "az-b": 3, "az-c": 1}[other]
				if count[other] < size && count[z] > count[other]+1 {
					t.Fatalf("job-%d: after %d picks %v, zone %s has %d while %s has %d of %d", k, j+1, names(dst[:j+1]), z, count[z], other, count[other], size)
				}
			}
		}
		if z := []string{dst[0].Meta["zone"], dst[1].Meta["zone"], dst[2].Meta["zone"]}; z[0] == z[1] || z[1] == z[2] || z[0] == z[2] {
			t.Fatalf("job-%d: the first three owners are in zones %v, want three zones", k, z)
		}
	}
	// Without WithZoneMeta the same members ignore zones: some key has two
	// owners in one zone among its first two.
	plain := mustNew(t, alive(10, func(i int, m map[string]string) { m["zone"] = zoneOf(i) }))
	same := 0
	for k := range 1000 {
		dst = plain.Owners(fmt.Sprintf("job-%d", k), 2, dst[:0])
		if dst[0].Meta["zone"] == dst[1].Meta["zone"] {
			same++
		}
	}
	if same == 0 {
		t.Errorf("without WithZoneMeta no key had two owners in one zone: zones are not ignored")
	}
}

// A filter keeps only the members it accepts, and several filters must
// all accept.
func TestFilter(t *testing.T) {
	ms := alive(30, func(i int, m map[string]string) {
		m["role"] = []string{"worker", "api", "worker"}[i%3]
		if i%2 == 0 {
			m["gpu"] = "yes"
		}
	})
	workers := mustNew(t, ms, WithFilter(MetaEquals("role", "worker")))
	gpuWorkers := mustNew(t, ms, WithFilter(MetaEquals("role", "worker")), WithFilter(MetaEquals("gpu", "yes")))
	if workers.Len() != 20 || gpuWorkers.Len() != 10 {
		t.Fatalf("Len = %d and %d, want 20 workers, 10 with a GPU", workers.Len(), gpuWorkers.Len())
	}
	owned := map[string]int{}
	var dst []membership.Member
	for k := range 20000 {
		dst = gpuWorkers.Owners(fmt.Sprintf("job-%d", k), 3, dst[:0])
		for _, m := range dst {
			if m.Meta["role"] != "worker" || m.Meta["gpu"] != "yes" {
				t.Fatalf("job-%d owned by %s with meta %v", k, m.Name, m.Meta)
			}
		}
		o, _ := workers.Owner(fmt.Sprintf("job-%d", k))
		if o.Meta["role"] != "worker" {
			t.Fatalf("job-%d owned by %s, role %q", k, o.Name, o.Meta["role"])
		}
		owned[o.Name]++
	}
	if len(owned) != 20 {
		t.Errorf("%d workers own keys, want all 20", len(owned))
	}
	if f := MetaEquals("zone", ""); !f(membership.Member{}) || f(membership.Member{Meta: map[string]string{"zone": "a"}}) {
		t.Errorf(`MetaEquals("zone", "") must accept a member without the key and refuse zone=a`)
	}
}

// Without weights the score is the draw u itself; the weighted path ranks
// by -w/ln(u). With equal weights the two must give the same owners.
func TestUnweightedPathMatchesLogarithm(t *testing.T) {
	tb := mustNew(t, alive(20, nil))
	logged := *tb
	logged.weights = slices.Repeat([]float64{3}, 20)
	var a, b []membership.Member
	for _, h := range keyHashes(50000) {
		a, b = tb.owners(h, 4, a[:0]), logged.owners(h, 4, b[:0])
		if strings.Join(names(a), ",") != strings.Join(names(b), ",") {
			t.Fatalf("without weights %v, with equal weights %v", names(a), names(b))
		}
	}
}

// A Table is read by many goroutines at once (run with -race): each gets
// the owners a single goroutine computed.
func TestConcurrentLookups(t *testing.T) {
	tb := mustNew(t, alive(30, func(i int, m map[string]string) { m["zone"] = fmt.Sprint(i % 3) }), WithZoneMeta("zone"))
	want := make([]string, 500)
	for k := range want {
		want[k] = strings.Join(names(tb.Owners(fmt.Sprintf("job-%d", k), 3, nil)), ",")
	}
	errs := make(chan string, 4)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			dst := make([]membership.Member, 0, 3)
			for k := range want {
				key := fmt.Sprintf("job-%d", (k+g*97)%len(want))
				dst = tb.Owners(key, 3, dst[:0])
				if got := strings.Join(names(dst), ","); got != want[(k+g*97)%len(want)] {
					errs <- fmt.Sprintf("goroutine %d, %s: %s, want %s", g, key, got, want[(k+g*97)%len(want)])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

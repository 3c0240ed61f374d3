package shard

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

// alive returns n alive members node-00000, node-00001, ... with meta
// filled in by fill (which may be nil).
func alive(n int, fill func(i int, meta map[string]string)) []membership.Member {
	ms := make([]membership.Member, n)
	for i := range ms {
		meta := map[string]string{}
		if fill != nil {
			fill(i, meta)
		}
		ms[i] = membership.Member{
			Name:  fmt.Sprintf("node-%05d", i),
			Addr:  fmt.Sprintf("10.0.%d.%d:7946", i/250, i%250+1),
			Meta:  meta,
			State: membership.StateAlive,
		}
	}
	return ms
}

func mustNew(t testing.TB, ms []membership.Member, opts ...Option) *Table {
	t.Helper()
	tb, err := New(ms, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tb
}

// keyHashes returns the hashes of the keys job-0 ... job-(k-1).
func keyHashes(k int) []uint64 {
	hs := make([]uint64, k)
	for i := range hs {
		hs[i] = hashKey(fmt.Sprintf("job-%d", i))
	}
	return hs
}

func names(ms []membership.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// referenceOwners is Owners written the slow, obvious way: score every
// member, rank each zone by sorting it, sort everything by (rank, score),
// take n. The real Owners keeps at most 2n candidates at a time; the two
// must agree.
func referenceOwners(t *Table, h uint64, n int) []string {
	var all []cand
	for z := 0; z+1 < len(t.zones); z++ {
		var zone []cand
		for i := t.zones[z]; i < t.zones[z+1]; i++ {
			zone = append(zone, cand{score: t.score(h, i), i: int32(i)})
		}
		slices.SortFunc(zone, func(a, b cand) int {
			if a.score != b.score {
				if a.score > b.score {
					return -1
				}
				return 1
			}
			return cmpString(t.members[a.i].Name, t.members[b.i].Name)
		})
		for r := range zone {
			zone[r].rank = int32(r)
		}
		all = append(all, zone...)
	}
	slices.SortFunc(all, func(a, b cand) int {
		if a.rank != b.rank {
			return int(a.rank - b.rank)
		}
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return cmpString(t.members[a.i].Name, t.members[b.i].Name)
	})
	if n < 0 {
		n = 0
	}
	var out []string
	for _, c := range all[:min(n, len(all))] {
		out = append(out, t.members[c.i].Name)
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

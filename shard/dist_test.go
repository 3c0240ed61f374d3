package shard

import (
	"fmt"
	"math"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

// These tests count keys; they time nothing, so they hold on a loaded
// machine. They also print the figures of docs/ownership.md:
//
//	go test -run 'TestKeysMoved|TestLoadSkew|TestWeightShares' -v ./shard/

// distKeys is the number of keys counted: 1,000,000 for the figures, a
// quarter of that under the race detector (race_test.go), where the count
// costs 4x the CPU and the bounds still hold (the keys are fixed, so each
// count is deterministic).
var distKeys = 1_000_000

// ringVnodes is the baseline ring's virtual nodes per member.
const ringVnodes = 100

// TestKeysMoved: when one of N members leaves, only its keys move (to
// the others) and they are about 1/N of all; when one joins, only keys
// it takes move, about 1/(N+1). The ring baseline is measured beside.
func TestKeysMoved(t *testing.T) {
	hs := keyHashes(distKeys)
	t.Logf("| N | HRW, a join | HRW, a leave | ring (%d vnodes), a join | ring, a leave | 1/(N+1) | 1/N |", ringVnodes)
	t.Logf("|---|---|---|---|---|---|---|")
	for _, n := range []int{10, 100} {
		all := alive(n+1, nil)
		base, joiner := all[:n], all[n]
		gone := base[n/2]
		var rest []membership.Member
		rest = append(append(rest, base[:n/2]...), base[n/2+1:]...)

		before, joined, left := mustNew(t, base), mustNew(t, all), mustNew(t, rest)
		var joinMoved, leaveMoved int
		for _, h := range hs {
			b, _ := before.owner(h)
			if j, _ := joined.owner(h); j.Name != b.Name {
				joinMoved++
				if j.Name != joiner.Name {
					t.Fatalf("N=%d join: a key moved from %s to %s, not to the joiner", n, b.Name, j.Name)
				}
			}
			l, _ := left.owner(h)
			if (l.Name != b.Name) != (b.Name == gone.Name) {
				t.Fatalf("N=%d leave: a key of %s is now %s; only keys of %s may move, and all of them", n, b.Name, l.Name, gone.Name)
			}
			if l.Name != b.Name {
				leaveMoved++
			}
		}
		jf, lf := float64(joinMoved)/float64(distKeys), float64(leaveMoved)/float64(distKeys)
		if math.Abs(jf*float64(n+1)-1) > 0.1 || math.Abs(lf*float64(n)-1) > 0.1 {
			t.Errorf("N=%d: moved %.4f on a join (want about %.4f), %.4f on a leave (want about %.4f)", n, jf, 1/float64(n+1), lf, 1/float64(n))
		}

		rb, rj, rl := newRing(base, ringVnodes), newRing(all, ringVnodes), newRing(rest, ringVnodes)
		var ringJoin, ringLeave int
		for _, h := range hs {
			b := rb.members[rb.ownerIndex(h)].Name
			if rj.members[rj.ownerIndex(h)].Name != b {
				ringJoin++
			}
			if rl.members[rl.ownerIndex(h)].Name != b {
				ringLeave++
			}
		}
		t.Logf("| %d | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |", n, jf, lf,
			float64(ringJoin)/float64(distKeys), float64(ringLeave)/float64(distKeys), 1/float64(n+1), 1/float64(n))
	}
}

// counts returns how many of the keys each member owns, by name; owner
// returns the index of the owner in members.
func counts(members []membership.Member, owner func(h uint64) int32, hs []uint64) map[string]int {
	byIndex := make([]int, len(members))
	for _, h := range hs {
		byIndex[owner(h)]++
	}
	c := map[string]int{}
	for i, n := range byIndex {
		c[members[i].Name] = n
	}
	return c
}

// skew is max over members of owned / expected, where expected[name] is
// the member's fair share of the keys.
func skew(c map[string]int, expected map[string]float64) float64 {
	worst := 0.0
	for name, e := range expected {
		worst = max(worst, float64(c[name])/e)
	}
	return worst
}

// TestLoadSkew: the most loaded member owns little more than its fair
// share, with and without weights (fair share: K/N, or K*w/sum(w)). The
// ring baseline with 100 virtual nodes a member is measured beside.
func TestLoadSkew(t *testing.T) {
	hs := keyHashes(distKeys)
	t.Logf("| N | HRW skew | HRW skew, weights 1-4 | ring (%d vnodes) skew |", ringVnodes)
	t.Logf("|---|---|---|---|")
	for _, c := range []struct {
		n        int
		max      float64 // bound for HRW
		weighted float64 // bound for weighted HRW
	}{
		{10, 1.03, 1.03},
		{100, 1.08, 1.12},
	} {
		ms := alive(c.n, func(i int, m map[string]string) { m["weight"] = fmt.Sprint(1 + i%4) })
		even := map[string]float64{}
		fair := map[string]float64{}
		total := 0.0
		for i, m := range ms {
			total += float64(1 + i%4)
			even[m.Name] = float64(distKeys) / float64(c.n)
		}
		for i, m := range ms {
			fair[m.Name] = float64(distKeys) * float64(1+i%4) / total
		}
		plain, weighted, r := mustNew(t, ms), mustNew(t, ms, WithWeightMeta("weight")), newRing(ms, ringVnodes)
		hrw := skew(counts(plain.members, plain.ownerIndex, hs), even)
		hrwW := skew(counts(weighted.members, weighted.ownerIndex, hs), fair)
		ringSkew := skew(counts(r.members, r.ownerIndex, hs), even)
		if hrw > c.max || hrwW > c.weighted {
			t.Errorf("N=%d: HRW skew %.3f (want at most %.2f), weighted %.3f (want at most %.2f)", c.n, hrw, c.max, hrwW, c.weighted)
		}
		t.Logf("| %d | %.3f | %.3f | %.3f |", c.n, hrw, hrwW, ringSkew)
	}
}

// TestWeightShares: a member's share of the keys is its weight over the
// sum of the weights, within 3% (the counting noise at 1,000,000 keys is
// under 0.5%; a score that were not -w/ln(u), e.g. w*u, misses by far more).
func TestWeightShares(t *testing.T) {
	hs := keyHashes(distKeys)
	weights := []string{"1", "2", "3", "4", "0.5", "1.5", "8", "1", "2", "7"}
	ms := alive(len(weights), func(i int, m map[string]string) { m["weight"] = weights[i] })
	tb := mustNew(t, ms, WithWeightMeta("weight"))
	total := 0.0
	for _, w := range weights {
		var f float64
		fmt.Sscan(w, &f)
		total += f
	}
	c := counts(tb.members, tb.ownerIndex, hs)
	t.Logf("| member | weight | expected share | owned share |")
	t.Logf("|---|---|---|---|")
	for i, m := range ms {
		var w float64
		fmt.Sscan(weights[i], &w)
		want, got := w/total, float64(c[m.Name])/float64(distKeys)
		t.Logf("| %s | %s | %.4f | %.4f |", m.Name, weights[i], want, got)
		if math.Abs(got/want-1) > 0.03 {
			t.Errorf("%s (weight %s) owns %.4f of the keys, want %.4f ± 3%%", m.Name, weights[i], got, want)
		}
	}
}

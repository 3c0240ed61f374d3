package shard

import (
	"math"

	"github.com/gencluster/gencluster/membership"
)

// Owner returns the member that owns key: of the owning members, the one
// with the highest score for key. It is false only when the Table has no
// member. It allocates nothing; the Member's Meta map is the Table's own
// (read it, do not change it; Clone the Member to keep a changeable copy).
func (t *Table) Owner(key string) (membership.Member, bool) {
	return t.owner(hashKey(key))
}

// OwnerBytes is Owner for a key held in a byte slice; a key gets the same
// owner as a string or as bytes.
func (t *Table) OwnerBytes(key []byte) (membership.Member, bool) {
	return t.owner(hashKey(key))
}

// Owners appends to dst the n members that own key, best first, and
// returns the extended slice: dst[len(dst)] is Owner(key). Without
// WithZoneMeta they are the n highest scores; with it, the highest-scoring
// member of each zone comes before any second member of a zone, and so on.
// n larger than Len returns every owning member; n <= 0 returns dst
// unchanged.
//
// Owners allocates nothing when n <= 32 and dst has room for the members
// (pass dst[:0] of a reused slice); a larger n uses a buffer of 2n
// candidates on the heap.
func (t *Table) Owners(key string, n int, dst []membership.Member) []membership.Member {
	return t.owners(hashKey(key), n, dst)
}

// OwnersBytes is Owners for a key held in a byte slice.
func (t *Table) OwnersBytes(key []byte, n int, dst []membership.Member) []membership.Member {
	return t.owners(hashKey(key), n, dst)
}

// score is members[i]'s score for the key hash h: the weighted rendezvous
// score -w / ln(u), where u in (0,1) is the member's uniform draw for this
// key (Schindelhauer and Schomaker, "Weighted distributed hash tables",
// 2005; the "logarithmic method"). Each member's score is an exponential
// variable of rate 1/w, so the member with the highest score is member i
// with probability w_i / sum(w): shares follow the weights, and adding or
// removing a member moves only the keys it wins or held.
//
// When every member weighs the same, the score is the draw itself (as an
// integer below 2^53, exact in a float64), which orders members as -1/ln(u)
// does without a logarithm. Weighted scores call math.Log, whose last bit
// may differ between architectures (amd64 has an assembly version): two
// nodes of different architectures could disagree about a key only if two
// members' scores for it agree to about 1e-16, which in practice never
// happens; unweighted Tables agree exactly everywhere.
func (t *Table) score(h uint64, i int) float64 {
	x := mix(h ^ t.seeds[i])
	if t.weights == nil {
		return float64(x >> 11)
	}
	// 52 bits plus one half: u is never 0 nor 1 (2^52 - 0.5 is exact).
	u := (float64(x>>12) + 0.5) * 0x1p-52
	return t.weights[i] / -math.Log(u)
}

func (t *Table) owner(h uint64) (membership.Member, bool) {
	if len(t.members) == 0 {
		return membership.Member{}, false
	}
	return t.members[t.ownerIndex(h)], true
}

// ownerIndex returns the index in members of the owner of h; t must have
// a member.
func (t *Table) ownerIndex(h uint64) int32 {
	best := cand{score: t.score(h, 0)}
	for i := 1; i < len(t.members); i++ {
		c := cand{score: t.score(h, i), i: int32(i)}
		if t.before(c, best) {
			best = c
		}
	}
	return best.i
}

// cand is a candidate owner: members[i], its score, and its rank in its
// zone (0 for the zone's best member).
type cand struct {
	score float64
	i     int32
	rank  int32
}

// before is the order of Owners: lower rank in its zone first, then
// higher score, then (for equal scores, in practice never) lower name,
// so that every node breaks a tie the same way.
func (t *Table) before(a, b cand) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	if a.score != b.score {
		return a.score > b.score
	}
	return t.members[a.i].Name < t.members[b.i].Name
}

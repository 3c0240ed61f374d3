package shard

import (
	"slices"

	"github.com/gencluster/gencluster/membership"
)

// stackN is the largest n for which Owners keeps its candidates on the
// stack (two buffers of 2*stackN candidates, 2 KiB) and so allocates
// nothing. Replication factors are small; a larger n is still correct.
const stackN = 32

func (t *Table) owners(h uint64, n int, dst []membership.Member) []membership.Member {
	if n <= 0 || len(t.members) == 0 {
		return dst
	}
	n = min(n, len(t.members))
	var zoneArr, allArr [2 * stackN]cand
	var zoneBuf, allBuf []cand
	if n <= stackN {
		zoneBuf, allBuf = zoneArr[:0:2*n], allArr[:0:2*n]
	} else {
		zoneBuf, allBuf = make([]cand, 0, 2*n), make([]cand, 0, 2*n)
	}
	// One pass per zone keeps the zone's n best members, ranked; a second
	// selection keeps the n first of those by (rank, score). Without
	// zones there is one zone and the second step only copies.
	zone := selection{t: t, buf: zoneBuf, n: n}
	all := selection{t: t, buf: allBuf, n: n}
	for z := 0; z+1 < len(t.zones); z++ {
		zone.buf, zone.full = zone.buf[:0], false
		for i := t.zones[z]; i < t.zones[z+1]; i++ {
			zone.add(cand{score: t.score(h, i), i: int32(i)})
		}
		zone.finish()
		for r, c := range zone.buf {
			c.rank = int32(r)
			if all.full && !t.before(c, all.worst) {
				break // the zone's next ranks come later still
			}
			all.add(c)
		}
	}
	all.finish()
	for _, c := range all.buf {
		dst = append(dst, t.members[c.i])
	}
	return dst
}

// selection keeps the n first, in the order before, of the candidates
// added. It appends into buf (capacity 2n) and, when buf is full, sorts it
// and keeps n: a sort per n additions, and once n are kept, a candidate
// that does not beat the n-th (worst) is dropped at the cost of one
// comparison, which is the fate of almost every candidate.
type selection struct {
	t     *Table
	buf   []cand
	n     int
	full  bool // n candidates were kept by a sort: worst is the n-th
	worst cand
}

func (s *selection) add(c cand) {
	if s.full && !s.t.before(c, s.worst) {
		return
	}
	// Not append: buf never outgrows its capacity, and an append would
	// make the compiler move the stack buffers of owners to the heap.
	k := len(s.buf)
	s.buf = s.buf[:k+1]
	s.buf[k] = c
	if k+1 == cap(s.buf) {
		s.finish()
	}
}

// finish sorts buf and keeps its n first.
func (s *selection) finish() {
	t := s.t
	slices.SortFunc(s.buf, func(a, b cand) int {
		if t.before(a, b) {
			return -1
		}
		if t.before(b, a) {
			return 1
		}
		return 0
	})
	if len(s.buf) >= s.n {
		s.buf = s.buf[:s.n]
		s.full, s.worst = true, s.buf[s.n-1]
	}
}

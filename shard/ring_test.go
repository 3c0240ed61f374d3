package shard

import (
	"slices"
	"strconv"

	"github.com/gencluster/gencluster/membership"
)

// ring is the baseline of the benchmarks and of the distribution tests: a
// consistent-hash ring with virtual nodes, as most Go sharding libraries
// build it. Each member puts vnodes points on a 64-bit circle (the XXH64
// of "name#v"); a key belongs to the first point at or after its hash.
type ring struct {
	points  []uint64
	owner   []int32 // owner[j] is the index in members of points[j]
	members []membership.Member
}

func newRing(members []membership.Member, vnodes int) *ring {
	type point struct {
		at    uint64
		owner int32
	}
	pts := make([]point, 0, len(members)*vnodes)
	var buf []byte
	for i, m := range members {
		for v := range vnodes {
			buf = strconv.AppendInt(append(append(buf[:0], m.Name...), '#'), int64(v), 10)
			pts = append(pts, point{hashKey(buf), int32(i)})
		}
	}
	slices.SortFunc(pts, func(a, b point) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return int(a.owner - b.owner)
	})
	r := &ring{points: make([]uint64, len(pts)), owner: make([]int32, len(pts)), members: members}
	for j, p := range pts {
		r.points[j], r.owner[j] = p.at, p.owner
	}
	return r
}

// search returns the index of the first point at or after h, wrapping.
func (r *ring) search(h uint64) int {
	lo, hi := 0, len(r.points)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.points[mid] < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(r.points) {
		return 0
	}
	return lo
}

func (r *ring) ownerIndex(h uint64) int32 { return r.owner[r.search(h)] }

func (r *ring) Owner(key string) (membership.Member, bool) {
	if len(r.points) == 0 {
		return membership.Member{}, false
	}
	return r.members[r.ownerIndex(hashKey(key))], true
}

// Owners walks the ring clockwise from the key and takes the first n
// distinct members, as ring libraries do for replicas.
func (r *ring) Owners(key string, n int, dst []membership.Member) []membership.Member {
	if n <= 0 || len(r.points) == 0 {
		return dst
	}
	n = min(n, len(r.members))
	start := len(dst)
	j := r.search(hashKey(key))
	for range r.points {
		m := r.members[r.owner[j]]
		if !slices.ContainsFunc(dst[start:], func(d membership.Member) bool { return d.Name == m.Name }) {
			dst = append(dst, m)
			if len(dst)-start == n {
				break
			}
		}
		if j++; j == len(r.points) {
			j = 0
		}
	}
	return dst
}

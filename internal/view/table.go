package view

import (
	"hash/maphash"

	"github.com/gencluster/gencluster/membership"
)

// table holds the view's members by name in about half the room of a
// map[string]membership.Member, which matters because every node holds
// one entry per member: at N=300 the map was 40 KiB of a node's heap. It
// is a slab of Members (unordered, no gaps) and an open-addressing index
// (linear probing, at most three quarters full) of 4-byte positions into
// it. A Go map keeps a 72-byte slot per entry and is often barely half
// full; the slab needs 56 to 63 bytes per member and the index 5 to 11.
// Not safe for concurrent use: the view's lock guards it.
type table struct {
	seed    maphash.Seed
	members []membership.Member // no gaps: a removal moves the last member into the hole
	slots   []int32             // len 0 or a power of two; 0 empty, else position+1 in members
}

func newTable() table { return table{seed: maphash.MakeSeed()} }

// minSlots is the smallest index: room for 6 members.
const minSlots = 8

func (t *table) home(name string) int {
	return int(maphash.String(t.seed, name) & uint64(len(t.slots)-1))
}

// find returns the slot that holds name, or the empty slot where it would
// go (ok false). The index must not be empty.
func (t *table) find(name string) (slot int, ok bool) {
	mask := len(t.slots) - 1
	for i := t.home(name); ; i = (i + 1) & mask {
		p := t.slots[i]
		if p == 0 {
			return i, false
		}
		if t.members[p-1].Name == name {
			return i, true
		}
	}
}

func (t *table) len() int { return len(t.members) }

// get returns the member called name. Its Meta is the table's.
func (t *table) get(name string) (membership.Member, bool) {
	if len(t.slots) == 0 {
		return membership.Member{}, false
	}
	i, ok := t.find(name)
	if !ok {
		return membership.Member{}, false
	}
	return t.members[t.slots[i]-1], true
}

// put adds m, or replaces the member of its name.
func (t *table) put(m membership.Member) {
	if 4*(len(t.members)+1) > 3*len(t.slots) {
		t.rehash(max(minSlots, 2*len(t.slots)))
	}
	i, ok := t.find(m.Name)
	if ok {
		t.members[t.slots[i]-1] = m
		return
	}
	if len(t.members) == cap(t.members) {
		// Grow by an eighth: append would double up to 256 and then
		// grow by about a quarter, which at 300 members holds room for
		// 512. Copying more often costs little next to the joins.
		t.members = append(make([]membership.Member, 0, cap(t.members)+max(minSlots, cap(t.members)/8)), t.members...)
	}
	t.members = append(t.members, m)
	t.slots[i] = int32(len(t.members))
}

// remove removes the member called name and reports whether there was one.
func (t *table) remove(name string) bool {
	if len(t.slots) == 0 {
		return false
	}
	i, ok := t.find(name)
	if !ok {
		return false
	}
	p := int(t.slots[i] - 1)
	// Backward-shift deletion: move later entries of the probe run into
	// the hole unless that would put them before their home slot, so
	// that lookups need no tombstones.
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		k := t.home(t.members[t.slots[j]-1].Name)
		// The entry at j may fill the hole at i unless its home k lies
		// cyclically in (i, j].
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = 0
	last := len(t.members) - 1
	if p != last {
		t.members[p] = t.members[last]
		s, _ := t.find(t.members[p].Name)
		t.slots[s] = int32(p + 1)
	}
	t.members[last] = membership.Member{} // let its strings and map go
	t.members = t.members[:last]
	if c := cap(t.members); c > 4*minSlots && len(t.members) < c/4 {
		// Most members went (a partition, a scale-down): give the
		// room back, as a Go map would not.
		t.members = append([]membership.Member(nil), t.members...)
		t.rehash(max(minSlots, ceilPow2(2*len(t.members))))
	}
	return true
}

// rehash rebuilds the index with n slots (a power of two, at least 4/3
// of the members).
func (t *table) rehash(n int) {
	t.slots = make([]int32, n)
	for p, m := range t.members {
		i, _ := t.find(m.Name)
		t.slots[i] = int32(p + 1)
	}
}

func ceilPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

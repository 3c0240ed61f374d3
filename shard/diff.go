package shard

import (
	"slices"
	"strings"

	"github.com/gencluster/gencluster/membership"
)

// Diff returns the members that own keys in to and not in from (added),
// and those that own keys in from and not in to (removed), each sorted by
// name. A member in both whose part in ownership changed is in both
// lists, removed as it was and added as it is: another weight, another
// zone, or another life of the member (another Boot: a restarted process
// holds none of what its previous life held, though its name, and so its
// keys, are the same). A nil Table has no members.
//
// For Tables built with the same options, this is all that moves: a key
// whose owners (Owner, or Owners for any n) differ between from and to
// had a removed member among its owners in from, or has an added member
// among its owners in to. A service that moves work on a change needs to
// look only at the keys of those members.
func Diff(from, to *Table) (added, removed []membership.Member) {
	return from.missing(to), to.missing(from)
}

// missing returns the members of o that t does not hold as they are in o
// (absent, or another life, weight or zone), sorted by name. Either Table
// may be nil.
func (t *Table) missing(o *Table) []membership.Member {
	if o == nil {
		return nil
	}
	var at map[string]int
	if t != nil {
		at = make(map[string]int, len(t.members))
		for i, m := range t.members {
			at[m.Name] = i
		}
	}
	var out []membership.Member
	for j, m := range o.members {
		if i, ok := at[m.Name]; !ok || !t.sameOwner(i, o, j) {
			out = append(out, m.Clone())
		}
	}
	slices.SortFunc(out, func(a, b membership.Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// sameOwner reports whether members[i] of t and members[j] of o take the
// same part in ownership: the same life, weight and zone (their names are
// the same, which makes their scores the same).
func (t *Table) sameOwner(i int, o *Table, j int) bool {
	a, b := t.members[i], o.members[j]
	return a.Boot == b.Boot && t.weight(i) == o.weight(j) && t.zone(i) == o.zone(j)
}

// weight returns the weight of members[i].
func (t *Table) weight(i int) float64 {
	if t.weights == nil {
		return t.unit
	}
	return t.weights[i]
}

// zone returns the zone of members[i] ("" without WithZoneMeta).
func (t *Table) zone(i int) string {
	if t.zoneMeta == "" {
		return ""
	}
	return t.members[i].Meta[t.zoneMeta]
}

package shard

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gencluster/gencluster/membership"
)

// Table says which members own which keys. Build one with New from the
// current members whenever they change; a Table never changes after New,
// so any number of goroutines may look keys up in it at once, and
// swapping the Table of a service (an atomic.Pointer[shard.Table]) is the
// whole of a membership change.
type Table struct {
	// members own keys: alive, accepted by the filters, sorted by zone
	// then name (a deterministic order: every node builds the same Table
	// from the same members). Their Meta maps are copies of the caller's.
	members []membership.Member
	// seeds[i] is the hash of members[i].Name: the member's identity in
	// every score, so a member restarted under its name owns the same keys.
	seeds []uint64
	// weights[i] is the weight of members[i]; nil when all members weigh
	// the same, and then scores compare without a logarithm.
	weights []float64
	// unit is the weight of every member when weights is nil (Diff
	// compares weights: 2 for all is another weight than 1 for all).
	unit float64
	// zones[z] is the index in members of the first member of zone z, and
	// zones[len(zones)-1] is len(members). Without WithZoneMeta every
	// member is in one zone.
	zones []int
	// zoneMeta is the metadata key of the zones ("" without WithZoneMeta),
	// for Diff to tell a member that changed zones.
	zoneMeta string
	// version is the membership view's version the Table was built at (a
	// Tracker's); 0 from New.
	version uint64
}

// New returns the Table of members: the members in StateAlive that every
// WithFilter accepts own keys; the others are ignored. Pass every member
// you know (Node.Members), in any order: two Tables built from the same
// members and options give every key the same owners, on any node.
//
// New fails on bad input rather than guess: a nil or invalid option, two
// owning members with one name, an owning member with an empty name, or a
// weight (WithWeightMeta) that is not a finite number greater than 0; the
// error names the member and the value. A service should keep its previous
// Table when New fails, and report the error.
func New(members []membership.Member, opts ...Option) (*Table, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return c.build(members, 0)
}

// newConfig applies opts.
func newConfig(opts []Option) (*config, error) {
	c := new(config)
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("shard: option %d is nil", i)
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// build is New once the options are applied: the Table of the members
// that own keys, at version.
func (c *config) build(members []membership.Member, version uint64) (*Table, error) {
	type entry struct {
		m      membership.Member
		zone   string
		weight float64
	}
	var owners []entry
	names := make(map[string]bool, len(members))
	for _, m := range members {
		if !c.owns(m) {
			continue
		}
		if m.Name == "" {
			return nil, fmt.Errorf("shard: member at %q has an empty name", m.Addr)
		}
		if names[m.Name] {
			return nil, fmt.Errorf("shard: member %q appears twice", m.Name)
		}
		names[m.Name] = true
		e := entry{m: m.Clone(), weight: 1}
		if c.weightMeta != "" {
			w, err := parseWeight(m, c.weightMeta)
			if err != nil {
				return nil, err
			}
			e.weight = w
		}
		if c.zoneMeta != "" {
			e.zone = m.Meta[c.zoneMeta]
		}
		owners = append(owners, e)
	}
	slices.SortFunc(owners, func(a, b entry) int {
		if z := strings.Compare(a.zone, b.zone); z != 0 {
			return z
		}
		return strings.Compare(a.m.Name, b.m.Name)
	})
	t := &Table{
		members:  make([]membership.Member, len(owners)),
		seeds:    make([]uint64, len(owners)),
		zones:    []int{0},
		zoneMeta: c.zoneMeta,
		version:  version,
	}
	uniform := true
	for i, e := range owners {
		t.members[i] = e.m
		t.seeds[i] = hashKey(e.m.Name)
		if e.weight != owners[0].weight {
			uniform = false
		}
		if i > 0 && e.zone != owners[i-1].zone {
			t.zones = append(t.zones, i)
		}
	}
	t.zones = append(t.zones, len(owners))
	if len(owners) > 0 {
		t.unit = owners[0].weight
	}
	if !uniform {
		t.weights = make([]float64, len(owners))
		for i, e := range owners {
			t.weights[i] = e.weight
		}
	}
	return t, nil
}

func parseWeight(m membership.Member, key string) (float64, error) {
	v, ok := m.Meta[key]
	if !ok {
		return 1, nil
	}
	w, err := strconv.ParseFloat(v, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("shard: member %q: weight %s=%q is out of range", m.Name, key, v)
		}
		return 0, fmt.Errorf("shard: member %q: weight %s=%q is not a number", m.Name, key, v)
	}
	if math.IsNaN(w) || math.IsInf(w, 0) || w <= 0 {
		return 0, fmt.Errorf("shard: member %q: weight %s=%q must be a finite number greater than 0", m.Name, key, v)
	}
	return w, nil
}

// Version returns the version of the membership view the Table was built
// at, as a Tracker (and Node.Ownership) builds it: the Table's owners are
// those of the view at that version, the number /members reports in its
// Gencluster-View-Version header. A Table from New has version 0.
func (t *Table) Version() uint64 { return t.version }

// Len returns the number of members that own keys.
func (t *Table) Len() int { return len(t.members) }

// Members returns the members that own keys, sorted by zone (with
// WithZoneMeta) then name. They are copies: changing them changes
// nothing in t.
func (t *Table) Members() []membership.Member {
	out := make([]membership.Member, len(t.members))
	for i, m := range t.members {
		out[i] = m.Clone()
	}
	return out
}

package shard

import (
	"strings"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

func TestNewRejectsBadInput(t *testing.T) {
	ms := alive(3, nil)
	withWeight := func(w string) []membership.Member {
		ms := alive(3, nil)
		ms[1].Meta["weight"] = w
		return ms
	}
	dup := alive(3, nil)
	dup[2].Name = dup[0].Name
	noName := alive(2, nil)
	noName[1].Name = ""
	for _, c := range []struct {
		name    string
		members []membership.Member
		opts    []Option
		want    string // a part of the error
	}{
		{"nil option", ms, []Option{nil}, "option 0 is nil"},
		{"nil filter", ms, []Option{WithFilter(nil)}, "WithFilter(nil)"},
		{"empty weight key", ms, []Option{WithWeightMeta("")}, "WithWeightMeta: empty"},
		{"empty zone key", ms, []Option{WithZoneMeta("")}, "WithZoneMeta: empty"},
		{"weight key twice", ms, []Option{WithWeightMeta("a"), WithWeightMeta("b")}, `given twice ("a" and "b")`},
		{"zone key twice", ms, []Option{WithZoneMeta("a"), WithZoneMeta("b")}, `given twice ("a" and "b")`},
		{"duplicate name", dup, nil, `member "node-00000" appears twice`},
		{"empty name", noName, nil, `member at "10.0.0.2:7946" has an empty name`},
		{"weight not a number", withWeight("heavy"), []Option{WithWeightMeta("weight")}, `member "node-00001": weight weight="heavy" is not a number`},
		{"weight empty", withWeight(""), []Option{WithWeightMeta("weight")}, `weight weight="" is not a number`},
		{"weight zero", withWeight("0"), []Option{WithWeightMeta("weight")}, `member "node-00001": weight weight="0" must be a finite number greater than 0`},
		{"weight negative", withWeight("-2"), []Option{WithWeightMeta("weight")}, `weight="-2" must be`},
		{"weight NaN", withWeight("NaN"), []Option{WithWeightMeta("weight")}, `weight="NaN" must be`},
		{"weight Inf", withWeight("+Inf"), []Option{WithWeightMeta("weight")}, `weight="+Inf" must be`},
		{"weight overflow", withWeight("1e400"), []Option{WithWeightMeta("weight")}, `weight="1e400" is out of range`},
	} {
		tb, err := New(c.members, c.opts...)
		if err == nil {
			t.Errorf("%s: New succeeded (%d members), want an error with %q", c.name, tb.Len(), c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
	}
}

// Bad input on a member that owns nothing does not matter: a failed
// member with a bad weight, or two dead lives of one name, must not stop
// the alive members from getting a Table.
func TestNewIgnoresNonOwners(t *testing.T) {
	ms := alive(3, nil)
	ms = append(ms,
		membership.Member{Name: "old", State: membership.StateFailed, Meta: map[string]string{"weight": "x"}},
		membership.Member{Name: "old", State: membership.StateLeft},
	)
	tb := mustNew(t, ms, WithWeightMeta("weight"))
	if got := names(tb.Members()); strings.Join(got, ",") != "node-00000,node-00001,node-00002" {
		t.Errorf("Members = %v", got)
	}
}

// Only StateAlive owns keys: failed, left, and any state added later
// (State(3) stands for a future draining state) own nothing.
func TestOnlyAliveOwns(t *testing.T) {
	ms := alive(4, nil)
	ms[0].State = membership.StateFailed
	ms[1].State = membership.StateLeft
	ms[2].State = membership.State(3)
	tb := mustNew(t, ms)
	if tb.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (node-00003 only)", tb.Len())
	}
	for _, h := range keyHashes(1000) {
		if m, ok := tb.owner(h); !ok || m.Name != "node-00003" {
			t.Fatalf("owner = %v, %v; want node-00003", m, ok)
		}
	}
}

func TestEmptyTable(t *testing.T) {
	for _, ms := range [][]membership.Member{nil, {{Name: "gone", State: membership.StateLeft}}} {
		tb := mustNew(t, ms)
		if m, ok := tb.Owner("k"); ok {
			t.Errorf("Owner of an empty table = %v, true", m)
		}
		if m, ok := tb.OwnerBytes([]byte("k")); ok {
			t.Errorf("OwnerBytes of an empty table = %v, true", m)
		}
		dst := []membership.Member{{Name: "kept"}}
		if got := tb.Owners("k", 3, dst); len(got) != 1 || got[0].Name != "kept" {
			t.Errorf("Owners of an empty table = %v, want dst unchanged", got)
		}
		if tb.Len() != 0 || len(tb.Members()) != 0 {
			t.Errorf("Len = %d, Members = %v", tb.Len(), tb.Members())
		}
	}
}

// The Table keeps copies: changing the members (or their Meta) after New,
// or the result of Members, changes nothing in it.
func TestTableIsImmutable(t *testing.T) {
	ms := alive(5, func(i int, meta map[string]string) { meta["role"] = "worker" })
	tb := mustNew(t, ms, WithFilter(MetaEquals("role", "worker")))
	before, _ := tb.Owner("job-1")
	for i := range ms {
		ms[i].Meta["role"] = "changed"
		ms[i].Name = "renamed"
	}
	got := tb.Members()
	got[0].Meta["role"] = "changed too"
	after, _ := tb.Owner("job-1")
	if after.Name != before.Name || after.Meta["role"] != "worker" {
		t.Errorf("owner after changing the input: %v %v, want %v with role=worker", after, after.Meta, before)
	}
	if m := tb.Members()[0]; m.Meta["role"] != "worker" {
		t.Errorf("Members()[0].Meta = %v after changing a copy", m.Meta)
	}
}

// A member that does not publish the weight key weighs 1 (see
// WithWeightMeta), and a Table whose members all weigh the same takes the
// path without logarithms.
func TestMissingWeightIsOne(t *testing.T) {
	ms := alive(3, nil)
	ms[0].Meta["weight"] = "1"
	tb := mustNew(t, ms, WithWeightMeta("weight"))
	if tb.weights != nil {
		t.Errorf("weights = %v, want nil (all members weigh 1)", tb.weights)
	}
	ms[0].Meta["weight"] = "2.5"
	tb = mustNew(t, ms, WithWeightMeta("weight"))
	if want := []float64{2.5, 1, 1}; len(tb.weights) != 3 || tb.weights[0] != want[0] || tb.weights[1] != 1 || tb.weights[2] != 1 {
		t.Errorf("weights = %v, want %v", tb.weights, want)
	}
}

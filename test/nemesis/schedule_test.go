package nemesis

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func draw(t *testing.T, seed uint64, waves int) []Wave {
	t.Helper()
	s, err := NewSchedule(seed, 8, 2, 16*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out []Wave
	for range waves {
		out = append(out, s.Next())
	}
	return out
}

func TestScheduleReplaysFromSeed(t *testing.T) {
	a, b := draw(t, 42, 50), draw(t, 42, 50)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed drew different waves")
	}
	if reflect.DeepEqual(a, draw(t, 43, 50)) {
		t.Fatal("seeds 42 and 43 drew the same waves")
	}
}

func TestScheduleKeepsAHealthyMajority(t *testing.T) {
	kinds := map[Kind]int{}
	overlapping := 0
	for _, w := range draw(t, 7, 500) {
		if len(w.Faults) == 0 {
			t.Fatal("empty wave")
		}
		hit := map[int]bool{}
		for _, f := range w.Faults {
			kinds[f.Kind]++
			if f.End-f.Start < 2*time.Second || f.End > 16*time.Second {
				t.Errorf("%v: lasts %v, ends at %v", f, f.End-f.Start, f.End)
			}
			if f.Kind == Loss && (f.LossPct < 5 || f.LossPct > 30) {
				t.Errorf("%v: loss out of 5-30%%", f)
			}
			for _, i := range f.Nodes {
				if hit[i] {
					t.Errorf("node %d in two faults of one wave: %v", i, w.Faults)
				}
				hit[i] = true
				if f.Kind.process() && i < 2 {
					t.Errorf("%v: stops a protected node", f)
				}
			}
		}
		if len(hit) > 3 {
			t.Errorf("wave hits %d of 8 nodes: %v", len(hit), w.Faults)
		}
		if len(w.Faults) > 1 && w.Faults[1].Start < w.Faults[0].End {
			overlapping++
		}
	}
	for _, k := range Kinds {
		if kinds[k] == 0 {
			t.Errorf("500 waves drew no %s", k)
		}
	}
	if overlapping == 0 {
		t.Error("no two faults overlapped in 500 waves")
	}
}

func TestScheduleRejectsBadLimits(t *testing.T) {
	for _, c := range []struct {
		n, protected int
		span         time.Duration
		want         string
	}{
		{4, 0, 10 * time.Second, "4 nodes"},
		{8, 5, 10 * time.Second, "5 protected"},
		{8, 1, time.Second, "fault span 1s"},
	} {
		if _, err := NewSchedule(1, c.n, c.protected, c.span); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSchedule(1, %d, %d, %v) = %v, want an error naming %q", c.n, c.protected, c.span, err, c.want)
		}
	}
}

func TestMovesBehindCut(t *testing.T) {
	s := time.Second
	move := Fault{Kind: KillNewIP, Nodes: []int{5}, Start: 4 * s, End: 8 * s}
	for _, c := range []struct {
		name string
		w    Wave
		want bool
	}{
		{"a move while another node is partitioned", Wave{[]Fault{move, {Kind: Partition, Nodes: []int{1}, Start: 5 * s, End: 10 * s}}}, true},
		{"a move while another node hears nothing", Wave{[]Fault{{Kind: OneWayIn, Nodes: []int{2}, Start: s, End: 5 * s}, move}}, true},
		{"a move after the cut healed", Wave{[]Fault{{Kind: Partition, Nodes: []int{1}, Start: s, End: 3 * s}, move}}, false},
		{"a move beside packet loss", Wave{[]Fault{move, {Kind: Loss, Nodes: []int{1}, Start: 5 * s, End: 9 * s, LossPct: 30}}}, false},
		{"a restart at the same address beside a cut", Wave{[]Fault{{Kind: KillSameIP, Nodes: []int{5}, Start: 4 * s, End: 8 * s}, {Kind: Partition, Nodes: []int{1}, Start: 5 * s, End: 10 * s}}}, false},
		{"a cut alone", Wave{[]Fault{{Kind: OneWayOut, Nodes: []int{1}, Start: s, End: 5 * s}}}, false},
	} {
		if got := c.w.MovesBehindCut(); got != c.want {
			t.Errorf("%s: MovesBehindCut = %v, want %v", c.name, got, c.want)
		}
	}
}

package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Kind is one kind of fault the nemesis injects.
type Kind string

// The faults. Each one hits a group of nodes (a victim for the process
// faults) from its start to its end, within one wave.
const (
	// KillSameIP: SIGKILL, then the node restarts at its old address at
	// the end.
	KillSameIP Kind = "kill9-restart-same-ip"
	// KillNewIP: SIGKILL, then the node restarts at a new address.
	KillNewIP Kind = "kill9-restart-new-ip"
	// Term: SIGTERM (a graceful leave), then the node restarts at its old
	// address.
	Term Kind = "sigterm-restart"
	// Partition: every packet between the group and the other nodes is
	// dropped, both ways.
	Partition Kind = "partition"
	// OneWayIn: the group hears nothing from the others (it still sends).
	OneWayIn Kind = "one-way-in"
	// OneWayOut: nothing the group sends reaches the others (it still
	// hears them).
	OneWayOut Kind = "one-way-out"
	// Loss: a share of the packets between the group and the others is
	// dropped, both ways (iptables -m statistic --mode random).
	Loss Kind = "loss"
	// Starve: the group's containers get 0.05 of a CPU (docker update
	// --cpus).
	Starve Kind = "cpu-starve"
)

// Kinds lists every fault kind, in the order the schedule draws from.
var Kinds = []Kind{KillSameIP, KillNewIP, Term, Partition, OneWayIn, OneWayOut, Loss, Starve}

// Fault is one scheduled fault.
type Fault struct {
	Kind Kind
	// Nodes are the indexes (0-based) of the nodes it hits.
	Nodes []int
	// Start and End are offsets from the wave's start.
	Start, End time.Duration
	// LossPct is the share of packets dropped, for Loss (5 to 30).
	LossPct int
}

// String is how the log and the report show the fault.
func (f Fault) String() string {
	var names []string
	for _, i := range f.Nodes {
		names = append(names, fmt.Sprintf("n%d", i+1))
	}
	s := fmt.Sprintf("%s[%s] %v..%v", f.Kind, strings.Join(names, ","), f.Start, f.End)
	if f.Kind == Loss {
		s += fmt.Sprintf(" %d%%", f.LossPct)
	}
	return s
}

// Wave is a set of overlapping faults on disjoint groups of nodes; the
// cluster must be whole again after the last of them ends.
type Wave struct {
	Faults []Fault
}

// MovesBehindCut reports whether a node restarts at a new address while
// another node is cut off (partitioned, or one way), the two faults
// overlapping in time. The cut node still holds the old life, alive at the
// old address, when the new one claims the name: memberlist refuses the
// new address until that node has declared the old life dead on its own
// probes (the others declared it dead while the cut node could not hear
// them, and nobody confirms its suspicion), so the cluster is whole again
// only after a probe round, the longest suspicion and
// DeadNodeReclaimTime, not within the refresh interval.
func (w Wave) MovesBehindCut() bool {
	for _, m := range w.Faults {
		if m.Kind != KillNewIP {
			continue
		}
		for _, c := range w.Faults {
			cut := c.Kind == Partition || c.Kind == OneWayIn || c.Kind == OneWayOut
			if cut && c.Start < m.End && m.Start < c.End {
				return true
			}
		}
	}
	return false
}

// Length is when the wave's last fault ends.
func (w Wave) Length() time.Duration {
	var l time.Duration
	for _, f := range w.Faults {
		l = max(l, f.End)
	}
	return l
}

// Schedule draws waves from a seed: the same seed, node count and limits
// give the same waves in the same order, whatever the cluster does, so a
// failing run replays.
type Schedule struct {
	rand *rand.Rand
	n    int
	// protected are the nodes never killed or stopped (their processes
	// live through the whole run, for the growth checks).
	protected int
	// maxSpan is the longest fault phase of a wave.
	maxSpan time.Duration
}

// NewSchedule returns the schedule of seed for n nodes. The first
// protected nodes are never killed or stopped; faults of a wave last at
// most maxSpan. n must be at least 5 (a majority of three stays healthy
// beside a group of two) and protected less than a majority.
func NewSchedule(seed uint64, n, protected int, maxSpan time.Duration) (*Schedule, error) {
	if n < 5 || n > 64 {
		return nil, fmt.Errorf("nemesis: %d nodes: want 5 to 64", n)
	}
	if protected < 0 || protected > n/2 {
		return nil, fmt.Errorf("nemesis: %d protected nodes of %d: want 0 to %d", protected, n, n/2)
	}
	if maxSpan < 4*time.Second {
		return nil, fmt.Errorf("nemesis: fault span %v: want at least 4s", maxSpan)
	}
	return &Schedule{rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), n: n, protected: protected, maxSpan: maxSpan}, nil
}

// Minority is the most nodes a wave faults at once: fewer than half, so
// that a healthy majority remains to judge by.
func (s *Schedule) Minority() int { return (s.n - 1) / 2 }

// Next draws the next wave: 1 to 3 faults (as many as the minority
// allows) on disjoint groups, starting in the first half of the span and
// lasting 2s to the rest of it, so that they overlap.
func (s *Schedule) Next() Wave {
	r := s.rand
	free := r.Perm(s.n) // nodes not yet in a fault of this wave
	budget := s.Minority()
	span := s.maxSpan/2 + time.Duration(r.Int64N(int64(s.maxSpan/2)))
	var w Wave
	for k := 1 + r.IntN(3); k > 0 && budget > 0; k-- {
		kind := Kinds[r.IntN(len(Kinds))]
		size := 1
		if !kind.process() {
			size = 1 + r.IntN(min(budget, 3))
		}
		var group []int
		for _, i := range free {
			if len(group) == size {
				break
			}
			if kind.process() && i < s.protected {
				continue
			}
			group = append(group, i)
		}
		if len(group) < size {
			continue
		}
		free = slices.DeleteFunc(free, func(i int) bool { return slices.Contains(group, i) })
		budget -= size
		slices.Sort(group)
		start := time.Duration(r.Int64N(int64(span / 2)))
		end := start + 2*time.Second + time.Duration(r.Int64N(int64(span-start-2*time.Second)+1))
		f := Fault{Kind: kind, Nodes: group, Start: start.Round(100 * time.Millisecond), End: end.Round(100 * time.Millisecond)}
		if kind == Loss {
			f.LossPct = 5 + r.IntN(26)
		}
		w.Faults = append(w.Faults, f)
	}
	return w
}

// process reports whether the fault stops the node's process.
func (k Kind) process() bool { return k == KillSameIP || k == KillNewIP || k == Term }

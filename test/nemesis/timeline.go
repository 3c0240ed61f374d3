package nemesis

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Timeline records, per node name, when faults hit it, as they were
// applied (not as scheduled): the judge of which failures were false.
type Timeline struct {
	// Grace is how long after a fault ends the node still counts as hit:
	// a suspicion begun during the fault may end in a failure up to
	// memberlist's longest suspicion timeout later.
	Grace time.Duration
	spans map[string][]span
}

type span struct {
	kind       Kind
	start, end time.Time // end is zero while the fault lasts
}

// NewTimeline returns an empty timeline with the given grace.
func NewTimeline(grace time.Duration) *Timeline {
	return &Timeline{Grace: grace, spans: map[string][]span{}}
}

// Begin records that a fault of kind hit node at t.
func (tl *Timeline) Begin(node string, kind Kind, t time.Time) {
	tl.spans[node] = append(tl.spans[node], span{kind: kind, start: t})
}

// End records that the open fault of kind on node ended at t.
func (tl *Timeline) End(node string, kind Kind, t time.Time) {
	s := tl.spans[node]
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].kind == kind && s[i].end.IsZero() {
			s[i].end = t
			return
		}
	}
}

// Hit returns the kind of a fault that hit node at t (counting the
// grace after its end), or "" when the node was healthy then.
func (tl *Timeline) Hit(node string, t time.Time) Kind {
	for _, s := range tl.spans[node] {
		if !t.Before(s.start) && (s.end.IsZero() || !t.After(s.end.Add(tl.Grace))) {
			return s.kind
		}
	}
	return ""
}

// Faults returns how many faults of each kind were applied.
func (tl *Timeline) Faults() map[Kind]int {
	out := map[Kind]int{}
	for _, ss := range tl.spans {
		for _, s := range ss {
			out[s.kind]++
		}
	}
	return out
}

// LogEvent is one membership event a node logged.
type LogEvent struct {
	Time     time.Time
	Observer string // the node that logged it
	Type     string // join, update, leave, fail
	Peer     string
}

// Verdict sorts the failures (fail events) observers logged.
type Verdict struct {
	// False are failures of a healthy member logged by a healthy member:
	// the goal is none.
	False []LogEvent
	// ByStarved are failures of a healthy member logged by a CPU-starved
	// one (Lifeguard's case: the slow member blames the others).
	ByStarved []LogEvent
	// ByFaulted are failures of a healthy member logged by a member hit
	// by another fault (a partitioned member sees the others fail).
	ByFaulted []LogEvent
	// OfFaulted are failures of a member hit by a fault: expected, and for
	// a starved member a flap.
	OfFaulted []LogEvent
	// OfStarvedByHealthy counts, per starved member, the failures healthy
	// members logged about it while it was starved: its flaps.
	OfStarvedByHealthy map[string]int
}

// Judge sorts every fail event in evs by the timeline.
func (tl *Timeline) Judge(evs []LogEvent) Verdict {
	v := Verdict{OfStarvedByHealthy: map[string]int{}}
	for _, e := range evs {
		if e.Type != "fail" {
			continue
		}
		obs, peer := tl.Hit(e.Observer, e.Time), tl.Hit(e.Peer, e.Time)
		switch {
		case peer != "":
			v.OfFaulted = append(v.OfFaulted, e)
			if peer == Starve && obs == "" {
				v.OfStarvedByHealthy[e.Peer]++
			}
		case obs == Starve:
			v.ByStarved = append(v.ByStarved, e)
		case obs != "":
			v.ByFaulted = append(v.ByFaulted, e)
		default:
			v.False = append(v.False, e)
		}
	}
	return v
}

// Flaps is the number of failures healthy members logged about starved
// ones, summed over the starved members.
func (v Verdict) Flaps() int {
	n := 0
	for _, c := range v.OfStarvedByHealthy {
		n += c
	}
	return n
}

// Describe lists events for a failure message.
func Describe(evs []LogEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s logged %s of %s", e.Time.Format("15:04:05.000"), e.Observer, e.Type, e.Peer)
	}
	return b.String()
}

// Fold is what a node's events leave: the names of the members it has
// joined (or updated) and not seen leave or fail since, sorted.
func Fold(evs []LogEvent) []string {
	live := map[string]bool{}
	for _, e := range evs {
		switch e.Type {
		case "join", "update":
			live[e.Peer] = true
		case "leave", "fail":
			delete(live, e.Peer)
		}
	}
	var out []string
	for n := range live {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SortEvents orders events by time (stable: a node's own order is kept).
func SortEvents(evs []LogEvent) {
	slices.SortStableFunc(evs, func(a, b LogEvent) int { return a.Time.Compare(b.Time) })
}

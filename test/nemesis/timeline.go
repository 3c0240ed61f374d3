package nemesis

import (
	"fmt"
	"net"
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
	addrs map[string][]addrSince
}

// addrSince is an address a node was started with, and when.
type addrSince struct {
	addr  string
	since time.Time
}

type span struct {
	kind       Kind
	start, end time.Time // end is zero while the fault lasts
}

// NewTimeline returns an empty timeline with the given grace.
func NewTimeline(grace time.Duration) *Timeline {
	return &Timeline{Grace: grace, spans: map[string][]span{}, addrs: map[string][]addrSince{}}
}

// Started records that node was (re)started at t with the gossip address
// addr: a failure logged later about another address of the node is a
// failure of a process that is gone, not of the new one.
func (tl *Timeline) Started(node, addr string, t time.Time) {
	tl.addrs[node] = append(tl.addrs[node], addrSince{addr, t})
}

// addrAt returns node's address at t, "" when none was recorded.
func (tl *Timeline) addrAt(node string, t time.Time) string {
	a := ""
	for _, s := range tl.addrs[node] {
		if !s.since.After(t) {
			a = s.addr
		}
	}
	return a
}

// String lists the faults as applied, by node, for a failure report.
func (tl *Timeline) String() string {
	var b strings.Builder
	var nodes []string
	for n := range tl.spans {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		for _, s := range tl.spans[n] {
			fmt.Fprintf(&b, "%s %s %s..%s\n", n, s.kind, s.start.Format("15:04:05.000"), s.end.Format("15:04:05.000"))
		}
	}
	for n, as := range tl.addrs {
		for _, a := range as {
			fmt.Fprintf(&b, "%s started at %s %s\n", n, a.addr, a.since.Format("15:04:05.000"))
		}
	}
	return b.String()
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
	Addr     string // the peer's address, "" when the log does not say
}

// Verdict sorts the failures (fail events) observers logged.
type Verdict struct {
	// False are failures of a healthy member logged by a healthy member:
	// the goal is none.
	False []LogEvent
	// FalseFromFaulted are false failures that came from an accusation
	// by a member hit by a fault: the last member to declare the peer dead
	// itself before the failure was hit then, or the peer refuted a
	// suspect or dead message from such a member within accusationWindow
	// (a member on the far side of a healed partition still gossiping
	// the deaths it declared there). They are counted in False too.
	FalseFromFaulted []LogEvent
	// ByStarved are failures of a healthy member logged by a CPU-starved
	// one (Lifeguard's case: the slow member blames the others).
	ByStarved []LogEvent
	// ByFaulted are failures of a healthy member logged by a member hit
	// by another fault (a partitioned member sees the others fail).
	ByFaulted []LogEvent
	// OfFaulted are failures of a member hit by a fault: expected, and for
	// a starved member a flap.
	OfFaulted []LogEvent
	// OfGone are failures of a process that was replaced by one at
	// another address (a restart at a new IP): true, if late.
	OfGone []LogEvent
	// OfStarvedByHealthy counts, per starved member, the failures healthy
	// members logged about it while it was starved: its flaps.
	OfStarvedByHealthy map[string]int
}

// accusationWindow is how close to a failure a refutation must be
// logged to name where the failure came from; markingWindow is how long
// before a failure the declaration it spreads may have been made.
const (
	accusationWindow = 3 * time.Second
	markingWindow    = 10 * time.Second
)

// Judge sorts every fail event in evs by the timeline; accs are the
// refutations the members logged, to tell where false failures came from.
func (tl *Timeline) Judge(evs []LogEvent, accs []Accusation) Verdict {
	v := Verdict{OfStarvedByHealthy: map[string]int{}}
	for _, e := range evs {
		if e.Type != "fail" {
			continue
		}
		obs, peer := tl.Hit(e.Observer, e.Time), tl.Hit(e.Peer, e.Time)
		switch cur := tl.addrAt(e.Peer, e.Time); {
		case e.Addr != "" && cur != "" && hostOf(e.Addr) != hostOf(cur):
			v.OfGone = append(v.OfGone, e)
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
			if tl.fromFaulted(e, accs) {
				v.FalseFromFaulted = append(v.FalseFromFaulted, e)
			}
		}
	}
	return v
}

// fromFaulted reports whether the failure e of a healthy member was
// refuted, within accusationWindow, as an accusation by a member hit by a
// fault then.
func (tl *Timeline) fromFaulted(e LogEvent, accs []Accusation) bool {
	var origin *Accusation // the last declaration of the peer's death
	for i, a := range accs {
		if a.Accused != e.Peer {
			continue
		}
		if a.Kind == "marked" {
			if d := e.Time.Sub(a.Time); d >= -500*time.Millisecond && d <= markingWindow && (origin == nil || a.Time.After(origin.Time)) {
				origin = &accs[i]
			}
			continue
		}
		if a.Time.Sub(e.Time).Abs() <= accusationWindow && tl.Hit(a.From, a.Time) != "" {
			return true
		}
	}
	return origin != nil && tl.Hit(origin.From, origin.Time) != ""
}

// hostOf is addr's host ("ip" from "ip:port"; serf logs the IP alone).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
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
		fmt.Fprintf(&b, "\n  %s %s logged %s of %s at %s", e.Time.Format("15:04:05.000"), e.Observer, e.Type, e.Peer, e.Addr)
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

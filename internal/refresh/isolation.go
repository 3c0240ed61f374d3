package refresh

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gencluster/gencluster/internal/joinfail"
)

// IsolationIntervals is how many refresh intervals discovery must go on
// listing addresses that this node, alone, cannot join before the node
// counts as isolated (Status.Isolated). One interval is what a healed
// partition takes to re-join; three leave room for a peer that is
// restarting.
const IsolationIntervals = 3

// Status is what the loop found out about this node's place in the
// cluster, for the Node's readiness, health and metrics. It is safe for
// concurrent use; the zero value is a node that is not isolated.
type Status struct {
	mu         sync.Mutex
	isolated   bool
	reason     string
	notMembers int
}

// Isolated reports whether the node is isolated: it has no other live
// member, for at least IsolationIntervals refresh intervals discovery has
// listed addresses it could not join, and either the failures show a
// mismatch of configuration (key, encryption, label, not a gossip port)
// or the node never had another member (its seeds refuse or time out
// since it started). reason is the diagnosis of the failures and what to
// do, on one line.
func (s *Status) Isolated() (isolated bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isolated, s.reason
}

// NotMembers returns how many discovered addresses are not live members
// and could not be joined on the last try.
func (s *Status) NotMembers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notMembers
}

func (s *Status) set(isolated bool, reason string, notMembers int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.isolated, s.reason, s.notMembers = isolated, reason, notMembers
}

// failing is the state of one discovered address whose joins fail.
type failing struct {
	since    time.Time     // first failure of the current run of failures
	err      error         // last failure
	logged   joinfail.Kind // kind of the last failure logged at Info (joinlog.go)
	loggedAt time.Time     // when
}

// watch follows the failing addresses for the isolation check and the
// join-failure log. Only the loop's goroutine uses it.
type watch struct {
	status   *Status
	bound    time.Duration // 0: never isolated (no refresh loop)
	failing  map[string]*failing
	isolated bool
	hadPeers bool // another member was live at some pass
}

func newWatch(c Config) *watch {
	s := c.Status
	if s == nil {
		s = new(Status)
	}
	return &watch{status: s, bound: IsolationIntervals * c.Interval, failing: make(map[string]*failing)}
}

// alone reports whether this node is the only live member it knows.
func (r *Loop) alone() bool {
	n := 0
	for _, m := range r.dist.Members() {
		if m.State.Live() {
			n++
		}
	}
	return n <= 1
}

// assess runs after every pass: it forgets the failures of addresses that
// are live or no longer discovered, updates the Status, and logs, once
// each, the start and the end of an isolation.
func (r *Loop) assess(now time.Time) {
	w := r.watch
	live := r.liveAddrs()
	listed := make(map[string]bool, len(r.addrs))
	for _, a := range r.addrs {
		listed[a] = true
	}
	var stuck []string // failing for longer than the bound
	for a, f := range w.failing {
		if live[a] || !listed[a] {
			delete(w.failing, a)
			continue
		}
		if w.bound > 0 && now.Sub(f.since) >= w.bound {
			stuck = append(stuck, a)
		}
	}
	alone := r.alone()
	if !alone {
		w.hadPeers = true
	}
	slices.Sort(stuck)
	kinds := make([]joinfail.Kind, len(stuck))
	for i, a := range stuck {
		kinds[i] = joinfail.KindOf(w.failing[a].err)
	}
	k := joinfail.Worst(kinds...)
	// A node that has had peers and lost them all to refusals or
	// timeouts may only be the last survivor of failures, which it
	// cannot tell from a partition: it stays ready (readiness must
	// survive failures). A mismatch is a fault of configuration, never a
	// failure: it isolates any node.
	isolated := alone && len(stuck) > 0 && (k.Mismatch() || !w.hadPeers)
	reason := ""
	if isolated {
		first := stuck[slices.Index(kinds, k)] // an address that shows k
		var took time.Duration                 // since the oldest failure
		for _, a := range stuck {
			took = max(took, now.Sub(w.failing[a].since).Round(time.Millisecond))
		}
		reason = k.String() + " (" + k.Detail() + ") joining " + strings.Join(stuck, ",") + ": " + k.Advice(true)
		if !w.isolated {
			r.logger.Error("isolated: discovery lists addresses this node cannot join, and it runs alone",
				"addrs", strings.Join(stuck, ","), "diagnosis", k.String(), "detail", k.Detail(),
				"advice", k.Advice(true), "for", took, "err", joinfail.Wrap(first, w.failing[first].err).Cause)
		}
	} else if w.isolated {
		if alone {
			r.logger.Info("no longer isolated: discovery no longer lists an address this node cannot join")
		} else {
			r.logger.Info("no longer isolated: joined the cluster", "members", len(live))
		}
	}
	w.isolated = isolated
	w.status.set(isolated, reason, len(w.failing))
}

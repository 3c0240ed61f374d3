package gencluster

import (
	"context"
	"fmt"
)

// MinMembers returns the minimum cluster size set with WithMinMembers.
func (n *Node) MinMembers() int { return max(1, n.cfg.minMembers) }

// Ready reports whether the node is ready to serve, and how many live
// members it sees now. Readiness latches: the node becomes ready once the
// cluster has formed, that is once it has seen MinMembers live members
// (itself included), and stays ready when members fail or leave after
// that, so that one failure does not turn every survivor not ready. It is
// not ready again only while it is isolated (see Isolated), and for good
// once it is draining (Drain was called: a node about to leave should get
// no new traffic, so /readyz turns it out of a Service's endpoints) or
// stopped. WaitForMembers counts the members now instead.
func (n *Node) Ready() (ready bool, members int) {
	members = len(n.Members())
	if n.ctx.Err() != nil || n.draining.Load() {
		return false, members
	}
	if members >= n.MinMembers() {
		n.formed.Store(true)
	}
	isolated, _ := n.Isolated()
	return n.formed.Load() && !isolated, members
}

// Isolated reports whether the node is cut off from the cluster that
// discovery lists: it has no other live member, and for
// refresh.IsolationIntervals (3) refresh intervals discovery has gone on
// listing addresses that it could not join. reason is the diagnosis (key
// mismatch, encryption mismatch, label mismatch, not a gossip port,
// refused, unreachable), the addresses and what to do, on one line. The
// condition clears when the node joins a member, or when discovery stops
// listing the addresses. A node that joins only once
// (WithRefreshInterval(0)) is never reported isolated.
func (n *Node) Isolated() (isolated bool, reason string) {
	if n.ctx.Err() != nil {
		return false, ""
	}
	return n.status.Isolated()
}

// latchFormed sets the readiness latch (formed) once MinMembers live
// members are seen, from a subscription of its own, so that the latch
// holds even if nobody asked Ready while the cluster was whole.
func (n *Node) latchFormed() {
	snap, q, cancel := n.hub.Subscribe()
	live := make(map[string]bool, len(snap))
	for _, m := range snap {
		live[m.Name] = true
	}
	n.goRun(func(context.Context) {
		defer cancel()
		for len(live) < n.MinMembers() {
			ev, ok := <-q.C()
			if !ok {
				return
			}
			if ev.Gone() {
				delete(live, ev.Member.Name)
			} else {
				live[ev.Member.Name] = true
			}
		}
		n.formed.Store(true)
	})
}

// WaitForMembers waits until this node sees at least want live members,
// itself included (want 0 means MinMembers). It watches the event stream
// of Subscribe rather than polling. It returns nil once there are enough;
// ErrStopped (wrapped) when the node is stopped or stops first; and when
// ctx ends first, ctx's error wrapped with how many members were seen.
func (n *Node) WaitForMembers(ctx context.Context, want int) error {
	if want < 0 {
		return fmt.Errorf("gencluster: WaitForMembers %d: negative", want)
	}
	if want == 0 {
		want = n.MinMembers()
	}
	if err := n.stopped("WaitForMembers"); err != nil {
		return err
	}
	snap, events, cancel := n.Subscribe()
	defer cancel()
	live := make(map[string]bool, len(snap))
	for _, m := range snap {
		live[m.Name] = true
	}
	for len(live) < want {
		select {
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("gencluster: WaitForMembers: saw %d of %d members: %w", len(live), want, ErrStopped)
			}
			if ev.Gone() {
				delete(live, ev.Member.Name)
			} else {
				live[ev.Member.Name] = true
			}
		case <-ctx.Done():
			return fmt.Errorf("gencluster: WaitForMembers: saw %d of %d members: %w", len(live), want, ctx.Err())
		}
	}
	return nil
}

package gencluster

import "github.com/gencluster/gencluster/internal/view"

// The node's membership view (package internal/view) is the one record of
// who is live: the Dist's events are applied to it (or, for a Dist that
// reports none, its Members are compared with it), and Members, Ready,
// the metrics, the handler, the snapshot and every event stream read it.

// Members returns the live members, this node included, sorted by name:
// the node's membership view, which its event streams add up to. A
// member memberlist suspects is live (StateAlive) until it is declared
// failed: memberlist does not expose suspicion. A stopped node has no
// members: it returns none.
func (n *Node) Members() []Member {
	ms, _ := n.snapshot()
	return ms
}

// snapshot returns the members and the view's version, read together
// (nil and 0 once the node is stopped). The version advances with every
// change of the view: a member joined, left or failed, or its address,
// state, metadata or boot id changed.
func (n *Node) snapshot() ([]Member, uint64) {
	if n.ctx.Err() != nil {
		return nil, 0
	}
	n.poll()
	return n.view().Snapshot()
}

// view is the node's membership view.
func (n *Node) view() *view.View { return n.hub.View() }

// Events returns the node's event stream, which starts with this node's own
// join. It never blocks gossip: when the reader falls behind, a member's
// pending events coalesce into its latest state, so memory is bounded by
// the number of members. Per member, events arrive in order, and a reader
// that drains the stream ends with the view Members() returns. The channel
// is closed by Leave and Close.
//
// Each event's Version is the view's version once it was applied, the
// number /members reports in its Gencluster-View-Version header: 1, 2, 3...
// for a reader that keeps up. A member's coalesced event carries its
// latest version; the versions of the events merged into it are skipped,
// and, since members keep the order in which they first had an event
// pending, a lagging reader may get one member's event at version 10
// before another's at 5. Use Ownership for a change stream whose versions
// always match the view's.
func (n *Node) Events() <-chan Event { return n.events }

// Subscribe returns the current members and a stream of every change after
// that snapshot, with the guarantees of Events. Each subscriber has its own
// stream; cancel ends it (closing the channel) and is safe to call more
// than once. Streams also close when the node stops. A stopped node
// returns no members and a closed stream. Every event is later than the
// snapshot: its Version is above the snapshot's version.
func (n *Node) Subscribe() (snapshot []Member, events <-chan Event, cancel func()) {
	if n.ctx.Err() == nil {
		n.poll()
	}
	snap, q, cancel := n.hub.Subscribe()
	if n.ctx.Err() != nil {
		snap = nil // the stream closes: the node's context ended
	}
	return snap, q.C(), cancel
}

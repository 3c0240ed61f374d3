package gencluster

import "context"

// Dist is gen_cluster's gc_dist behaviour: how a Node connects to the peers
// that discovery finds. The Node drives it from its refresh loop:
//
//   - Connect(addr) for every discovered address that is not a live member
//     (with per-address backoff), to join that peer's cluster;
//   - Members() to learn who is live.
//
// There is no disconnect: the Node never forces a peer out because it
// vanished from discovery (a node being drained is removed from DNS before
// it stops, and must still be able to hand off its work), and the Dist's
// own failure detection removes peers that are gone.
//
// Everything else a Dist can do is optional: the Node asks for it with a
// type assertion on the interfaces below (EventSource, Leaver, io.Closer,
// Self, MetaUpdater, Drainer), as memberlist asks its delegates, and each one says
// what the Node does without it. The Node never asks which implementation
// it has.
//
// The Node keeps one membership view, which Members, Ready, the metrics,
// the handler, the snapshot and every event stream read: it is fed by the
// Dist's events (EventSource), or, for a Dist without them, by comparing
// the Dist's Members() with it.
//
// The default Dist is package gossip's memberlist adapter. Another
// implementation can be passed with WithDist.
type Dist interface {
	// Connect joins the cluster of the peer at addr (host:port).
	Connect(ctx context.Context, addr string) error
	// Members returns the live members, this node included.
	Members() []Member
}

// EventSource is implemented by a Dist that reports membership changes
// itself. Notify is called once, before the Node starts, with the function
// that receives every change; that function never blocks, and the Node's
// view (Node.Members) is what the changes add up to: an event that
// changes nothing (a join or update of a member as the view already
// holds it, a removal of a member it does not hold) is dropped. For a Dist
// that is not an EventSource, the Node derives events by comparing the
// Dist's Members() with its view after every refresh and on every read of
// the view (Node.Members, Ready, the handler): it cannot then tell a
// leave from a failure, and reports EventFail.
type EventSource interface {
	Notify(func(Event))
}

// Leaver is implemented by a Dist that can leave gracefully, so that the
// others report an EventLeave for this node rather than an EventFail.
// Node.Leave calls Leave with its ctx (which bounds the announcement) and
// does not call Close after it: Leave must release everything Close
// would. For a Dist that is not a Leaver, Node.Leave is Node.Close (the
// Dist is closed if it is an io.Closer), except that a ctx that has
// already ended is reported as Leave's error.
//
// A Dist that is an io.Closer is closed by Node.Close, and by Start when
// Start fails after the Node adopted it. A Dist that is not has nothing
// to close: the Node only stops calling it.
type Leaver interface {
	Leave(ctx context.Context) error
}

// Self is implemented by a Dist that knows this node as the cluster sees
// it (with its boot id, as the others received its metadata).
// Node.LocalMember returns what LocalMember returns. Without it, the Node
// builds Member{Name, Addr, Meta, StateAlive} from its options (the name,
// WithAdvertiseAddr, WithMeta), StateDraining once Drain was called.
type Self interface {
	LocalMember() Member
}

// MetaUpdater is implemented by a Dist that can change this node's
// metadata while it runs. Node.UpdateMeta calls UpdateMeta with its ctx
// and the metadata, once the Node checked it is running, and returns its
// error wrapped. Without it, Node.UpdateMeta fails: the Dist owns its
// metadata.
type MetaUpdater interface {
	UpdateMeta(ctx context.Context, meta map[string]string) error
}

// Drainer is implemented by a Dist that can mark this node draining
// (StateDraining) and collect the other members' acknowledgements.
// Node.Drain calls Drain once it checked the node runs; without it,
// Node.Drain fails with ErrDrainUnsupported.
//
// Drain marks this node draining for the rest of its life (every member's
// view, and so Members and the events, then holds it in StateDraining),
// and returns when every other live member has acknowledged that its view
// holds the drain, or has gone, or ctx ends: one reply per member asked,
// sorted by name. Its error is for a drain that could not run (the Dist
// stopped: ErrStopped); members that did not acknowledge are reported in
// the replies (DrainTimeout, DrainUnreachable) with a nil error, and
// Node.Drain turns them into ErrNotAcknowledged. A Dist should keep the
// draining state through a later Leave, so that the others see draining,
// then the leave.
type Drainer interface {
	Drain(ctx context.Context) ([]DrainReply, error)
}

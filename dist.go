package gencluster

import "context"

// Dist is gen_cluster's gc_dist behaviour: how a Node connects to the peers
// that discovery finds. The Node drives it from its refresh loop:
//
//   - Connect(addr) for every discovered address that is not a live member
//     (with per-address backoff), to join that peer's cluster;
//   - Members() to learn who is live (and to serve Node.Members).
//
// There is no disconnect: the Node never forces a peer out because it
// vanished from discovery (a node being drained is removed from DNS before
// it stops, and must still be able to hand off its work), and the Dist's
// own failure detection removes peers that are gone.
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
// that receives every change; that function never blocks. For a Dist that
// is not an EventSource, the Node derives events by comparing Members()
// after every refresh (it cannot then tell a leave from a failure, and
// reports EventFail).
type EventSource interface {
	Notify(func(Event))
}

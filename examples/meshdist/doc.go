// Package meshdist is a gencluster.Dist over plain TCP: every node keeps
// one connection to every other node (a full mesh, as Erlang distribution
// does) and heartbeats on it. It is the second implementation of
// gencluster's gc_dist seam, next to the default memberlist one, and needs
// only the standard library.
//
// Start one with New, then hand it to gencluster.Start with the options
// NodeOptions returns (its name, address and WithDist):
//
//	d, err := meshdist.New(meshdist.Config{Name: "api-1", Addr: "10.0.0.2:7946"})
//	...
//	node, err := gencluster.Start(ctx, append(d.NodeOptions(), gencluster.WithSeeds(s))...)
//	...
//	node.Leave(ctx)
//	d.Leave(ctx) // the goodbyes: the peers report EventLeave, not EventFail
//
// How it works:
//
//   - Connect(addr) dials addr, and both sides exchange a handshake (name,
//     address, metadata, boot id, and the names and addresses of the
//     members they know). Each side then connects to the members it did
//     not know, so one Connect pulls the node into the whole mesh. A new
//     member is also announced to the others, who connect to it.
//   - Every Config.Interval each side sends a heartbeat on each
//     connection. A connection silent for MissedHeartbeats intervals is
//     closed. When a peer's last connection closes, the peer is dialed
//     again once; if that fails (within DialTimeout) the peer is reported
//     failed. A crashed process (its sockets reset by its kernel) is thus
//     reported within DialTimeout, usually in milliseconds; a silent one
//     (a frozen process, a cut cable) within
//     MissedHeartbeats×Interval + DialTimeout.
//   - Leave sends a goodbye on every connection: the peers report
//     EventLeave. Close just drops the connections: the peers report
//     EventFail.
//   - Every start draws a new boot id. A peer seen again with a new boot id
//     (it restarted) is reported failed, then joined.
//   - A node claiming the name of a live member at another address is
//     refused at the handshake with an error that names the holder
//     (errors.Is(err, gencluster.ErrNameConflict)).
//
// Frames are length-prefixed with a hard size limit (Config.MaxFrameSize)
// and read with deadlines; a peer that sends anything malformed has its
// connection closed, with the reason logged.
//
// There is no encryption or authentication: run it on a trusted network,
// or put the connections inside one (WireGuard, a service mesh).
package meshdist

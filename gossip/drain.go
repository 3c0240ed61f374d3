package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/gencluster/gencluster/internal/drainproto"
	"github.com/gencluster/gencluster/membership"
)

// Drain: package drainproto is the protocol (wire format, asker,
// answerer); this file is its glue to memberlist. The draining state
// itself travels as flagDraining in this node's metadata (meta.go), so
// every member's NotifyUpdate turns it into StateDraining; the protocol's
// messages travel as memberlist user messages sent with SendReliable (TCP,
// encrypted and labelled by memberlist), and NotifyMsg routes those that
// start with msgDrain here.

// msgDrain is the first byte of a drain message.
const msgDrain = drainproto.Prefix

// drainOps is the Gossip's drainproto.Host and its Endpoint.
type drainOps struct {
	*drainproto.Endpoint
	g     *Gossip // its ml and addr are read once ready is set
	del   *delegate
	ready atomic.Bool // memberlist runs: messages are handled from then on
}

func newDrainOps(del *delegate, logger *slog.Logger) *drainOps {
	d := &drainOps{del: del}
	d.Endpoint = drainproto.New(d, drainproto.Config{Logger: logger, Stopped: ErrStopped})
	return d
}

// start handles messages from now on: g's memberlist runs.
func (d *drainOps) start(g *Gossip) {
	d.g = g
	d.ready.Store(true)
}

// notify is called by NotifyMsg, on memberlist's goroutines; it never
// blocks. A message that comes before start (memberlist delivers as soon
// as it is created) is dropped: the asker asks again.
func (d *drainOps) notify(b []byte) {
	if d.ready.Load() {
		d.Notify(b)
	}
}

// Self is this node, as it asks.
func (d *drainOps) Self() drainproto.Peer {
	return drainproto.Peer{Name: d.g.name, Addr: d.g.addr, Boot: d.del.life.boot, Draining: d.del.draining()}
}

// Peers returns the live members other than this node.
func (d *drainOps) Peers() []drainproto.Peer {
	var out []drainproto.Peer
	for _, m := range d.del.members() {
		if m.Name != d.g.name {
			out = append(out, peerOf(m))
		}
	}
	return out
}

// Peer returns the live member called name in this node's view.
func (d *drainOps) Peer(name string) (drainproto.Peer, bool) {
	m, ok := d.del.lookup(name)
	return peerOf(m), ok
}

func peerOf(m membership.Member) drainproto.Peer {
	return drainproto.Peer{Name: m.Name, Addr: m.Addr, Boot: uint64(m.Boot), Draining: m.State == membership.StateDraining}
}

// Send sends b to the member over memberlist's reliable channel. A dial
// is bounded by memberlist's TCPTimeout, and ends when the Gossip shuts
// down (transport.go).
func (d *drainOps) Send(to drainproto.Peer, b []byte) error {
	return d.g.sendReliable(to.Name, to.Addr, b)
}

// Pull pushes and pulls state with the member (a memberlist join of a
// member: what the refresh loop's anti-entropy does), so that this
// node's view holds what the member says of itself.
func (d *drainOps) Pull(from drainproto.Peer) error {
	_, err := d.g.ml.Join([]string{from.Addr})
	return err
}

// Drain marks this node draining for the rest of its life (flagDraining
// in its metadata, which memberlist gossips: every member's view then
// holds it as membership.StateDraining), then asks every other live
// member until each has acknowledged that its view holds it draining, or
// has gone, or ctx ends (drainproto.Endpoint.Drain). It returns one reply
// per member asked, by name; the error is nil whether or not every member
// acknowledged (the replies say), and ErrStopped once the Gossip is
// stopped. Calling it again asks again (the flag, already gossiped, is
// not broadcast anew).
//
// The metadata broadcast and the asking run together: the replies show
// when each view holds the drain, whatever way the news came.
func (g *Gossip) Drain(ctx context.Context) ([]membership.DrainReply, error) {
	if g.isStopped() {
		return nil, ErrStopped
	}
	if err := g.del.setFlag(flagDraining); err != nil {
		return nil, fmt.Errorf("gossip: drain: %w", err) // unreachable: the metadata was accepted before
	}
	bctx, cancel := context.WithCancel(ctx)
	broadcast := make(chan error, 1)
	go func() { broadcast <- g.awaitBroadcast(bctx, 0, g.announce) }()
	replies, err := g.drains.Endpoint.Drain(ctx)
	cancel()
	if berr := <-broadcast; berr != nil && !errors.Is(berr, errUnconfirmed) && !errors.Is(berr, context.Canceled) && !errors.Is(berr, ErrStopped) {
		g.logger.Debug("drain: metadata broadcast not confirmed", "err", berr)
	}
	return replies, err
}

package gossip

import (
	"math/rand/v2"
	"time"

	"github.com/hashicorp/memberlist"
)

// The metadata encoding a node sends (metaV1 or metaV2, meta.go) must be
// one every live member reads: gencluster versions before metaV2 drop
// metadata they cannot decode, and the flags (leaving, draining) and the
// boot id with it. Every member advertises the newest encoding it reads as
// memberlist's delegate protocol maximum (Node.DMax, sent in every alive
// message; versions before metaV2 advertise 0). So a node sends metaV2
// while every live member it knows advertises at least metaV2, and metaV1
// otherwise:
//
//   - It starts with metaV2: in a cluster of this version, as every
//     cluster is once its rollout ends, no member ever re-sends its
//     metadata. Starting with metaV1 and switching after the join would
//     double the alive messages of every formation.
//   - When a member that reads only metaV1 joins (or is found on joining:
//     a rolling upgrade, or a rollback), the node switches to metaV1 at
//     once and broadcasts it (memberlist's UpdateNode). Until the update
//     reaches them, the older members see this node with no metadata, log
//     that they could not decode it, and then see an update with it.
//   - When the last such member leaves or fails, the node switches back
//     after a random wait of wireUpDelay to twice that: so that the end of
//     a rollout does not rebroadcast every member's metadata at once, and
//     an older member that fails and comes back does not flip every node
//     twice.
//
// The switch is decided by the delegate's callbacks (under memberlist's
// node lock: they note and kick) and made by wireLoop, which may call into
// memberlist.

// defaultWireUpDelay is the least wait before a node goes back to metaV2.
const defaultWireUpDelay = 10 * time.Second

// noteReaderLocked records which encodings live member n reads; it runs
// under d.mu in the join and update callbacks, so it must not block.
func (d *delegate) noteReaderLocked(n *memberlist.Node) {
	_, had := d.oldReaders[n.Name]
	switch old := n.DMax < metaV2; {
	case old && !had:
		if d.oldReaders == nil {
			d.oldReaders = make(map[string]struct{})
		}
		d.oldReaders[n.Name] = struct{}{}
	case !old && had:
		delete(d.oldReaders, n.Name)
	default:
		return
	}
	d.kickWireLocked()
}

// forgetReaderLocked drops a member that left or failed.
func (d *delegate) forgetReaderLocked(name string) {
	if _, had := d.oldReaders[name]; had {
		delete(d.oldReaders, name)
		d.kickWireLocked()
	}
}

// kickWireLocked wakes wireLoop. A delegate built without one (in tests)
// has a nil wireKick, on which the send is never ready.
func (d *delegate) kickWireLocked() {
	select {
	case d.wireKick <- struct{}{}:
	default: // a kick is pending: wireLoop reads the state when it wakes
	}
}

// wantWire returns the encoding every live member reads, and one member
// that reads only metaV1 (for the log), if any.
func (d *delegate) wantWire() (byte, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name := range d.oldReaders {
		return metaV1, name
	}
	return metaV2, ""
}

// setWire re-encodes the local metadata in encoding v and reports whether
// that changed it.
func (d *delegate) setWire(v byte) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.wire == v {
		return false, nil
	}
	b, err := encodeMeta(d.user, d.flags, d.life, v)
	if err != nil {
		return false, err
	}
	d.meta, d.wire = b, v
	return true, nil
}

// wireSent returns the encoding the node sends.
func (d *delegate) wireSent() byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.wire
}

// wireLoop switches the metadata encoding when the members change (see
// above), until stop is closed.
func (g *Gossip) wireLoop(stop <-chan struct{}, kick <-chan struct{}, upDelay time.Duration) {
	var up *time.Timer
	var upC <-chan time.Time
	disarm := func() {
		if up != nil {
			up.Stop()
		}
		up, upC = nil, nil
	}
	defer disarm()
	for {
		fired := false
		select {
		case <-stop:
			return
		case <-kick:
		case <-upC:
			fired = true
		}
		want, oldReader := g.del.wantWire()
		switch cur := g.del.wireSent(); {
		case want == cur:
			disarm()
		case want < cur || fired:
			disarm()
			g.switchWire(want, oldReader)
		case upC == nil:
			up = time.NewTimer(upDelay + rand.N(upDelay+1))
			upC = up.C
		}
	}
}

// switchWire re-encodes the local metadata in v and broadcasts it, without
// waiting for the broadcast (memberlist sends it with the next gossip).
// After a leave memberlist ignores the update, so the node's leave stands.
func (g *Gossip) switchWire(v byte, oldReader string) {
	changed, err := g.del.setWire(v)
	if err != nil {
		// Unreachable: metadata is refused unless it fits metaV1.
		g.logger.Error("cannot re-encode the metadata", "version", v, "err", err)
		return
	}
	if !changed {
		return
	}
	if v == metaV1 {
		g.logger.Info("a member runs an older gencluster version: sending metadata in the encoding it reads", "peer", oldReader, "metadata_version", v)
	} else {
		g.logger.Info("every live member reads the compact metadata encoding: sending it", "metadata_version", v)
	}
	// A timeout of 0 would wait for the broadcast without bound.
	_ = g.announce(time.Nanosecond)
}

package gossip

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/membership"
)

// Held removals. memberlist's suspect and dead messages name a node but
// not its address or life. While a second node has a live member's name
// (a name thief, refused by every member that knew the original), the
// thief's leave, or its failure as seen by a member that did accept it,
// reaches the others as a dead message about the name, and removes the
// real member. That member refutes it as soon as it hears of it, and
// memberlist reports it joined again: services saw it leave and come back
// for nothing. A cut-off member's stale dead message after a partition
// heals does the same (doubt.go).
//
// So when a member whose name another address claimed recently (within
// claimTTL), or any member while removals are doubted, is removed without
// having announced its leave, the delegate holds the event. The adapter
// asks the member at once whether it is alive, two ways side by side: a
// ping (memberlist's, answered within ProbeTimeout by a live member) and a
// push-pull join of its address, which also tells it of the accusation,
// so it refutes at once. If the ping goes unanswered and the join has not
// succeeded by then, or the join fails and the ping went unanswered, the
// removal is reported then. If either succeeds, the removal is reported
// only if the member has not refuted it within holdTime; a refutation by
// the same life drops it, unseen.

// heldEvent is one removal the delegate has not reported yet.
type heldEvent struct {
	ev  membership.Event
	why string // why it is held, for the log
}

// holdTime is how long a held removal waits for the member's refutation
// once the member answered: the member needs one gossip of the accusation
// and one of its refutation, a few gossip rounds each, plus a probe
// interval for a loaded host.
func (g *Gossip) holdTime() time.Duration {
	return 2*g.probe + 20*g.roundTime()
}

// scheduleHold runs under memberlist's node lock: it only starts the
// goroutines that ask the member and release the event (as
// scheduleReclaim, it takes waitMu, which is never held while memberlist's
// node lock is taken).
func (g *Gossip) scheduleHold(m membership.Member, h *heldEvent) {
	g.waitMu.Lock()
	defer g.waitMu.Unlock()
	if g.stopped {
		return
	}
	wait := g.holdTime()
	stop, ml := g.stopCh, g.ml
	g.waits.Go(func() {
		// Both run beside the timer: an address that does not answer at
		// all takes TCPTimeout to fail a join, longer than the hold; the
		// ping ends within ProbeTimeout.
		pinged, joined := make(chan error, 1), make(chan error, 1)
		if ml != nil {
			g.waits.Go(func() { pinged <- pingMember(ml, m) })
			g.waits.Go(func() { _, err := ml.Join([]string{m.Addr}); joined <- err })
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		var answered, pingFailed, joinFailed bool
		for {
			var err error
			select {
			case err = <-pinged:
				pingFailed = err != nil
			case err = <-joined:
				joinFailed = err != nil
			case <-t.C:
				g.del.releaseHeld(m.Name, h)
				return
			case <-stop:
				return
			}
			answered = answered || err == nil
			if !answered && pingFailed {
				// A join still pending is no answer: a live member's
				// push-pull takes milliseconds, not a ProbeTimeout.
				g.logger.Debug("a member whose removal was held does not answer; reporting it", "peer", m.Name, "addr", m.Addr, "err", err, "join_failed", joinFailed)
				g.del.releaseHeld(m.Name, h)
				return
			}
		}
	})
}

// pingMember sends m one of memberlist's pings and waits for its ack,
// at most memberlist's ProbeTimeout.
func pingMember(ml *memberlist.Memberlist, m membership.Member) error {
	ap, err := netip.ParseAddrPort(m.Addr)
	if err != nil {
		return fmt.Errorf("ping %s: address %q: %w", m.Name, m.Addr, err)
	}
	_, err = ml.Ping(m.Name, net.UDPAddrFromAddrPort(ap))
	return err
}

// releaseHeld reports the held removal h of name, unless the member came
// back or was removed again since.
func (d *delegate) releaseHeld(name string, h *heldEvent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.held[name] != h {
		return
	}
	delete(d.held, name)
	d.emitLocked(h.ev)
}

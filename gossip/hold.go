package gossip

import (
	"time"

	"github.com/gencluster/gencluster/membership"
)

// Held removals. memberlist's suspect and dead messages name a node but
// not its address or life. While a second node has a live member's name
// (a name thief, refused by every member that knew the original), the
// thief's leave, or its failure as seen by a member that did accept it,
// reaches the others as a dead message about the name, and removes the
// real member. That member refutes it as soon as it hears of it, and
// memberlist reports it joined again: services saw it leave and come back
// for nothing.
//
// So when a member whose name another address claimed recently (within
// claimTTL) is removed without having announced its leave, the delegate
// holds the event. The adapter asks the member at once for its state (a
// push-pull join of its address, which also tells it of the accusation,
// so it refutes). If the member's address does not answer, the removal is
// reported at once. If it answers, the removal is reported only if the
// member has not refuted it within holdTime; a refutation by the same
// life drops it, unseen.

// heldEvent is one removal the delegate has not reported yet.
type heldEvent struct {
	ev membership.Event
}

// holdTime is how long a removal of a claimed name waits for the
// member's refutation once its address answered: the member needs one
// gossip of the accusation and one of its refutation, a few gossip rounds
// each, plus a probe interval for a loaded host.
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
		// The join runs beside the timer: an address that does not
		// answer at all takes TCPTimeout to fail, longer than the hold.
		joined := make(chan error, 1)
		if ml != nil {
			g.waits.Go(func() { _, err := ml.Join([]string{m.Addr}); joined <- err })
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		for {
			select {
			case err := <-joined:
				if err == nil {
					continue // it answered: wait for its refutation
				}
				g.logger.Debug("a member removed while its name was claimed does not answer; reporting it", "peer", m.Name, "addr", m.Addr, "err", err)
				g.del.releaseHeld(m.Name, h)
				return
			case <-t.C:
				g.del.releaseHeld(m.Name, h)
				return
			case <-stop:
				return
			}
		}
	})
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

package gossip

import (
	"time"
)

// Name reuse. A node that crashes and restarts under its old name from a
// new address (a rescheduled pod) is refused by memberlist until
// DeadNodeReclaimTime has passed since the old one was declared failed,
// and memberlist then accepts it only when the next alive message about
// it arrives: at its next push-pull (PushPullInterval, 30s by default) or
// refutation. So a restart that comes right after the failure was
// detected took up to that push-pull to be seen, while one that came
// after the reclaim time was seen at once.
//
// The delegate tells the adapter of every claim it refused for a member
// that is gone (NotifyConflict); the adapter joins the claimant again (a
// push-pull, which carries its alive message) as soon as the reclaim time
// has passed. A claim on a live member's name is never retried.

// reclaimMargin is added to the reclaim time: memberlist wants strictly
// more than DeadNodeReclaimTime since the failure.
const reclaimMargin = 50 * time.Millisecond

// scheduleReclaim joins addr again once the name that was gone at gone may
// be reclaimed. It runs under memberlist's node lock, so it only arms a
// timer; one timer per name.
func (g *Gossip) scheduleReclaim(name, addr string, gone time.Time) {
	g.waitMu.Lock()
	defer g.waitMu.Unlock()
	if g.stopped || g.reclaimTime <= 0 {
		return
	}
	if g.reclaims == nil {
		g.reclaims = make(map[string]*time.Timer)
	}
	if _, pending := g.reclaims[name]; pending {
		return
	}
	wait := max(time.Until(gone.Add(g.reclaimTime+reclaimMargin)), 0)
	g.waits.Add(1)
	g.reclaims[name] = time.AfterFunc(wait, func() {
		defer g.waits.Done()
		g.waitMu.Lock()
		delete(g.reclaims, name)
		stopped, ml := g.stopped, g.ml
		g.waitMu.Unlock()
		if stopped || ml == nil {
			return
		}
		if _, err := ml.Join([]string{addr}); err != nil {
			g.logger.Debug("re-join of a restarted node failed", "peer", name, "addr", addr, "err", err)
		}
	})
}

// stopReclaimsLocked cancels the pending re-joins. It runs with waitMu held.
func (g *Gossip) stopReclaimsLocked() {
	for name, t := range g.reclaims {
		if t.Stop() {
			g.waits.Done() // the func will not run
		}
		delete(g.reclaims, name)
	}
}

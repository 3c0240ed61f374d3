package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// NotifyConflict runs under memberlist's node lock when a node claims the
// name of a member from another address. memberlist keeps the member it
// knows (existing) and ignores the claim.
//
//   - A claim on this node's own name (existing is this node) goes to
//     onSelfConflict: nameguard.go finds out which of the two is the
//     claimant.
//   - A claim on the name of a member that left or failed is a restart
//     under the same name that came before memberlist's
//     DeadNodeReclaimTime: it is handed to onReclaim, which joins the
//     claimant again once the name may be reclaimed.
//   - A claim on a live member's name is remembered (a restart faster
//     than failure detection looks like that, reclaim.go; and a removal
//     of that member is held while the claim is recent, hold.go) and
//     logged once per claimant address.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name == d.self {
		_, _, id, _ := decodeMeta(other.Meta)
		if d.onSelfConflict != nil {
			d.onSelfConflict(other.Address(), id)
		}
		return
	}
	d.mu.Lock()
	_, live := d.view.Member(existing.Name)
	if _, held := d.held[existing.Name]; held {
		live = false // memberlist has removed it
	}
	gone, wasGone := d.goneAt[existing.Name]
	d.mu.Unlock()
	if !live && wasGone && d.onReclaim != nil {
		d.logger.Debug("a restarted node claims a failed member's name; joining it again once the name may be reclaimed",
			"peer", other.Name, "addr", other.Address(), "member_addr", existing.Address())
		d.onReclaim(other.Name, other.Address(), gone)
		return
	}
	now := time.Now()
	repeated := false
	if live {
		d.mu.Lock()
		c, ok := d.claims[other.Name]
		repeated = ok && c.addr == other.Address() && now.Sub(c.at) < claimTTL
		d.noteClaimLocked(other.Name, other.Address(), now)
		d.mu.Unlock()
	}
	if repeated {
		return // logged when the claim was new; memberlist logs each one
	}
	d.logger.Warn("name conflict: another node claims a live member's name; keeping the member",
		"peer", other.Name, "addr", other.Address(), "member_addr", existing.Address())
}

// claim is an address that claimed a live member's name, and when.
type claim struct {
	addr string
	at   time.Time
}

// claimTTL is how long a claim on a live member's name is remembered: a
// restart comes back within failure detection (seconds); a claim older
// than this is not retried when the member fails later. A claimant that
// stays (a name thief) claims again at every push-pull, which renews it.
const claimTTL = 2 * time.Minute

func (d *delegate) noteClaimLocked(name, addr string, at time.Time) {
	if d.claims == nil {
		d.claims = make(map[string]claim)
	}
	if _, ok := d.claims[name]; !ok && len(d.claims) >= maxGone {
		for n, c := range d.claims {
			if at.Sub(c.at) >= claimTTL {
				delete(d.claims, n)
			}
		}
		for n := range d.claims { // still full: drop any one
			if len(d.claims) < maxGone {
				break
			}
			delete(d.claims, n)
		}
	}
	d.claims[name] = claim{addr: addr, at: at}
}

// maxGone bounds goneAt: past it the oldest entries go (their names are
// long reclaimable).
const maxGone = 1024

func (d *delegate) noteGoneLocked(name string, at time.Time) {
	if d.goneAt == nil {
		d.goneAt = make(map[string]time.Time)
	}
	if len(d.goneAt) >= maxGone {
		oldest, first := "", time.Time{}
		for n, t := range d.goneAt {
			if first.IsZero() || t.Before(first) {
				oldest, first = n, t
			}
		}
		delete(d.goneAt, oldest)
	}
	d.goneAt[name] = at
}

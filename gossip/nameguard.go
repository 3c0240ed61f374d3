package gossip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gencluster/gencluster/membership"
)

// Name conflicts on this node's own name. memberlist refuses a node that
// claims a live member's name from another address, but tells only the
// members that refuse it (NotifyConflict): the claimant goes on as if it
// were a member, and its leave or failure later removes the real member
// (hold.go). The claimant does hear of it: the state it pulls when it
// joins, and every later push-pull with a member that knows the real one,
// carries that member under the same name at another address, which
// memberlist reports to this node's ConflictDelegate with this node as
// "existing".
//
// Both nodes of a conflict see the same thing: the other, alive, at
// another address. nameGuard decides which one is the claimant:
//
//   - During Start (ClaimName, after the initial join), a member the join
//     reached holds the name at another address. If that address answers
//     a ping for the name, the name is a live member's, and Start fails
//     with ErrNameConflict. If it does not answer, it is an earlier life
//     of this node, not yet declared failed (a restart on a new address):
//     the members join this node once it is (reclaim.go).
//   - After Start, the node that started later is the claimant (its
//     start time is gossiped with its boot id, see life). It logs one
//     ERROR, counts the conflict and reports it (NameConflict), until the
//     holder stops answering. The one that started first logs a warning.
type nameGuard struct {
	mu         sync.Mutex
	candidates map[string]life // addresses that have this node's name
	claimed    bool            // ClaimName has run: conflicts are reported
	conflict   *conflictError  // the current conflict, nil without one
	warned     map[life]bool   // claimants already logged by the holder
	kick       chan struct{}   // a candidate arrived
}

// ErrNameConflict is the error (test with errors.Is) of a node whose name
// a live member holds at another address.
var ErrNameConflict = errors.New("name conflict")

// conflictError names the member that holds this node's name.
type conflictError struct {
	name, holder string
	boot         membership.BootID
}

func (e *conflictError) Error() string {
	return fmt.Sprintf("name conflict: the name %q is held by the live member at %s (boot id %s); give this node another name", e.name, e.holder, e.boot)
}

func (e *conflictError) Is(target error) bool { return target == ErrNameConflict }

// noteSelfConflict runs under memberlist's node lock: it records the
// address and wakes the guard's goroutine.
func (g *Gossip) noteSelfConflict(addr string, id life) {
	ng := &g.guard
	ng.mu.Lock()
	if ng.candidates == nil {
		ng.candidates = make(map[string]life)
	}
	if len(ng.candidates) < maxGone {
		ng.candidates[addr] = id
	}
	ng.mu.Unlock()
	select {
	case ng.kick <- struct{}{}:
	default:
	}
}

func (ng *nameGuard) take() map[string]life {
	ng.mu.Lock()
	defer ng.mu.Unlock()
	c := ng.candidates
	ng.candidates = nil
	return c
}

// ClaimName checks, after the initial join, that no live member holds this
// node's name at another address: it returns an error satisfying
// errors.Is(err, ErrNameConflict), naming the holder's address, if one
// does. From then on, conflicts noticed later are reported through
// NameConflict, Config.Metrics and the log. ctx bounds the check (pings of
// each address that had the name, for two probe timeouts, at least a
// second, when it does not answer).
func (g *Gossip) ClaimName(ctx context.Context) error {
	for addr, id := range g.guard.take() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if g.answers(addr) {
			return &conflictError{name: g.name, holder: addr, boot: membership.BootID(id.boot)}
		}
		g.logger.Debug("the address that had this node's name does not answer (an earlier life of this node); going on", "addr", addr)
	}
	g.waitMu.Lock()
	defer g.waitMu.Unlock()
	if g.stopped {
		return ErrStopped
	}
	g.guard.mu.Lock()
	g.guard.claimed = true
	g.guard.mu.Unlock()
	stop := g.stopCh
	g.waits.Go(func() { g.guardLoop(stop) })
	return nil
}

// NameConflict returns the current conflict on this node's name (it
// satisfies errors.Is(err, ErrNameConflict) and names the holder), or nil.
func (g *Gossip) NameConflict() error {
	g.guard.mu.Lock()
	defer g.guard.mu.Unlock()
	if g.guard.conflict == nil {
		return nil
	}
	return g.guard.conflict
}

// guardLoop verifies the conflicts noticed after Start, and while one
// lasts, whether its holder still answers.
func (g *Gossip) guardLoop(stop <-chan struct{}) {
	recheck := time.NewTicker(g.recheckEvery())
	defer recheck.Stop()
	for {
		select {
		case <-stop:
			return
		case <-g.guard.kick:
			for addr, id := range g.guard.take() {
				g.verify(addr, id)
			}
		case <-recheck.C:
			g.guard.mu.Lock()
			c := g.guard.conflict
			g.guard.mu.Unlock()
			if c != nil && !g.answers(c.holder) {
				g.guard.mu.Lock()
				g.guard.conflict = nil
				g.guard.mu.Unlock()
				g.logger.Info("name conflict over: the member that held this node's name no longer answers", "member_addr", c.holder)
			}
		}
	}
}

// recheckEvery is how often a conflict's holder is pinged.
func (g *Gossip) recheckEvery() time.Duration { return 5 * g.probe }

// verify decides a conflict noticed after Start with the node at addr.
func (g *Gossip) verify(addr string, id life) {
	g.guard.mu.Lock()
	c := g.guard.conflict
	g.guard.mu.Unlock()
	if c != nil && c.holder == addr {
		return
	}
	if !g.answers(addr) {
		return // an earlier life of this node, not yet declared failed
	}
	own := g.del.life
	if id != (life{}) && (own.start < id.start || (own.start == id.start && own.boot < id.boot)) {
		g.guard.mu.Lock()
		seen := g.guard.warned[id]
		if g.guard.warned == nil {
			g.guard.warned = make(map[life]bool)
		}
		if len(g.guard.warned) < maxGone {
			g.guard.warned[id] = true
		}
		g.guard.mu.Unlock()
		if !seen {
			g.logger.Warn("name conflict: another node claims this node's name; this node started first and keeps it",
				"addr", addr, "member_addr", g.addr)
		}
		return
	}
	c = &conflictError{name: g.name, holder: addr, boot: membership.BootID(id.boot)}
	g.guard.mu.Lock()
	g.guard.conflict = c
	g.guard.mu.Unlock()
	if g.metrics != nil {
		g.metrics.nameConflicts.Inc()
	}
	g.logger.Error("name conflict: a live member that started earlier holds this node's name, and the members that know it refuse this node (give this node another name)",
		"addr", g.addr, "member_addr", addr, "member_boot", membership.BootID(id.boot).String())
}

// answers reports whether addr answers a ping for this node's name: three
// pings at once, again until pingBudget has passed, so that a lost packet
// or a loaded host does not decide.
func (g *Gossip) answers(addr string) bool {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return false
	}
	end := time.Now().Add(g.pingBudget())
	for round := 0; round < 2 || time.Now().Before(end); round++ {
		if round > 0 && g.isStopped() {
			return false
		}
		results := make(chan bool, 3)
		for range 3 {
			go func() {
				_, err := g.ml.Ping(g.name, ua)
				results <- err == nil
			}()
		}
		ok := false
		for range 3 {
			ok = <-results || ok
		}
		if ok {
			return true
		}
	}
	return false
}

// pingBudget is how long answers keeps trying: two probe timeouts, and at
// least a second.
func (g *Gossip) pingBudget() time.Duration { return max(2*g.probeTimeout, time.Second) }

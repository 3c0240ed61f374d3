package gossip

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrStopped is returned by the methods that need a running memberlist
// after Close or Leave.
var ErrStopped = errors.New("node stopped")

// errUnconfirmed: memberlist could not confirm that a broadcast went out,
// because no other member is live to send it to (the cluster is going
// away, or this node is alone).
var errUnconfirmed = errors.New("no live member to send the broadcast to")

// UpdateMeta replaces the gossiped metadata and waits until memberlist has
// broadcast the update, or ctx ends (its error is returned, unwrapped).
// A ctx that has already ended changes nothing. With no other live member
// there is nobody to wait for: the update is made and nil returned (a
// later join exchanges it in the push-pull). Metadata equal to what the
// node already gossips announces nothing and returns nil at once. It is
// safe to call from several goroutines: the last update wins.
func (g *Gossip) UpdateMeta(ctx context.Context, meta map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if g.isStopped() {
		return ErrStopped
	}
	if err := g.del.setMeta(meta, 0); err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	err := g.awaitBroadcast(ctx, share(ctx, 1), g.announce)
	if errors.Is(err, errUnconfirmed) {
		g.logger.Debug("metadata updated; no live member to broadcast it to")
		return nil
	}
	return err
}

// Leave leaves the cluster gracefully and shuts down: it first gossips that
// it is leaving (so the others report a leave, not a failure), tells every
// member directly, then broadcasts memberlist's leave, then shuts down.
//
// ctx bounds the waits for the broadcasts. A ctx that has already ended
// announces nothing: the Gossip shuts down as with Close, and ctx's error
// is returned. A ctx that ends during the waits cuts them short and its
// error is returned; the Gossip is shut down either way. A leave that no
// live member is left to hear (every other member left or failed, as when
// a whole deployment stops at once) is not an error: it is logged at
// warning level and Leave returns nil.
//
// It is safe to call more than once; later calls return the first call's
// result.
func (g *Gossip) Leave(ctx context.Context) error {
	g.leaveOnce.Do(func() { g.leaveErr = g.leave(ctx) })
	return g.leaveErr
}

func (g *Gossip) leave(ctx context.Context) error {
	if g.closing.Load() {
		return g.shutdown()
	}
	if c := g.NameConflict(); c != nil {
		// The members that know the holder would take this node's
		// leave (a dead message about the name) for the holder's.
		g.logger.Warn("leaving without announcing it: another live member holds this node's name, and the others would take the leave for that member's", "err", c)
		g.closing.Store(true)
		return g.shutdown()
	}
	if err := ctx.Err(); err != nil {
		g.closing.Store(true)
		return errors.Join(fmt.Errorf("gossip: leave not announced: %w", err), g.shutdown())
	}
	var errs []error
	unconfirmed := false
	if err := g.del.setLeaving(); err != nil {
		errs = append(errs, fmt.Errorf("gossip: announce leave: %w", err)) // unreachable: the metadata was accepted before
	} else if err := g.awaitBroadcast(ctx, share(ctx, 2), g.announce); errors.Is(err, errUnconfirmed) {
		unconfirmed = true
	} else if err != nil && ctx.Err() == nil {
		errs = append(errs, fmt.Errorf("gossip: announce leave: %w", err))
	}
	if ctx.Err() == nil {
		g.tellLeaving()
	}
	if ctx.Err() == nil {
		switch err := g.awaitBroadcast(ctx, share(ctx, 1), g.ml.Leave); {
		case errors.Is(err, errUnconfirmed):
			unconfirmed = true
		case err != nil && ctx.Err() == nil:
			errs = append(errs, fmt.Errorf("gossip: leave: %w", err))
		}
	} else {
		// Still queue the leave, best effort: it also ends the wait
		// for the update broadcast, which it supersedes.
		_ = g.ml.Leave(time.Nanosecond)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("gossip: leave cut short: %w", err))
	} else if unconfirmed && len(errs) == 0 {
		g.logger.Warn("left without confirmation: no live member was left to hear the leave (the cluster is going away)")
	}
	errs = append(errs, g.shutdown())
	return errors.Join(errs...)
}

// share returns 1/part of the time ctx has left, or 0 when ctx has no
// deadline.
func share(ctx context.Context, part int) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return max(time.Until(d)/time.Duration(part), time.Nanosecond)
}

// awaitBroadcast runs send (memberlist's UpdateNode or Leave: queue a
// broadcast, then wait for it up to a timeout) and returns when the
// broadcast is out (nil), when ctx ends (ctx's error), or with
// errUnconfirmed when no other member is live to send it to, or memberlist
// gave up.
//
// memberlist's wait cannot be interrupted (a timeout <= 0 waits forever),
// so it runs in a goroutine whose timeout is limit (0: none) capped by
// broadcastBound: the goroutine ends by then even when ctx ends first, and
// shutdown waits for it.
func (g *Gossip) awaitBroadcast(ctx context.Context, limit time.Duration, send func(time.Duration) error) error {
	bound := g.broadcastBound()
	timeout := bound
	if limit > 0 && limit < bound {
		timeout = limit
	}
	g.waitMu.Lock()
	if g.stopped {
		g.waitMu.Unlock()
		return ErrStopped
	}
	done := make(chan error, 1)
	g.pending++
	g.waits.Go(func() {
		err := send(timeout)
		g.waitMu.Lock()
		g.pending--
		g.waitMu.Unlock()
		done <- err
	})
	g.waitMu.Unlock()

	tick := time.NewTicker(g.roundTime())
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			switch {
			case err == nil:
				return nil
			case ctx.Err() != nil:
				return ctx.Err()
			case timeout < bound:
				// memberlist's timer was ctx's deadline, which fired
				// first.
				return context.DeadlineExceeded
			}
			return errUnconfirmed
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if !g.del.othersLive(g.name) {
				return errUnconfirmed
			}
		}
	}
}

// roundTime is memberlist's gossip interval, or its probe interval when
// gossip is off: how often a queued broadcast gets a chance to go out.
func (g *Gossip) roundTime() time.Duration {
	if g.gossipEvery > 0 {
		return g.gossipEvery
	}
	return g.probe
}

// broadcastBound is how long memberlist needs, at most, to send a
// broadcast while any other member is live: it sends each broadcast
// RetransmitMult*ceil(log10(n+1)) times, to at least one member per gossip
// round, then reports it done. Twice that, plus a probe interval, leaves
// room for a loaded host; a broadcast still pending then has nobody to go
// to.
func (g *Gossip) broadcastBound() time.Duration {
	n := g.ml.NumMembers()
	limit := max(g.retransmitMult, 1) * int(math.Ceil(math.Log10(float64(n+1))))
	return time.Duration(2*(limit+1))*g.roundTime() + g.probe
}

// stopWaits refuses new broadcast waits and ends those of metadata
// updates: an update superseded by a newer one about this node is done
// for memberlist. A pending leave has no such release; its wait ends by
// its bound.
func (g *Gossip) stopWaits() {
	g.waitMu.Lock()
	if !g.stopped {
		close(g.stopCh)
	}
	g.stopped = true
	g.stopReclaimsLocked()
	g.waitMu.Unlock()
	if !g.closing.Load() {
		return // Leave's own leave superseded the updates
	}
	// memberlist tells a waiter only if it already waits (a non-blocking
	// send): supersede until every waiter has seen it, for a bounded
	// time (past it, shutdown waits for their own timeout).
	for range 500 {
		g.waitMu.Lock()
		pending := g.pending
		g.waitMu.Unlock()
		if pending == 0 {
			return
		}
		g.supersede()
		time.Sleep(time.Millisecond)
	}
}

func (g *Gossip) isStopped() bool {
	g.waitMu.Lock()
	defer g.waitMu.Unlock()
	return g.stopped
}

// tellLeaving sends msgLeaving to every other live member over TCP, in
// parallel, so that each of them reports the coming leave as a leave even
// when memberlist's gossip drops the leaving flag (see msgLeaving). A
// member that cannot be reached in memberlist's TCPTimeout is skipped: it
// may still learn of the flag by gossip. It waits for every send, each
// bounded by TCPTimeout, so that no goroutine outlives Leave.
func (g *Gossip) tellLeaving() {
	msg := leavingMsg(g.name, g.del.life.boot)
	var wg sync.WaitGroup
	// The targets come from the delegate's copy of the view: the nodes
	// memberlist's Members returns are its own, which it goes on writing.
	for _, m := range g.del.members() {
		if m.Name == g.name {
			continue
		}
		host, port, err := net.SplitHostPort(m.Addr)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			continue
		}
		to := &memberlist.Node{Name: m.Name, Addr: net.ParseIP(host), Port: uint16(p)}
		wg.Go(func() {
			if err := g.ml.SendReliable(to, msg); err != nil {
				g.logger.Debug("leave notice not delivered", "peer", m.Name, "addr", m.Addr, "err", err)
			}
		})
	}
	wg.Wait()
}

package gossip

import (
	"sync"
	"time"
)

// localUpdates lets one memberlist UpdateNode at a time reach the point
// where it applies its alive message.
//
// memberlist's UpdateNode reads the local node's address and port after
// releasing its node lock, then applies an alive message that writes them
// under the lock: two UpdateNode calls at once are a data race (the class
// of memberlist issue #306). UpdateMeta, Drain, Leave, the wire switch
// and Close all update the local node, and a user may call UpdateMeta
// from several goroutines.
//
// Holding a lock through UpdateNode would serialize the waits for the
// broadcasts as well, and Close ends those waits by superseding them with
// another UpdateNode (stopWaits). So a call holds the gate only until its
// alive message is applied: memberlist then calls NotifyUpdate for the
// local node, under its node lock, after the write (applied). Only an
// update that changes the metadata gets that NotifyUpdate (a refutation
// changes no metadata), so announce calls memberlist only when the
// metadata changed, and a call that changes nothing (supersede) holds the
// gate until it returns, which with its timeout of a nanosecond is at
// once. (Were the metadata set back, between announce's check and
// memberlist's NodeMeta, to what memberlist holds, that call would hold
// the gate until its wait ends: later updates would wait, never race.)
type localUpdates struct {
	gate chan struct{} // capacity 1: the token of the call that holds it

	mu  sync.Mutex
	cur *localUpdate // the call holding the gate, until it is released
}

// localUpdate is one call's hold on the gate, released once.
type localUpdate struct {
	gate chan struct{}
	once sync.Once
}

func (h *localUpdate) release() { h.once.Do(func() { <-h.gate }) }

func newLocalUpdates() *localUpdates {
	return &localUpdates{gate: make(chan struct{}, 1)}
}

// run takes the gate, asks skip whether there is anything to do, and if
// so calls update (memberlist's UpdateNode) with timeout. The gate is
// released when the alive message is applied or update returns.
func (u *localUpdates) run(skip func() bool, update func(time.Duration) error, timeout time.Duration) error {
	u.gate <- struct{}{}
	h := &localUpdate{gate: u.gate}
	u.mu.Lock()
	u.cur = h
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		if u.cur == h {
			u.cur = nil
		}
		u.mu.Unlock()
		h.release()
	}()
	if skip != nil && skip() {
		return nil
	}
	return update(timeout)
}

// applied is called when memberlist has applied an update of the local
// node's metadata (NotifyUpdate of this node, under its node lock): the
// next call may start.
func (u *localUpdates) applied() {
	u.mu.Lock()
	h := u.cur
	u.cur = nil
	u.mu.Unlock()
	if h != nil {
		h.release()
	}
}

// announce broadcasts the local metadata and waits up to timeout (> 0)
// for the broadcast. Metadata memberlist already holds is not announced
// again (nil at once): the call that handed it over broadcasts it.
func (g *Gossip) announce(timeout time.Duration) error {
	return g.updates.run(g.del.metaHanded, g.ml.UpdateNode, timeout)
}

// supersede re-announces the local node without waiting: memberlist then
// ends the waits of the broadcasts it replaces (stopWaits).
func (g *Gossip) supersede() {
	_ = g.updates.run(nil, g.ml.UpdateNode, time.Nanosecond)
}

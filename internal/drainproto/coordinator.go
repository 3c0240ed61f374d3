package drainproto

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gencluster/gencluster/membership"
)

// The asker's side: ask every live member, every Every, until each has
// acknowledged or is gone, or the context ends.

// target is one member of a call.
type target struct {
	peer     Peer
	status   membership.DrainStatus // 0 while pending
	sending  bool                   // a request to it is in flight
	sendErr  string                 // the last send's error; "" when it went out
	answered bool                   // it answered: not seen yet
}

// call is one Drain in flight.
type call struct {
	mu      sync.Mutex
	targets map[string]*target
	changed chan struct{} // a member acknowledged (capacity 1)
}

// onReply records a reply to a call in flight, from one of its pending
// members in the life the call asked.
func (e *Endpoint) onReply(r reply) {
	e.mu.Lock()
	c := e.calls[r.id]
	e.mu.Unlock()
	if c == nil {
		e.logger.Debug("drain reply for no drain in flight dropped", "peer", r.name)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.targets[r.name]
	if t == nil || t.status != 0 || (t.peer.Boot != 0 && t.peer.Boot != r.boot) {
		e.logger.Debug("drain reply from no pending member dropped", "peer", r.name)
		return
	}
	if !r.seen {
		t.answered = true
		return
	}
	t.status = membership.DrainAcked
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// refresh brings the targets up to date with the live members: a new
// member (or a new life of one) is pending, a pending member that is no
// longer live is gone. It returns how many are pending.
func (c *call) refresh(peers []Peer) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := make(map[string]bool, len(peers))
	for _, p := range peers {
		live[p.Name] = true
		t := c.targets[p.Name]
		switch {
		case t == nil:
			c.targets[p.Name] = &target{peer: p}
		case t.status == membership.DrainGone || t.peer.Boot != p.Boot:
			*t = target{peer: p, sending: t.sending}
		default:
			t.peer.Addr = p.Addr
		}
	}
	pending := 0
	for name, t := range c.targets {
		switch {
		case t.status != 0:
		case !live[name]:
			t.status = membership.DrainGone
		default:
			pending++
		}
	}
	return pending
}

// ask sends req to every pending member that has no request in flight.
// A send that fails is noted; the member is asked again next round while
// it is live.
func (e *Endpoint) ask(c *call, req []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.targets {
		if t.status != 0 || t.sending {
			continue
		}
		t.sending = true
		p := t.peer
		if !e.goSend(func() {
			err := e.host.Send(p, req)
			c.mu.Lock()
			defer c.mu.Unlock()
			t.sending = false
			t.sendErr = ""
			if err != nil {
				t.sendErr = err.Error()
			}
		}) {
			t.sending = false
		}
	}
}

// result is one reply per member asked, by name; members still pending
// are DrainUnreachable when the last send to them failed, DrainTimeout
// otherwise.
func (c *call) result() []membership.DrainReply {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]membership.DrainReply, 0, len(c.targets))
	for _, t := range c.targets {
		r := membership.DrainReply{Name: t.peer.Name, Addr: t.peer.Addr, Status: t.status}
		switch {
		case t.status == membership.DrainGone:
			r.Err = "left or failed before it acknowledged"
		case t.status != 0:
		case t.sendErr != "":
			r.Status, r.Err = membership.DrainUnreachable, t.sendErr
		case t.answered:
			r.Status, r.Err = membership.DrainTimeout, "answered, but its view did not hold this node draining yet"
		default:
			r.Status, r.Err = membership.DrainTimeout, "no answer before the deadline"
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b membership.DrainReply) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Drain asks every live member other than this node, every Every, whether
// its view holds this node draining, until each has acknowledged or is
// gone (the live members are re-read every round: a member that joins
// meanwhile is asked too), or ctx ends. It returns one reply per member
// asked, by name, and a nil error whether or not every member
// acknowledged (the replies say), except: Config.Stopped when the
// Endpoint stops first, and ctx's error when ctx ends while another Drain
// holds the Endpoint. The host must have marked this node draining first.
func (e *Endpoint) Drain(ctx context.Context) ([]membership.DrainReply, error) {
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for another drain: %w", ctx.Err())
	case <-e.ctx.Done():
		return nil, e.stopped
	}
	if e.ctx.Err() != nil {
		return nil, e.stopped
	}
	var id ID
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	self := e.host.Self()
	req := encodeRequest(request{id: id, boot: self.Boot, name: self.Name})
	c := &call{targets: make(map[string]*target), changed: make(chan struct{}, 1)}
	e.mu.Lock()
	e.calls[id] = c
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.calls, id)
		e.mu.Unlock()
	}()
	tick := time.NewTicker(e.every)
	defer tick.Stop()
	for send := true; c.refresh(e.host.Peers()) > 0; {
		if send {
			e.ask(c, req)
			send = false
		}
		select {
		case <-c.changed:
		case <-tick.C:
			send = true
		case <-ctx.Done():
			return c.result(), nil
		case <-e.ctx.Done():
			return c.result(), e.stopped
		}
	}
	return c.result(), nil
}

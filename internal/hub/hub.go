// Package hub fans a Node's membership events out to its subscribers and
// keeps the view they add up to. It is the Node's event path: the Dist's
// callbacks publish into it, Events and Subscribe read from it.
package hub

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/gencluster/gencluster/internal/eventq"
	"github.com/gencluster/gencluster/membership"
)

// Hub fans membership events out to subscribers and keeps the view they
// add up to. Publish is called from memberlist's callbacks (under its node
// lock), so it only takes the hub's own lock and pushes to queues that
// never block.
type Hub struct {
	ctx context.Context // cancelled when the Node stops
	wg  *sync.WaitGroup // the Node's; each queue's pump is one of its goroutines

	mu     sync.Mutex
	view   map[string]membership.Member
	subs   map[*eventq.Queue]struct{}
	closed bool
	// dropped counts events coalesced in queues that were unsubscribed,
	// so Coalesced stays monotonic.
	dropped uint64
	// observe, if not nil, sees every published event after the hub's
	// lock is released (metrics). It must not block.
	observe func(membership.Event)
}

// New returns a Hub whose queue pumps are goroutines of wg that end when
// ctx ends. observe, if not nil, sees every published event; it must not
// block.
func New(ctx context.Context, wg *sync.WaitGroup, observe func(membership.Event)) *Hub {
	return &Hub{ctx: ctx, wg: wg, observe: observe, view: make(map[string]membership.Member), subs: make(map[*eventq.Queue]struct{})}
}

// Publish records ev in the view and queues it for every subscriber.
func (h *Hub) Publish(ev membership.Event) {
	ev.Member = ev.Member.Clone()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	if ev.Gone() {
		delete(h.view, ev.Member.Name)
	} else {
		h.view[ev.Member.Name] = ev.Member
	}
	for q := range h.subs {
		q.Push(ev)
	}
	h.mu.Unlock()
	if h.observe != nil {
		h.observe(ev)
	}
}

// Sync publishes the events that turn the view into members. It serves a
// Dist that does not report events itself (which cannot tell a leave from
// a failure: a member that is gone is reported failed).
func (h *Hub) Sync(members []membership.Member) {
	cur := make(map[string]membership.Member, len(members))
	for _, m := range members {
		cur[m.Name] = m
	}
	h.mu.Lock()
	var evs []membership.Event
	for name, old := range h.view {
		if _, ok := cur[name]; !ok {
			old.State = membership.StateFailed
			evs = append(evs, membership.Event{Type: membership.EventFail, Member: old})
		}
	}
	for name, m := range cur {
		old, ok := h.view[name]
		switch {
		case !ok:
			evs = append(evs, membership.Event{Type: membership.EventJoin, Member: m})
		case old.Addr != m.Addr || old.State != m.State || !maps.Equal(old.Meta, m.Meta):
			evs = append(evs, membership.Event{Type: membership.EventUpdate, Member: m})
		}
	}
	h.mu.Unlock()
	slices.SortFunc(evs, func(a, b membership.Event) int { return strings.Compare(a.Member.Name, b.Member.Name) })
	for _, ev := range evs {
		h.Publish(ev)
	}
}

// Subscribe returns the current view and a queue that will receive every
// later event; both are taken under one lock, so nothing falls between
// them. The queue's pump runs until cancel or the Node stops. Once the hub
// is closed no pump starts (the Node may already wait for its goroutines:
// the WaitGroup must not grow then) and the queue comes back closed.
func (h *Hub) Subscribe() (snapshot []membership.Member, q *eventq.Queue, cancel func()) {
	ctx, stop := context.WithCancel(h.ctx)
	q = eventq.New()
	h.mu.Lock()
	snapshot = h.snapshotLocked()
	closed := h.closed
	if !closed {
		h.subs[q] = struct{}{}
		h.wg.Add(1) // under the lock: before close, so before the Wait
		go func() {
			defer h.wg.Done()
			q.Run(ctx)
		}()
	}
	h.mu.Unlock()
	if closed {
		stop()
		q.Run(ctx) // returns at once, closing the queue's channel
	}
	var once sync.Once
	cancel = func() {
		once.Do(func() {
			h.mu.Lock()
			if _, ok := h.subs[q]; ok {
				delete(h.subs, q)
				h.dropped += q.Coalesced()
			}
			h.mu.Unlock()
			stop()
		})
	}
	return snapshot, q, cancel
}

func (h *Hub) snapshotLocked() []membership.Member {
	out := make([]membership.Member, 0, len(h.view))
	for _, m := range h.view {
		out = append(out, m.Clone())
	}
	slices.SortFunc(out, func(a, b membership.Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Coalesced is the number of events merged because a reader was behind,
// over every subscriber past and present.
func (h *Hub) Coalesced() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.dropped
	for q := range h.subs {
		n += q.Coalesced()
	}
	return n
}

// Pending returns the most events waiting for any one subscriber.
func (h *Hub) Pending() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for q := range h.subs {
		n = max(n, q.Len())
	}
	return n
}

// Close stops accepting events and starting pumps; the queues close when
// the hub's context ends.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

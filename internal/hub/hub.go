// Package hub fans a Node's membership events out to its subscribers. It
// is the Node's event path: the Dist's events are applied to the hub's
// view (package view, the Node's one membership view), and every change
// the view accepts is queued for each subscriber; Events and Subscribe
// read from here.
package hub

import (
	"context"
	"sync"

	"github.com/gencluster/gencluster/internal/eventq"
	"github.com/gencluster/gencluster/internal/view"
	"github.com/gencluster/gencluster/membership"
)

// Hub fans the changes of its view out to subscribers. Publish may be
// called from memberlist's callbacks (under its node lock): the view calls
// the fan-out with its own lock held, which only takes the hub's lock and
// pushes to queues that never block.
type Hub struct {
	ctx  context.Context // cancelled when the Node stops
	wg   *sync.WaitGroup // the Node's; each queue's pump is one of its goroutines
	view *view.View

	mu     sync.Mutex
	subs   map[*eventq.Queue]struct{}
	closed bool
	// dropped counts events coalesced in queues that were unsubscribed,
	// so Coalesced stays monotonic.
	dropped uint64
	// observe, if not nil, sees every change fanned out (metrics). It
	// must not block.
	observe func(membership.Event)
}

// New returns a Hub with an empty view, whose queue pumps are goroutines
// of wg that end when ctx ends. observe, if not nil, sees every change;
// it must not block.
func New(ctx context.Context, wg *sync.WaitGroup, observe func(membership.Event)) *Hub {
	h := &Hub{ctx: ctx, wg: wg, observe: observe, subs: make(map[*eventq.Queue]struct{})}
	h.view = view.New(h.fanout)
	return h
}

// View returns the hub's view: the membership view the events add up to.
func (h *Hub) View() *view.View { return h.view }

// Publish applies ev to the view, which queues it for every subscriber if
// it changed anything (see view.Publish).
func (h *Hub) Publish(ev membership.Event) { h.view.Publish(ev) }

// Sync publishes the events that turn the view into members. It serves a
// Dist that does not report events itself (which cannot tell a leave from
// a failure: a member that is gone is reported failed).
func (h *Hub) Sync(members []membership.Member) { h.view.Sync(members) }

// fanout is the view's listener: it runs, with the view's lock held, for
// every change, so that subscribers get the changes in the view's order.
// Once the hub is closed nothing is queued or observed.
func (h *Hub) fanout(ev membership.Event) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	// Each subscriber gets a Member whose Meta map it shares with no
	// other subscriber: the user's Events() reader may change what it
	// receives while the Node's own readers (Ownership reads Meta) go on
	// reading theirs. The view already handed the first one a copy.
	shared := true
	for q := range h.subs {
		e := ev
		if !shared {
			e.Member = e.Member.Clone()
		}
		shared = false
		q.Push(e)
	}
	h.mu.Unlock()
	if h.observe != nil {
		h.observe(ev)
	}
}

// Subscribe returns the current view and a queue that will receive every
// later change; the queue is registered under the view's lock, so nothing
// falls between them. The queue's pump runs until cancel or the Node
// stops. Once the hub is closed no pump starts (the Node may already wait
// for its goroutines: the WaitGroup must not grow then) and the queue
// comes back closed.
func (h *Hub) Subscribe() (snapshot []membership.Member, q *eventq.Queue, cancel func()) {
	snapshot, _, q, cancel = h.SubscribeAt()
	return snapshot, q, cancel
}

// SubscribeAt is Subscribe that also returns the view's version at the
// snapshot, read under the same lock: the queue receives exactly the
// changes after that version, each with its own (Node.Ownership starts its
// Tracker from the pair).
func (h *Hub) SubscribeAt() (snapshot []membership.Member, version uint64, q *eventq.Queue, cancel func()) {
	ctx, stop := context.WithCancel(h.ctx)
	q = eventq.New()
	var closed bool
	h.view.Watch(func(snap []membership.Member, v uint64) {
		snapshot, version = snap, v
		h.mu.Lock()
		defer h.mu.Unlock()
		closed = h.closed
		if closed {
			return
		}
		h.subs[q] = struct{}{}
		h.wg.Add(1) // under the lock: before close, so before the Wait
		go func() {
			defer h.wg.Done()
			q.Run(ctx)
		}()
	})
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
	return snapshot, version, q, cancel
}

// Go runs f in a goroutine of the Node's WaitGroup and reports true, or
// reports false once the hub is closed: the Node may then already be
// waiting for its goroutines, and the WaitGroup must not grow. f must
// return when the Node's context ends.
func (h *Hub) Go(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1) // under the lock: before Close, so before the Wait
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
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

// Close stops fanning changes out and starting pumps; the queues close
// when the hub's context ends. The view stays readable.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

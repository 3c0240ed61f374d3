package gencluster

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/gencluster/gencluster/internal/eventq"
)

// hub fans membership events out to subscribers and keeps the view they
// add up to. publish is called from memberlist's callbacks (under its node
// lock), so it only takes the hub's own lock and pushes to queues that
// never block.
type hub struct {
	ctx context.Context // cancelled when the Node stops
	wg  *sync.WaitGroup // the Node's; each queue's pump is one of its goroutines

	mu     sync.Mutex
	view   map[string]Member
	subs   map[*eventq.Queue]struct{}
	closed bool
	// dropped counts events coalesced in queues that were unsubscribed,
	// so Coalesced stays monotonic.
	dropped uint64
	// observe, when set before the first publish, sees every published
	// event after the hub's lock is released (metrics, logs). It must not
	// block.
	observe func(Event)
}

func newHub(ctx context.Context, wg *sync.WaitGroup) *hub {
	return &hub{ctx: ctx, wg: wg, view: make(map[string]Member), subs: make(map[*eventq.Queue]struct{})}
}

// publish records ev in the view and queues it for every subscriber.
func (h *hub) publish(ev Event) {
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

// sync publishes the events that turn the view into members. It serves a
// Dist that does not report events itself.
func (h *hub) sync(members []Member) {
	cur := make(map[string]Member, len(members))
	for _, m := range members {
		cur[m.Name] = m
	}
	h.mu.Lock()
	var evs []Event
	for name, old := range h.view {
		if _, ok := cur[name]; !ok {
			old.State = StateFailed
			evs = append(evs, Event{Type: EventFail, Member: old})
		}
	}
	for name, m := range cur {
		old, ok := h.view[name]
		switch {
		case !ok:
			evs = append(evs, Event{Type: EventJoin, Member: m})
		case old.Addr != m.Addr || old.State != m.State || !maps.Equal(old.Meta, m.Meta):
			evs = append(evs, Event{Type: EventUpdate, Member: m})
		}
	}
	h.mu.Unlock()
	slices.SortFunc(evs, func(a, b Event) int { return strings.Compare(a.Member.Name, b.Member.Name) })
	for _, ev := range evs {
		h.publish(ev)
	}
}

// subscribe returns the current view and a queue that will receive every
// later event; both are taken under one lock, so nothing falls between
// them. The queue's pump runs until cancel or the Node stops. Once the hub
// is closed no pump starts (the Node may already wait for its goroutines:
// the WaitGroup must not grow then) and the queue comes back closed.
func (h *hub) subscribe() (snapshot []Member, q *eventq.Queue, cancel func()) {
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

func (h *hub) snapshotLocked() []Member {
	out := make([]Member, 0, len(h.view))
	for _, m := range h.view {
		out = append(out, m.Clone())
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// coalesced is the number of events merged because a reader was behind,
// over every subscriber past and present.
func (h *hub) coalesced() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.dropped
	for q := range h.subs {
		n += q.Coalesced()
	}
	return n
}

// close stops accepting events; the queues close when the Node's context
// is cancelled.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

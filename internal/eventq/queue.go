// Package eventq is a membership event queue that never blocks its producer
// and whose memory is bounded by the number of members, not of events.
package eventq

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gencluster/gencluster/membership"
)

// Queue delivers events on a channel. Push never blocks: when the reader
// falls behind, a member's pending events coalesce into its latest one
// (whose Version the merged event carries), so at most one event per
// member waits (plus one in flight); the exception is a restart, where
// the removal of the old life and the join of the new one (another
// BootID) both wait, so that the reader learns that the member it knew is
// gone. Events of one member stay in order; events of different members
// keep the order in which each member first became pending, so after
// coalescing their Versions may arrive out of order (a member pending
// since version 3 and changed again at 10 comes, as 10, before another
// member's event of version 5).
type Queue struct {
	out  chan membership.Event
	wake chan struct{}

	mu      sync.Mutex
	pending map[string][]membership.Event // one event, or a removal and a new life's join
	order   []string                      // names with a pending event, oldest first
	peak    int                           // the most names pending since the storage was made
	closed  bool

	coalesced atomic.Uint64
}

// New returns an empty Queue. Call Run to deliver.
func New() *Queue {
	return &Queue{
		out:     make(chan membership.Event),
		wake:    make(chan struct{}, 1),
		pending: make(map[string][]membership.Event),
	}
}

// C is the delivery channel. It is closed when Run returns.
func (q *Queue) C() <-chan membership.Event { return q.out }

// Coalesced counts events merged into a newer one because the reader was
// behind.
func (q *Queue) Coalesced() uint64 { return q.coalesced.Load() }

// Len returns how many members have events pending.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// Push adds ev. It takes a short lock and never waits for the reader, so it
// is safe to call from memberlist's callbacks.
func (q *Queue) Push(ev membership.Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	name := ev.Member.Name
	if old, ok := q.pending[name]; ok {
		q.pending[name] = merge(old, ev)
		if len(q.pending[name]) <= len(old) {
			q.coalesced.Add(1)
		}
	} else {
		q.pending[name] = []membership.Event{ev}
		q.order = append(q.order, name)
		q.peak = max(q.peak, len(q.order))
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// coalesce merges a member's pending event with a newer one: the newer one
// wins, except that a join the reader has not seen stays a join (an
// "update" of a member the reader never saw join would confuse it).
func coalesce(old, ev membership.Event) membership.Event {
	if old.Type == membership.EventJoin && ev.Type == membership.EventUpdate {
		ev.Type = membership.EventJoin
	}
	return ev
}

// merge adds ev to a member's pending events (one, or a removal and a
// join). A join of another life (BootID) after a pending removal waits
// beside it; anything else coalesces into the latest event, whose
// Version it keeps. A new life that joined and went before the reader saw
// it is dropped: the reader sees the removal it already has pending, with
// the version of the new life's removal, at which the member is gone
// again (the version is the view's after the member's latest change).
func merge(pending []membership.Event, ev membership.Event) []membership.Event {
	last := pending[len(pending)-1]
	switch {
	case len(pending) == 1 && last.Gone() && ev.Type == membership.EventJoin && otherLife(last.Member, ev.Member):
		return append(pending, ev)
	case len(pending) == 2 && ev.Gone() && ev.Member.Boot == last.Member.Boot:
		pending[0].Version = ev.Version
		return pending[:1]
	}
	pending[len(pending)-1] = coalesce(last, ev)
	return pending
}

// otherLife reports whether two events are of two lives of a member.
func otherLife(a, b membership.Member) bool {
	return a.Boot != 0 && b.Boot != 0 && a.Boot != b.Boot
}

func (q *Queue) pop() (membership.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return membership.Event{}, false
	}
	name := q.order[0]
	evs := q.pending[name]
	if len(evs) > 1 { // the join of the new life comes next
		q.pending[name] = evs[1:]
		return evs[0], true
	}
	q.order[0] = ""
	q.order = q.order[1:]
	delete(q.pending, name)
	if len(q.order) == 0 && q.peak > shrinkAbove {
		// Drained after a burst (a cluster forming): Go maps keep the
		// room they grew to, so start afresh rather than hold a slot
		// per member for the queue's lifetime.
		q.pending, q.order, q.peak = make(map[string][]membership.Event), nil, 0
	}
	return evs[0], true
}

// shrinkAbove is the backlog (members with pending events) past which a
// drained queue lets its storage go; below it, the storage is reused. A
// map that held up to 8 names is one group of slots; one that held 64
// kept about 5 KiB per queue, and a node has two queues (Events and its
// own log) for good: every node in a cluster that forms paid it.
const shrinkAbove = 8

// Run delivers events until ctx is done, then closes C. Pending events are
// dropped at that point: nobody may be reading any more.
func (q *Queue) Run(ctx context.Context) {
	defer func() {
		q.mu.Lock()
		q.closed = true
		q.pending, q.order = nil, nil
		q.mu.Unlock()
		close(q.out)
	}()
	for {
		ev, ok := q.pop()
		if !ok {
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case q.out <- ev:
		case <-ctx.Done():
			return
		}
	}
}

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
// falls behind, a member's pending events coalesce into its latest one, so
// at most one event per member waits (plus one in flight). Events of one
// member stay in order; events of different members keep the order in which
// each member first became pending.
type Queue struct {
	out  chan membership.Event
	wake chan struct{}

	mu      sync.Mutex
	pending map[string]membership.Event
	order   []string // names with a pending event, oldest first
	closed  bool

	coalesced atomic.Uint64
}

// New returns an empty Queue. Call Run to deliver.
func New() *Queue {
	return &Queue{
		out:     make(chan membership.Event),
		wake:    make(chan struct{}, 1),
		pending: make(map[string]membership.Event),
	}
}

// C is the delivery channel. It is closed when Run returns.
func (q *Queue) C() <-chan membership.Event { return q.out }

// Coalesced counts events merged into a newer one because the reader was
// behind.
func (q *Queue) Coalesced() uint64 { return q.coalesced.Load() }

// Len returns how many events are pending.
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
		q.pending[name] = coalesce(old, ev)
		q.coalesced.Add(1)
	} else {
		q.pending[name] = ev
		q.order = append(q.order, name)
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

func (q *Queue) pop() (membership.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return membership.Event{}, false
	}
	name := q.order[0]
	q.order[0] = ""
	q.order = q.order[1:]
	ev := q.pending[name]
	delete(q.pending, name)
	return ev, true
}

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

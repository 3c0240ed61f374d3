package main

import (
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// maxEvents is how many events /events keeps (the node program's figure).
const maxEvents = 512

// eventJSON is one event in /events.
type eventJSON struct {
	Time   time.Time  `json:"time"`
	Type   string     `json:"type"`
	Member memberJSON `json:"member"`
}

// eventLog is memberlist's EventDelegate. memberlist calls it with its
// node lock held, so it only appends to a queue and returns; run logs
// the queued events and keeps the last maxEvents for /events.
type eventLog struct {
	logger *slog.Logger
	wake   chan struct{} // 1-buffered: something was queued, or close

	mu     sync.Mutex
	queue  []eventJSON
	closed bool
	ring   []eventJSON
}

func newEventLog(logger *slog.Logger) *eventLog {
	return &eventLog{logger: logger, wake: make(chan struct{}, 1)}
}

func (e *eventLog) push(typ string, n *memberlist.Node) {
	e.mu.Lock()
	e.queue = append(e.queue, eventJSON{Time: time.Now().UTC(), Type: typ, Member: toJSON(n)})
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// NotifyJoin is memberlist's EventDelegate.
func (e *eventLog) NotifyJoin(n *memberlist.Node) { e.push("join", n) }

// NotifyUpdate is memberlist's EventDelegate.
func (e *eventLog) NotifyUpdate(n *memberlist.Node) { e.push("update", n) }

// NotifyLeave is memberlist's EventDelegate: a graceful leave (StateLeft)
// or a failure (StateDead).
func (e *eventLog) NotifyLeave(n *memberlist.Node) {
	if n.State == memberlist.StateLeft {
		e.push("leave", n)
		return
	}
	e.push("fail", n)
}

// close makes run return once it has logged what is queued.
func (e *eventLog) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run logs queued events until close.
func (e *eventLog) run() {
	for range e.wake {
		e.mu.Lock()
		q, closed := e.queue, e.closed
		e.queue = nil
		for _, ev := range q {
			if len(e.ring) == maxEvents {
				e.ring = append(e.ring[:0], e.ring[1:]...)
			}
			e.ring = append(e.ring, ev)
		}
		e.mu.Unlock()
		for _, ev := range q {
			e.logger.Info("event", "type", ev.Type, "peer", ev.Member.Name, "addr", ev.Member.Addr, "state", ev.Member.State)
		}
		if closed {
			return
		}
	}
}

// snapshot returns the kept events, oldest first.
func (e *eventLog) snapshot() []eventJSON {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]eventJSON{}, e.ring...)
}

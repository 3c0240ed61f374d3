package keyproto

import (
	"context"
	"slices"
	"time"
)

// The catch-up ledger: a coordinator remembers, per member, the install,
// use and remove operations that member did not acknowledge (unreachable
// or no answer: partitioned, or busy), and re-sends them in order, every
// retry period, while the member is in its view, until it answers. A
// member that was partitioned during an Install is therefore brought up to
// date when it is back, before the operator's Use (which is refused until
// it has the key). A member that answers anything (acknowledged or
// refused) for a later operation is taken off the ledger: the operator has
// seen its reply.
//
// The ledger lives in the coordinator's memory only: if the coordinator
// stops, the operator re-runs the operation (each one is idempotent).
// A member that missed an Install and was not live when the cluster then
// switched to the new key (Use) cannot be reached at all any more: memberlist
// encrypts with the primary key only. That member is reported by the
// operations (not acknowledged) and must be restarted with the new key.

// The ledger's bounds: members, and operations per member (when a member's
// list is full, its oldest operation is forgotten, logged), and how long
// a re-sent operation waits for its answer.
const (
	ledgerMembers = 256
	ledgerOps     = 16
	catchUpWait   = 3 * time.Second // per operation re-sent
	retryEvery    = time.Second     // how often the ledger is re-sent
)

type pendingOp struct {
	op  Op
	key []byte
}

// noteLedger records who missed op and clears who answered.
func (e *Endpoint) noteLedger(op Op, key []byte, replies []Reply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range replies {
		switch r.Status {
		case Acked, Refused:
			delete(e.ledger, r.Name)
		default:
			ops := e.ledger[r.Name]
			if len(ops) == 0 && len(e.ledger) >= ledgerMembers {
				e.logger.Warn("key catch-up ledger full: member not recorded", "peer", r.Name, "op", op.String())
				continue
			}
			if len(ops) >= ledgerOps {
				e.logger.Warn("key catch-up ledger full for member: oldest operation forgotten", "peer", r.Name, "op", ops[0].op.String())
				ops = ops[1:]
			}
			e.ledger[r.Name] = append(slices.Clone(ops), pendingOp{op: op, key: append([]byte(nil), key...)})
			e.logger.Warn("member missed a key operation: will re-send while it is a member", "peer", r.Name, "op", op.String(), "status", r.Status.String())
		}
	}
}

// Behind returns the members this node coordinated key operations for and
// that have not acknowledged them yet, with how many operations each
// missed.
func (e *Endpoint) Behind() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.ledger))
	for name, ops := range e.ledger {
		out[name] = len(ops)
	}
	return out
}

// caughtUp reports whether the ledger is empty.
func (e *Endpoint) caughtUp() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ledger) == 0
}

// catchUp re-sends the missed operations of every ledger member that is
// live, in order, stopping at the first that gets no answer. It holds the
// coordinator's operation slot, so it never interleaves with an operator's
// operation.
func (e *Endpoint) catchUp() {
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-e.ctx.Done():
		return
	}
	e.mu.Lock()
	names := make([]string, 0, len(e.ledger))
	for name := range e.ledger {
		names = append(names, name)
	}
	e.mu.Unlock()
	slices.Sort(names)
	for _, name := range names {
		m, ok := e.host.Peer(name)
		if !ok {
			continue
		}
		for {
			e.mu.Lock()
			ops := e.ledger[name]
			e.mu.Unlock()
			if len(ops) == 0 {
				break
			}
			ctx, cancel := context.WithTimeout(e.ctx, catchUpWait)
			replies, err := e.ask(ctx, ops[0].op, ops[0].key, []Peer{m})
			cancel()
			if err != nil || len(replies) != 1 || (replies[0].Status != Acked && replies[0].Status != Refused) {
				break
			}
			e.logger.Info("member caught up on a key operation", "peer", name, "op", ops[0].op.String(), "status", replies[0].Status.String(), "err", replies[0].Err)
			e.mu.Lock()
			if cur := e.ledger[name]; len(cur) > 0 {
				if len(cur) == 1 {
					delete(e.ledger, name)
				} else {
					e.ledger[name] = cur[1:]
				}
			}
			e.mu.Unlock()
			if e.ctx.Err() != nil {
				return
			}
		}
	}
}

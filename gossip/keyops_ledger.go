package gossip

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gencluster/gencluster/membership"
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
)

type pendingOp struct {
	op  KeyOp
	key []byte
}

// ledger maps a member name to the operations it missed, oldest first.
// Guarded by keyOps.mu.
type ledger struct {
	ops map[string][]pendingOp
}

func (l *ledger) empty(mu *sync.Mutex) bool {
	mu.Lock()
	defer mu.Unlock()
	return len(l.ops) == 0
}

// noteLedger records who missed op and clears who answered.
func (k *keyOps) noteLedger(op KeyOp, key []byte, replies []KeyReply) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ledger.ops == nil {
		k.ledger.ops = make(map[string][]pendingOp)
	}
	for _, r := range replies {
		switch r.Status {
		case KeyAcked, KeyRefused:
			delete(k.ledger.ops, r.Name)
		default:
			ops := k.ledger.ops[r.Name]
			if len(ops) == 0 && len(k.ledger.ops) >= ledgerMembers {
				k.logger.Warn("key catch-up ledger full: member not recorded", "peer", r.Name, "op", op.String())
				continue
			}
			if len(ops) >= ledgerOps {
				k.logger.Warn("key catch-up ledger full for member: oldest operation forgotten", "peer", r.Name, "op", ops[0].op.String())
				ops = ops[1:]
			}
			k.ledger.ops[r.Name] = append(slices.Clone(ops), pendingOp{op: op, key: cloneKey(key)})
			k.logger.Warn("member missed a key operation: will re-send while it is a member", "peer", r.Name, "op", op.String(), "status", r.Status.String())
		}
	}
}

// Behind returns the members this node coordinated key operations for and
// that have not acknowledged them yet, with how many operations each
// missed.
func (g *Gossip) Behind() map[string]int {
	k := g.kops
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]int, len(k.ledger.ops))
	for name, ops := range k.ledger.ops {
		out[name] = len(ops)
	}
	return out
}

// catchUp re-sends the missed operations of every ledger member that is
// live, in order, stopping at the first that gets no answer. It holds the
// coordinator's operation slot, so it never interleaves with an operator's
// operation.
func (k *keyOps) catchUp() {
	select {
	case k.sem <- struct{}{}:
		defer func() { <-k.sem }()
	case <-k.ctx.Done():
		return
	}
	k.mu.Lock()
	names := make([]string, 0, len(k.ledger.ops))
	for name := range k.ledger.ops {
		names = append(names, name)
	}
	k.mu.Unlock()
	slices.Sort(names)
	for _, name := range names {
		m, ok := k.member(name)
		if !ok {
			continue
		}
		for {
			k.mu.Lock()
			ops := k.ledger.ops[name]
			k.mu.Unlock()
			if len(ops) == 0 {
				break
			}
			ctx, cancel := context.WithTimeout(k.ctx, catchUpWait)
			replies, err := k.ask(ctx, ops[0].op, ops[0].key, []membership.Member{m})
			cancel()
			if err != nil || len(replies) != 1 || (replies[0].Status != KeyAcked && replies[0].Status != KeyRefused) {
				break
			}
			k.logger.Info("member caught up on a key operation", "peer", name, "op", ops[0].op.String(), "status", replies[0].Status.String(), "err", replies[0].Err)
			k.mu.Lock()
			if cur := k.ledger.ops[name]; len(cur) > 0 {
				if len(cur) == 1 {
					delete(k.ledger.ops, name)
				} else {
					k.ledger.ops[name] = cur[1:]
				}
			}
			k.mu.Unlock()
			if k.ctx.Err() != nil {
				return
			}
		}
	}
}

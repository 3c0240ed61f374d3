package gencluster

import (
	"context"
	"fmt"
)

// MinMembers returns the minimum cluster size set with WithMinMembers.
func (n *Node) MinMembers() int { return max(1, n.cfg.minMembers) }

// Ready reports whether the node runs and sees at least MinMembers live
// members, and how many it sees.
func (n *Node) Ready() (ready bool, members int) {
	members = len(n.Members())
	return n.ctx.Err() == nil && members >= n.MinMembers(), members
}

// WaitForMembers waits until this node sees at least want live members,
// itself included (want 0 means MinMembers). It watches the event stream
// of Subscribe rather than polling. It returns nil once there are enough;
// ErrStopped (wrapped) when the node is stopped or stops first; and when
// ctx ends first, ctx's error wrapped with how many members were seen.
func (n *Node) WaitForMembers(ctx context.Context, want int) error {
	if want < 0 {
		return fmt.Errorf("gencluster: WaitForMembers %d: negative", want)
	}
	if want == 0 {
		want = n.MinMembers()
	}
	if err := n.stopped("WaitForMembers"); err != nil {
		return err
	}
	snap, events, cancel := n.Subscribe()
	defer cancel()
	live := make(map[string]bool, len(snap))
	for _, m := range snap {
		live[m.Name] = true
	}
	for len(live) < want {
		select {
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("gencluster: WaitForMembers: saw %d of %d members: %w", len(live), want, ErrStopped)
			}
			if ev.Gone() {
				delete(live, ev.Member.Name)
			} else {
				live[ev.Member.Name] = true
			}
		case <-ctx.Done():
			return fmt.Errorf("gencluster: WaitForMembers: saw %d of %d members: %w", len(live), want, ctx.Err())
		}
	}
	return nil
}

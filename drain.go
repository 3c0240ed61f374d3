package gencluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gencluster/gencluster/membership"
)

// DrainStatus is one member's outcome of a drain: DrainAcked, DrainGone,
// DrainUnreachable or DrainTimeout. Its String is the lower-case name:
// acked, gone, unreachable, timeout.
type DrainStatus = membership.DrainStatus

// The outcomes of a drain.
const (
	// DrainAcked: the member's view holds this node draining, and it
	// said so.
	DrainAcked = membership.DrainAcked
	// DrainGone: the member left or failed before it acknowledged.
	DrainGone = membership.DrainGone
	// DrainUnreachable: the last request could not be sent to the member.
	DrainUnreachable = membership.DrainUnreachable
	// DrainTimeout: the member did not acknowledge before ctx ended.
	DrainTimeout = membership.DrainTimeout
)

// DrainReply is one member's outcome of a drain: Name, Addr, Status, and
// Err saying why Status is not DrainAcked.
type DrainReply = membership.DrainReply

// DrainResponse is the outcome of Node.Drain: one reply per member asked
// (every live member other than this node, including those that joined
// while it waited), by name. Its field is named Members, as KeyResponse's
// is.
type DrainResponse struct {
	Members []DrainReply
}

// Acked returns the names of the members that acknowledged.
func (r DrainResponse) Acked() []string { return r.with(DrainAcked) }

// Gone returns the names of the members that left or failed before they
// acknowledged.
func (r DrainResponse) Gone() []string { return r.with(DrainGone) }

// NotAcked returns the names of the live members that did not
// acknowledge (unreachable or timed out): the members that may still
// give this node work.
func (r DrainResponse) NotAcked() []string {
	var out []string
	for _, m := range r.Members {
		if !m.Status.Done() {
			out = append(out, m.Name)
		}
	}
	return out
}

// Count returns how many members have status s.
func (r DrainResponse) Count(s DrainStatus) int { return len(r.with(s)) }

func (r DrainResponse) with(s DrainStatus) []string {
	var out []string
	for _, m := range r.Members {
		if m.Status == s {
			out = append(out, m.Name)
		}
	}
	return out
}

// ErrDrainUnsupported is returned (wrapped) by Node.Drain when the Dist
// given with WithDist does not implement Drainer.
var ErrDrainUnsupported = errors.New("the Dist given with WithDist does not implement Drainer")

// drainNotAcked is Drain's ErrNotAcknowledged: errors.Is matches
// ErrNotAcknowledged (one sentinel for "not every member acknowledged",
// for Drain as for the key operations) and ctx's error, and the message
// is Drain's own.
type drainNotAcked struct {
	missing []string
	asked   int
	cause   error // ctx's error
}

func (e *drainNotAcked) Error() string {
	return fmt.Sprintf("gencluster: Drain: %d of %d members did not acknowledge that this node is draining (%s): %v",
		len(e.missing), e.asked, strings.Join(e.missing, ", "), e.cause)
}

func (e *drainNotAcked) Is(target error) bool { return target == ErrNotAcknowledged }

func (e *drainNotAcked) Unwrap() error { return e.cause }

// Drain marks this node draining and waits until the cluster has seen it.
// Draining (StateDraining) is the state of a live member that is about to
// leave: it stays in every member's Members, it answers probes and keeps
// serving what it has, but it owns no keys (package shard gives work only
// to members in StateAlive), so every node moves its work off this one as
// soon as its view holds the drain. Every member sees an EventUpdate with
// State draining, and /members shows "draining". This node's Ready is
// false from then on (reason "draining" on /readyz).
//
// Draining is one-way for this life of the node: there is no undrain. The
// node is expected to Leave next (the others then see a leave, not a
// failure); a node that must serve again restarts, which is a new life.
//
// Drain returns when every live member other than this node has
// acknowledged that its own view holds this node draining (the set is
// re-read while it waits: a member that joins meanwhile is asked too, and
// one that leaves or fails is reported DrainGone), or when ctx ends. The
// response has one reply per member asked. The error is nil when every
// member acknowledged or is gone; when ctx ends first, it matches
// ErrNotAcknowledged and ctx's error (errors.Is), and NotAcked names the
// members that may still give this node work. Calling Drain again asks
// again. A node alone returns at once.
//
// The default Dist gossips the state in this node's metadata and asks
// every pending member about every 200 ms over memberlist's reliable
// channel. With a Dist given with WithDist, Drain needs a Drainer:
// otherwise it is ErrDrainUnsupported and the node is not marked.
// A stopped node returns ErrStopped. See docs/drain.md.
func (n *Node) Drain(ctx context.Context) (DrainResponse, error) {
	var res DrainResponse
	d, ok := n.dist.(Drainer)
	if !ok {
		return res, fmt.Errorf("gencluster: Drain: %w", ErrDrainUnsupported)
	}
	if err := n.stopped("Drain"); err != nil {
		return res, err
	}
	n.draining.Store(true)
	start := time.Now()
	replies, err := d.Drain(ctx)
	res.Members = replies
	if err != nil {
		return res, fmt.Errorf("gencluster: Drain: %w", err)
	}
	if missing := res.NotAcked(); len(missing) > 0 {
		cause := ctx.Err()
		if cause == nil {
			cause = errors.New("the Dist returned before they did") // a Dist's own bound
		}
		err := &drainNotAcked{missing: missing, asked: len(res.Members), cause: cause}
		n.logger.Warn("drain not acknowledged by every member", "acked", res.Count(DrainAcked), "gone", res.Count(DrainGone),
			"unreachable", res.Count(DrainUnreachable), "timeout", res.Count(DrainTimeout), "took", time.Since(start), "missing", strings.Join(missing, ","))
		return res, err
	}
	n.logger.Info("drain acknowledged", "acked", res.Count(DrainAcked), "gone", res.Count(DrainGone), "took", time.Since(start))
	return res, nil
}

// Draining reports whether Drain was called on this node (it is one-way:
// see Drain).
func (n *Node) Draining() bool { return n.draining.Load() }

package gencluster

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gencluster/gencluster/internal/view"
	"github.com/gencluster/gencluster/shard"
)

// Ownership is the node's live answer to "who owns which key": a
// shard.Table kept current with the membership view, and a stream of the
// changes of the owning set. Get one with Node.Ownership. Its methods are
// safe for concurrent use.
type Ownership struct {
	table   atomic.Pointer[shard.Table]
	changes chan shard.Change
	cancel  func()        // ends the subscription, which ends run
	done    chan struct{} // closed when run has returned
	once    sync.Once
}

// Ownership returns the ownership of keys among the members, by package
// shard's rendezvous hashing with opts (shard.WithFilter,
// shard.WithWeightMeta, shard.WithZoneMeta), kept current with the node's
// membership view by a goroutine of the node.
//
// Table is the current Table, for lookups on every request. Changes
// delivers a shard.Change each time the owning set changes (a member
// begins or ceases to own keys, or its weight, zone or life changes), so
// that a service moves only the keys of the members it names. Each
// Change's Version is the view's version its Table was built at, the
// number /members reports in its Gencluster-View-Version header: the
// Table's owners are exactly the alive members of /members at that
// version that opts accept. Changes of the view that move no key (a
// member that owns nothing, an owner's address or other metadata) make
// no Change; Table follows them.
//
// Bad options fail with package shard's error, which names the value; a
// member whose published weight is invalid does not fail it, but owns
// nothing (on every node alike) and is logged once as a warning. A
// stopped node returns ErrStopped. Close the Ownership when done with it;
// it also ends when the node stops.
func (n *Node) Ownership(opts ...shard.Option) (*Ownership, error) {
	if err := n.stopped("Ownership"); err != nil {
		return nil, err
	}
	n.poll()
	snap, version, q, cancel := n.hub.SubscribeAt()
	if err := n.stopped("Ownership"); err != nil {
		cancel()
		return nil, err
	}
	tr, err := shard.NewTracker(snap, version, opts...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gencluster: Ownership: %w", err)
	}
	o := &Ownership{changes: make(chan shard.Change), cancel: cancel, done: make(chan struct{})}
	o.table.Store(tr.Table())
	r := &ownershipRun{o: o, n: n, view: n.view(), tr: tr, events: q.C()}
	r.offer(shard.Change{Version: version, Table: tr.Table()})
	r.warn()
	if !n.hub.Go(r.run) {
		cancel()
		return nil, fmt.Errorf("gencluster: Ownership: %w", ErrStopped)
	}
	return o, nil
}

// Table returns the current Table: the owners among the members of the
// view at Table().Version(), with their current addresses and metadata.
// It never blocks and may be called on every request. After Close, or
// once the node has stopped, it stays at the last Table.
func (o *Ownership) Table() *shard.Table { return o.table.Load() }

// Changes returns the stream of changes of the owning set. The first
// Change is the Table the Ownership started with, every owner in Added.
// Each later one is relative to the one delivered before it: its Added
// and Removed are shard.Diff of the two Tables, so a reader that applies
// every Change it receives, in order, is never out of step, however late
// it reads. The stream never blocks gossip: while nobody reads, changes
// merge into one pending Change (and one that undoes the pending one
// cancels it), so memory stays bounded. The channel is closed by Close
// and when the node stops.
func (o *Ownership) Changes() <-chan shard.Change { return o.changes }

// Close ends the Ownership: its goroutine stops and Changes is closed
// before Close returns. It is safe to call more than once, and after the
// node stopped.
func (o *Ownership) Close() {
	o.once.Do(o.cancel)
	<-o.done
}

// ownershipRun is the state of an Ownership's goroutine.
type ownershipRun struct {
	o      *Ownership
	n      *Node
	view   *view.View
	tr     *shard.Tracker
	events <-chan Event // the subscription: a wake-up on every change

	delivered *shard.Table // the Table of the last Change delivered; nil before the first
	pending   shard.Change // the Change to deliver when has
	has       bool
	warned    []string // the member errors logged last
}

// run follows the view until the subscription ends (Close, or the node
// stopped). On every wake-up it reads the view and its version together
// and syncs the Tracker with them, rather than apply the events one by
// one: a subscription that coalesced delivers members out of version
// order, and only a snapshot gives a Table that is the view's at its
// version (the events only say when to look).
func (r *ownershipRun) run() {
	defer close(r.o.done)
	defer close(r.o.changes)
	for {
		var out chan<- shard.Change
		if r.has {
			out = r.o.changes
		}
		select {
		case _, ok := <-r.events:
			if !ok || !r.drain() {
				return
			}
			ms, version := r.view.Snapshot()
			c, changed, err := r.tr.Sync(ms, version)
			if err != nil { // unreachable: the view holds one member a name
				r.n.logger.Error("ownership not updated", "err", err)
				continue
			}
			r.o.table.Store(r.tr.Table())
			if changed {
				r.offer(c)
			}
			r.warn()
		case out <- r.pending:
			r.delivered, r.has = r.pending.Table, false
		}
	}
}

// drain takes the events already waiting, which the snapshot to come
// covers; false when the subscription ended.
func (r *ownershipRun) drain() bool {
	for {
		select {
		case _, ok := <-r.events:
			if !ok {
				return false
			}
		default:
			return true
		}
	}
}

// offer makes c, rebased on the last Change delivered, the pending
// Change. Nothing is pending when c's owners are the delivered ones (a
// change and its undoing, both unread), except before the first delivery:
// the first Change is always delivered.
func (r *ownershipRun) offer(c shard.Change) {
	c.Added, c.Removed = shard.Diff(r.delivered, c.Table)
	r.pending = c
	r.has = r.delivered == nil || len(c.Added) > 0 || len(c.Removed) > 0
}

// warn logs the members that own nothing because of what they publish,
// when that list changes.
func (r *ownershipRun) warn() {
	var now []string
	for _, err := range r.tr.Errors() {
		now = append(now, err.Error())
	}
	for _, e := range now {
		if !slices.Contains(r.warned, e) {
			r.n.logger.Warn("a member owns no keys", "err", e)
		}
	}
	r.warned = now
}

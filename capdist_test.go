package gencluster

import (
	"context"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// The Dists of dist_test.go: each adds one optional capability (dist.go)
// to the fake testutil.Dist, and records what the Node asked of it.

// calls records the capability calls a Dist received, and answers them
// with err.
type calls struct {
	*testutil.Dist
	err error

	mu  sync.Mutex
	got []string
	ctx context.Context // of the last call that had one
}

func newCalls(self string, err error) *calls {
	return &calls{Dist: testutil.NewDist(self), err: err}
}

func (c *calls) record(call string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, call)
	return c.err
}

// recordCtx records a call and the ctx it was given.
func (c *calls) recordCtx(ctx context.Context, call string) error {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	return c.record(call)
}

// Calls returns the calls so far, in order.
func (c *calls) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func (c *calls) lastCtx() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx
}

// leaverDist is a Leaver.
type leaverDist struct{ *calls }

func (d leaverDist) Leave(ctx context.Context) error { return d.recordCtx(ctx, "leave") }

// closerDist is an io.Closer.
type closerDist struct{ *calls }

func (d closerDist) Close() error { return d.record("close") }

// leaverCloserDist is both.
type leaverCloserDist struct{ *calls }

func (d leaverCloserDist) Leave(ctx context.Context) error { return d.recordCtx(ctx, "leave") }
func (d leaverCloserDist) Close() error                    { return d.record("close") }

// selfDist is a Self that answers with self.
type selfDist struct {
	*calls
	self Member
}

func (d selfDist) LocalMember() Member { _ = d.record("local"); return d.self }

// metaDist is a MetaUpdater that keeps the metadata it was given.
type metaDist struct {
	*calls
	meta *map[string]string
}

func (d metaDist) UpdateMeta(ctx context.Context, meta map[string]string) error {
	*d.meta = meta
	return d.recordCtx(ctx, "meta")
}

// eventDist is an EventSource: Emit sends what it is told to the Node,
// whatever its Members (the testutil.Dist's) lists.
type eventDist struct {
	*calls
	mu     *sync.Mutex
	notify *func(Event)
}

func newEventDist(self string) eventDist {
	return eventDist{calls: newCalls(self, nil), mu: new(sync.Mutex), notify: new(func(Event))}
}

func (d eventDist) Notify(f func(Event)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	*d.notify = f
	_ = d.record("notify")
}

func (d eventDist) Emit(ev Event) {
	d.mu.Lock()
	f := *d.notify
	d.mu.Unlock()
	f(ev)
}

// claimDist claims names (the unexported nameClaimer): ClaimName answers
// claim, NameConflict answers conflict.
type claimDist struct {
	*calls
	claim, conflict error
}

func (d claimDist) ClaimName(ctx context.Context) error {
	_ = d.recordCtx(ctx, "claim")
	return d.claim
}
func (d claimDist) NameConflict() error { return d.conflict }

// collectingDist has collectors of its own (the unexported collectorDist).
type collectingDist struct {
	*calls
	c prometheus.Collector
}

func (d collectingDist) Collectors() []prometheus.Collector { return []prometheus.Collector{d.c} }

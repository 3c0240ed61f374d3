package gencluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gencluster/gencluster/gossip"
	"github.com/gencluster/gencluster/internal/discovery"
	"github.com/gencluster/gencluster/internal/hub"
	"github.com/gencluster/gencluster/internal/refresh"
)

// Node is this process's membership in a cluster. Start one with Start and
// stop it with Leave (graceful) or Close (abrupt). Its methods are safe for
// concurrent use. The package documentation shows its data path.
type Node struct {
	cfg  config
	name string
	addr string
	dist Dist // what else it can do is asked with type assertions (dist.go)
	// poll brings the view up to date with a Dist that reports no events
	// (it compares the Dist's Members with the view); a no-op for the
	// gossip adapter and an EventSource, whose events keep it current.
	poll   func()
	hub    *hub.Hub // holds the view, the one record of who is live
	events <-chan Event
	obs    refresh.Observer // nil without metrics
	met    *nodeMetrics     // nil without WithMetrics
	logger *slog.Logger

	ctx    context.Context // cancelled when the node stops
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the node started

	status *refresh.Status // isolation, found by the refresh loop
	formed atomic.Bool     // MinMembers live members were seen once (ready.go)
	// draining: Drain was called (one-way); Ready is false from then on.
	draining atomic.Bool

	stopOnce sync.Once
	stopErr  error         // the shutdown's result, set before done closes
	done     chan struct{} // closed when stop has finished
	resultMu sync.Mutex
	result   *error // the first result Leave or Close returned
}

// ErrStopped is returned (wrapped; test with errors.Is) by every method of
// a Node that was stopped by Leave or Close, except Leave and Close
// themselves, which return their first result.
var ErrStopped = gossip.ErrStopped

// Done returns a channel that is closed once the node has stopped (Leave
// or Close returned, or is returning, and every goroutine of the node has
// ended), for owners that supervise a Node.
func (n *Node) Done() <-chan struct{} { return n.done }

// stopped returns ErrStopped, wrapped with op, once the node is stopping.
func (n *Node) stopped(op string) error {
	if n.ctx.Err() != nil {
		return fmt.Errorf("gencluster: %s: %w", op, ErrStopped)
	}
	return nil
}

// Start validates every option, binds the gossip port, starts the refresh
// loop, whose first pass discovers the seeds and joins them, and returns
// the running Node as soon as one join has succeeded (the node is then a
// member of that seed's cluster and has its member list) or the first pass
// is over. The first pass's other joins go on after Start returns; Members
// and the event stream show what they bring.
//
// ctx bounds the initial join only: when it ends before the join is done,
// Start stops the node and returns ctx's error; cancelling it later does
// not affect the node. Seeds that cannot be reached are not an error: the
// node starts as a cluster of one and the refresh loop keeps trying them
// (use WaitForMembers to wait for the cluster to form). With no seeds the
// node is a one-node cluster that others can join.
func Start(ctx context.Context, opts ...Option) (*Node, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	n := &Node{cfg: cfg, name: cfg.name, ctx: lctx, cancel: cancel, done: make(chan struct{}), status: new(refresh.Status), poll: func() {}}
	n.logger = cfg.logger.With("node", cfg.name)
	n.hub = hub.New(lctx, &n.wg, n.observeEvent)
	n.initMetrics()
	// Subscribe before gossip starts, so Events() sees the node's own join
	// and every change after it.
	_, q, _ := n.hub.Subscribe()
	n.events = q.C()
	n.logEvents()
	n.latchFormed()
	rec, err := n.openSnapshot()
	if err != nil {
		n.stop(context.Background(), "Start", nil)
		return nil, err
	}
	if rec != nil {
		n.recordSnapshot(rec)
	}

	if err := n.startDist(); err != nil {
		n.stop(context.Background(), "Start", nil)
		return nil, err
	}
	if err := n.registerMetrics(); err != nil {
		n.stop(context.Background(), "Start", nil)
		return nil, err
	}

	if err := n.startRunners(); err != nil {
		n.stop(context.Background(), "Start", nil)
		return nil, err
	}

	rc := refresh.Config{
		Dist: n.dist, Backends: cfg.backends, Self: n.addr,
		Interval: cfg.refreshInterval, MinBackoff: cfg.minBackoff, Timeout: cfg.discoveryTimeout,
		Workers: cfg.connectConcurrent, LookupHost: cfg.lookupHost,
		Logger: n.logger, Observer: n.obs, // records carry node=<name>
		Status: n.status,
	}
	if rec != nil {
		// The snapshot's members are join candidates like discovered
		// addresses, with the same backoff.
		rc.Backends = append(slices.Clone(cfg.backends), discovery.Resolve(snapshotSeeds{rec: rec, path: cfg.snapshotPath})...)
	}
	rc.AfterPass = n.poll // a no-op unless the Dist is polled
	r := refresh.New(rc)
	if err := n.startRefresh(ctx, r); err != nil {
		n.stop(context.Background(), "Start", nil)
		return nil, err
	}
	if err := n.claimName(ctx); err != nil {
		n.stop(context.Background(), "Start", nil) // silently, as a crash: the name is not this node's to leave
		return nil, err
	}
	n.logger.Info("started", "addr", n.addr, "seeds", r.Backends(), "refresh", cfg.refreshInterval)
	return n, nil
}

// startDist starts memberlist through the gossip adapter, which publishes
// to the view itself, or adopts the Dist given with WithDist and connects
// it to the view: an EventSource feeds the view with its events; any other
// Dist is polled (see poll).
func (n *Node) startDist() error {
	if n.cfg.dist == nil {
		return n.startGossip()
	}
	n.dist, n.addr = n.cfg.dist, n.cfg.advertiseAddr
	if es, ok := n.dist.(EventSource); ok {
		es.Notify(n.hub.Publish)
		return nil
	}
	// One poll at a time: a list read earlier must not be applied after
	// a newer one (it would report members failed, then joined again).
	var mu sync.Mutex
	n.poll = func() {
		mu.Lock()
		defer mu.Unlock()
		n.hub.Sync(n.dist.Members())
	}
	n.poll()
	return nil
}

// startGossip starts the default Dist, the memberlist adapter, publishing
// to the Node's view.
func (n *Node) startGossip() error {
	var met *gossip.Metrics
	if n.met != nil {
		met = gossip.NewMetrics(n.name)
	}
	g, err := gossip.Start(gossip.Config{
		Name:          n.cfg.name,
		BindAddr:      n.cfg.bindAddr,
		AdvertiseAddr: n.cfg.advertiseAddr,
		Meta:          n.cfg.meta,
		Logger:        n.logger,
		View:          n.hub.View(),
		Metrics:       met,
		Security: gossip.Security{
			Keys: n.cfg.keys, Pending: n.cfg.pendingKeys, Label: n.cfg.label, AllowedCIDRs: n.cfg.allowedCIDRs,
		},
		// The refusals of a node that cannot join are logged once per
		// refresh interval, the pace at which such a node retries.
		RejectLogEvery: n.cfg.refreshInterval,
		Memberlist:     n.cfg.memberlistTune(),
	})
	if err != nil {
		return fmt.Errorf("gencluster: %w", err)
	}
	n.dist, n.addr = g, g.Addr()
	return nil
}

// startRefresh starts the refresh loop, whose first pass discovers and
// joins the seeds, and returns once this node has joined a cluster (its
// first join succeeded) or the first pass is over (every seed failed, or
// there was none to join), whichever comes first. The rest of the first
// pass goes on in the loop: in a join storm each join waits for CPU that
// every starting node wants, and waiting for all of them before Start
// returns held every node's events back by as many joins (loopback, 40
// nodes at once: Start took 70 to 110 ms instead of 10 to 30 ms; section
// 6 of docs/benchmarks.md, rule 9). ctx bounds only this wait: when it ends
// first, Start stops the node, which cancels the pending dials.
func (n *Node) startRefresh(ctx context.Context, r *refresh.Loop) error {
	if r.Backends() == 0 {
		n.goRun(r.Run)
		return nil
	}
	passed := make(chan struct{})
	n.goRun(func(lctx context.Context) {
		joined, tried := r.Pass(lctx, true)
		close(passed)
		if tried && !joined {
			n.logger.Warn("no seed could be joined; running alone until the refresh loop reaches one", "seeds", strings.Join(r.Addrs(), ","))
		}
		r.Run(lctx)
	})
	select {
	case <-r.Joined():
		return nil
	case <-passed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gencluster: initial join: %w", ctx.Err())
	}
}

// logEvents logs member changes with the stable keys peer and addr, from
// its own subscription: a slow log handler then never holds up
// memberlist's callbacks (it only makes this subscription coalesce).
func (n *Node) logEvents() {
	_, q, _ := n.hub.Subscribe()
	n.goRun(func(context.Context) {
		for ev := range q.C() {
			switch ev.Type {
			case EventUpdate:
				n.logger.Debug("member updated", "peer", ev.Member.Name, "addr", ev.Member.Addr)
			default:
				n.logger.Info("member "+ev.Type.String(), "peer", ev.Member.Name, "addr", ev.Member.Addr)
			}
		}
	})
}

// goRun runs f in a goroutine owned by the node: f's context ends when the
// node stops, and Leave/Close wait for f to return.
func (n *Node) goRun(f func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f(n.ctx)
	}()
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// Addr returns the host:port the node advertises to its peers (with port 0
// in WithBindAddr, the port that was picked).
func (n *Node) Addr() string { return n.addr }

// LocalMember returns this node as a Member: as its Dist sees it (Self),
// or built from its options (StateDraining once Drain was called).
func (n *Node) LocalMember() Member {
	if s, ok := n.dist.(Self); ok {
		return s.LocalMember()
	}
	s := StateAlive
	if n.draining.Load() {
		s = StateDraining
	}
	return Member{Name: n.name, Addr: n.addr, Meta: maps.Clone(n.cfg.meta), State: s}
}

// UpdateMeta replaces this node's metadata and gossips it; the others see
// an EventUpdate. It waits until memberlist has broadcast the update or
// ctx ends (then ctx's error is returned, wrapped: test with errors.Is);
// a ctx with no deadline sets no limit. A ctx that has already ended
// changes nothing. With no other live member there is nothing to wait
// for. Metadata equal to the current announces nothing and returns nil at
// once. It is safe to call from several goroutines; the last update wins.
// The limits of WithMeta apply. With a Dist given with WithDist, the
// Dist does the update if it is a MetaUpdater; otherwise UpdateMeta fails.
func (n *Node) UpdateMeta(ctx context.Context, meta map[string]string) error {
	mu, ok := n.dist.(MetaUpdater)
	if !ok {
		return errors.New("gencluster: UpdateMeta: the Dist given with WithDist owns metadata")
	}
	if err := n.stopped("UpdateMeta"); err != nil {
		return err
	}
	if err := mu.UpdateMeta(ctx, meta); err != nil {
		return fmt.Errorf("gencluster: UpdateMeta: %w", err)
	}
	return nil
}

// Leave leaves the cluster gracefully: the other members see an EventLeave
// for this node, not an EventFail. It stops the refresh loop, announces the
// leave and waits for the broadcast until it is out or ctx ends, shuts
// gossip down, and waits for every goroutine the node started. With a
// Dist given with WithDist, the Dist leaves if it is a Leaver, and is
// closed otherwise (see Leaver).
//
// Like http.Server.Shutdown, it returns when ctx ends, with ctx's error
// (wrapped; test with errors.Is): the rest of the stop (the announcement
// cut short, gossip's shutdown, the node's goroutines) then finishes in
// the background, and Done is closed once it has. A ctx that has already
// ended announces nothing (the node stops as with Close) and Leave
// returns at once. Until Done is closed the node still holds its gossip
// port, its metrics and its snapshot file: wait for it before starting a
// node again with them. The node is stopped whatever Leave returns: its
// methods return ErrStopped from the moment Leave is called. Leaving a
// cluster that is itself going away (every other member left or failed,
// as when a whole deployment stops at once) is not an error: the leave is
// best effort, logged as a warning, and Leave returns nil.
//
// It is idempotent: later calls, and Close after it, wait for the stop
// to finish (a later Leave until its own ctx ends) and return the first
// result.
func (n *Node) Leave(ctx context.Context) error {
	return n.stop(ctx, "Leave", func() error {
		l, ok := n.dist.(Leaver)
		if !ok {
			// Leaving is closing: the others will see a failure.
			if err := errors.Join(ctx.Err(), n.closeDist()); err != nil {
				return fmt.Errorf("gencluster: Leave: %w", err)
			}
			return nil
		}
		if err := l.Leave(ctx); err != nil {
			return fmt.Errorf("gencluster: Leave: %w", err)
		}
		return nil
	})
}

// Close stops the node abruptly, as a crash would: no leave message is
// sent, so the other members detect a failure (EventFail). It waits for
// every goroutine the node started (it has no context to bound that
// wait: use Leave with one). It is idempotent, and after Leave returns
// Leave's first result once the stop has finished. A Dist given with
// WithDist is closed if it is an io.Closer.
func (n *Node) Close() error {
	return n.stop(context.Background(), "Close", n.closeDist)
}

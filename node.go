package gencluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/gossip"
	"github.com/gencluster/gencluster/seeds"
)

// Node is this process's membership in a cluster. Start one with Start and
// stop it with Leave (graceful) or Close (abrupt). Its methods are safe for
// concurrent use.
//
// The data path: discovery backends (WithSeeds) yield addresses; the
// refresh loop joins those that are not live members through the Dist
// (memberlist by default); memberlist gossips membership and detects
// failures; its callbacks become Events on Events() and Subscribe(), and
// its view is Members().
type Node struct {
	cfg    config
	name   string
	addr   string
	dist   Dist
	gossip *gossip.Gossip // nil when WithDist replaced it
	hub    *hub
	events <-chan Event
	obs    observer
	met    *nodeMetrics // nil without WithMetrics
	logger *slog.Logger

	ctx    context.Context // cancelled when the node stops
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the node started

	stopOnce sync.Once
	stopErr  error
}

// Start validates every option, binds the gossip port, joins the addresses
// the seeds discover, starts the refresh loop, and returns the running
// Node.
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
	n := &Node{cfg: cfg, name: cfg.name, ctx: lctx, cancel: cancel, obs: nopObserver{}}
	n.logger = cfg.logger.With("node", cfg.name)
	n.hub = newHub(lctx, &n.wg)
	n.hub.observe = n.observeEvent
	n.initMetrics()
	// Subscribe before gossip starts, so Events() sees the node's own join
	// and every change after it.
	_, q, _ := n.hub.subscribe()
	n.events = q.C()
	n.logEvents()

	if err := n.startDist(); err != nil {
		n.stop(nil)
		return nil, err
	}
	if err := n.registerMetrics(); err != nil {
		n.stop(nil)
		return nil, err
	}

	if err := n.startRunners(); err != nil {
		n.stop(nil)
		return nil, err
	}

	r := newRefresher(&cfg, n.dist, n.addr, n.obs)
	r.logger = n.logger // records carry node=<name>
	if _, ok := n.dist.(EventSource); !ok && n.gossip == nil {
		r.afterPass = func() { n.hub.sync(n.dist.Members()) }
		n.hub.sync(n.dist.Members())
	}
	if err := n.initialJoin(ctx, r); err != nil {
		n.stop(nil)
		return nil, err
	}
	n.goRun(func(ctx context.Context) { r.run(ctx) })
	n.logger.Info("started", "addr", n.addr, "seeds", len(r.backends), "refresh", cfg.refreshInterval)
	return n, nil
}

func runnersOf(ds []seeds.Discoverer) []seeds.Runner {
	var out []seeds.Runner
	for _, d := range ds {
		out = append(out, seeds.Runners(d)...)
	}
	return out
}

// startRunners starts the backends that work in the background, before the
// initial join so that what they learn can seed it. Their work stops with
// the node. A backend that cannot start fails Start, and so does one whose
// findings nothing would read: only the refresh loop asks a backend again
// after the initial join, so such a backend needs it.
func (n *Node) startRunners() error {
	for _, run := range runnersOf(n.cfg.seeds) {
		name := seeds.Name(run.(seeds.Discoverer))
		if n.cfg.refreshInterval == 0 {
			return fmt.Errorf("gencluster: discovery backend %s works in the background and needs the refresh loop, which WithRefreshInterval(0) disables", name)
		}
		wait, err := run.Start(n.ctx, n.addr)
		if err != nil {
			return fmt.Errorf("gencluster: discovery backend %s: %w", name, err)
		}
		n.goRun(func(context.Context) { wait() })
	}
	return nil
}

// startDist starts memberlist through the gossip adapter, or adopts the
// Dist given with WithDist.
func (n *Node) startDist() error {
	if n.cfg.dist != nil {
		n.dist = n.cfg.dist
		if es, ok := n.dist.(EventSource); ok {
			es.Notify(n.hub.publish)
		}
		n.addr = n.cfg.advertiseAddr
		return nil
	}
	g, err := gossip.Start(gossip.Config{
		Name:          n.cfg.name,
		BindAddr:      n.cfg.bindAddr,
		AdvertiseAddr: n.cfg.advertiseAddr,
		Meta:          n.cfg.meta,
		Logger:        n.logger,
		OnEvent:       n.hub.publish,
		Memberlist: func(mc *memberlist.Config) {
			for _, f := range n.cfg.tuneMemberlist {
				f(mc)
			}
			n.met.tuneMemberlist(mc)
		},
	})
	if err != nil {
		return fmt.Errorf("gencluster: %w", err)
	}
	n.gossip, n.dist, n.addr = g, g, g.Addr()
	return nil
}

// initialJoin runs the first discovery and joins in a goroutine, so that
// ctx can cut it short: stopping the node then cancels the pending dials.
func (n *Node) initialJoin(ctx context.Context, r *refresher) error {
	if len(r.backends) == 0 {
		return nil
	}
	done := make(chan struct{})
	n.goRun(func(lctx context.Context) {
		defer close(done)
		joined, tried := r.pass(lctx, true)
		if tried && !joined {
			n.logger.Warn("no seed could be joined; running alone until the refresh loop reaches one", "seeds", strings.Join(r.addrs, ","))
		}
	})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gencluster: initial join: %w", ctx.Err())
	}
}

// logEvents logs member changes with the stable keys peer and addr, from
// its own subscription: a slow log handler then never holds up
// memberlist's callbacks (it only makes this subscription coalesce).
func (n *Node) logEvents() {
	_, q, _ := n.hub.subscribe()
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

// LocalMember returns this node as a Member.
func (n *Node) LocalMember() Member {
	if n.gossip != nil {
		return n.gossip.LocalMember()
	}
	return Member{Name: n.name, Addr: n.addr, Meta: n.cfg.meta, State: StateAlive}
}

// Members returns the live members, this node included, sorted by name:
// those alive and those suspected but not yet declared failed.
func (n *Node) Members() []Member {
	ms := n.dist.Members()
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

// Events returns the node's event stream, which starts with this node's own
// join. It never blocks gossip: when the reader falls behind, a member's
// pending events coalesce into its latest state, so memory is bounded by
// the number of members. Per member, events arrive in order, and a reader
// that drains the stream ends with the view Members() returns. The channel
// is closed by Leave and Close.
func (n *Node) Events() <-chan Event { return n.events }

// Subscribe returns the current members and a stream of every change after
// that snapshot, with the guarantees of Events. Each subscriber has its own
// stream; cancel ends it (closing the channel) and is safe to call more
// than once. Streams also close when the node stops.
func (n *Node) Subscribe() (snapshot []Member, events <-chan Event, cancel func()) {
	snap, q, cancel := n.hub.subscribe()
	return snap, q.C(), cancel
}

// UpdateMeta replaces this node's metadata and gossips it; the others see
// an EventUpdate. ctx bounds the wait for the broadcast. The limits of
// WithMeta apply.
func (n *Node) UpdateMeta(ctx context.Context, meta map[string]string) error {
	if n.gossip == nil {
		return errors.New("gencluster: UpdateMeta: the Dist given with WithDist owns metadata")
	}
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if err := n.gossip.UpdateMeta(meta, timeout); err != nil {
		return fmt.Errorf("gencluster: UpdateMeta: %w", err)
	}
	return nil
}

// Leave leaves the cluster gracefully: the other members see an EventLeave
// for this node, not an EventFail. It stops the refresh loop, announces the
// leave (waiting for the broadcast until ctx ends), shuts gossip down, and
// waits for every goroutine the node started. It is idempotent: later
// calls, and Close after it, return the first result.
func (n *Node) Leave(ctx context.Context) error {
	return n.stop(func() error {
		if n.gossip == nil {
			return nil
		}
		return n.gossip.Leave(ctx)
	})
}

// Close stops the node abruptly, as a crash would: no leave message is
// sent, so the other members detect a failure (EventFail). It waits for
// every goroutine the node started. It is idempotent.
func (n *Node) Close() error {
	return n.stop(func() error {
		if n.gossip == nil {
			return nil
		}
		return n.gossip.Close()
	})
}

// stop runs once: it stops the loops, lets shutdown leave or close gossip,
// and waits for every goroutine.
func (n *Node) stop(shutdown func() error) error {
	n.stopOnce.Do(func() {
		n.cancel()
		if shutdown != nil {
			n.stopErr = shutdown()
		} else if n.gossip != nil {
			n.stopErr = n.gossip.Close()
		}
		n.hub.close()
		n.wg.Wait()
		n.met.unregister()
		n.logger.Info("stopped")
	})
	return n.stopErr
}

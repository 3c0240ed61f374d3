package vsim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster"
)

// Impl names an implementation under test.
type Impl string

// The two implementations compared.
const (
	Gencluster Impl = "gencluster"
	Raw        Impl = "memberlist"
)

// Impls lists the implementations, in report order.
var Impls = []Impl{Gencluster, Raw}

// nodeName is member i's name; a restarted member keeps it.
func nodeName(i int) string { return fmt.Sprintf("v%05d", i) }

// nodeIndex is nodeName's inverse (-1 for a name it did not make).
func nodeIndex(name string) int {
	if !strings.HasPrefix(name, "v") {
		return -1
	}
	i, err := strconv.Atoi(name[1:])
	if err != nil {
		return -1
	}
	return i
}

// node is one simulated member of either implementation.
type node struct {
	idx int
	tr  *Transport
	trk *tracker

	g      *gencluster.Node
	ml     *memberlist.Memberlist
	cancel context.CancelFunc // the raw node's join loop
	wg     sync.WaitGroup     // the goroutines this harness started for it
}

// counters are the harness's own counts of what went wrong at start-up.
type counters struct {
	failedJoins atomic.Int64 // joins that returned an error
	refused     atomic.Int64 // push-pulls a node refused (memberlist's limit of 128)
}

const refusedLine = "Too many pending push/pull requests"

// countingHandler is the slog.Handler of every gencluster node: it only
// counts failed joins and refused push-pulls (memberlist's log lines come
// through gencluster's logger). It takes Debug records too: the refresh
// loop logs a failing address's 1st, 2nd, 4th, ... failure at Info and
// the others at Debug, and every one counts.
type countingHandler struct{ c *counters }

func (h countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelDebug }
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h countingHandler) WithGroup(string) slog.Handler                { return h }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	switch {
	case r.Message == "join failed":
		h.c.failedJoins.Add(1)
	case strings.Contains(r.Message, refusedLine):
		h.c.refused.Add(1)
	}
	return nil
}

// countingWriter is the raw memberlist's LogOutput: it counts refused
// push-pulls and drops the rest.
type countingWriter struct{ c *counters }

func (w countingWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), refusedLine) {
		w.c.refused.Add(1)
	}
	return len(p), nil
}

// rawEvents is the raw memberlist's EventDelegate. It cannot tell a leave
// from a failure (memberlist's callback does not say), so every departure
// counts as a failure; the scenarios expect those of restarted members.
type rawEvents struct{ t *tracker }

func (e rawEvents) NotifyJoin(n *memberlist.Node)   { e.t.joined(nodeIndex(n.Name)) }
func (e rawEvents) NotifyLeave(n *memberlist.Node)  { e.t.gone(nodeIndex(n.Name), true) }
func (e rawEvents) NotifyUpdate(n *memberlist.Node) {}

// profile is the gossip configuration of both implementations:
// memberlist's DefaultLANConfig as its README suggests, with gencluster's
// DeadNodeReclaimTime (so that a restarted member may take its name back
// from a new address) and without compression, which costs CPU (wall
// time) and changes nothing in virtual time.
func profile(mc *memberlist.Config) {
	mc.DeadNodeReclaimTime = 5 * time.Second
	mc.EnableCompression = false
}

// startNode starts member idx of the run's implementation on tr.
func (r *run) startNode(idx int, tr *Transport, want int) (*node, error) {
	n := &node{idx: idx, tr: tr, trk: newTracker(r, idx, r.size, want)}
	var err error
	switch r.o.Impl {
	case Gencluster:
		err = r.startGencluster(n)
	case Raw:
		err = r.startRaw(n)
	default:
		err = fmt.Errorf("vsim: unknown implementation %q", r.o.Impl)
	}
	if err != nil {
		tr.Crash()
		return nil, err
	}
	return n, nil
}

func (r *run) startGencluster(n *node) error {
	opts := []gencluster.Option{
		gencluster.WithName(nodeName(n.idx)),
		gencluster.WithBindAddr(n.tr.Addr()),
		gencluster.WithSeeds(r.reg),
		gencluster.WithLogger(slog.New(countingHandler{&r.count})),
		gencluster.WithMemberlistConfig(func(mc *memberlist.Config) {
			profile(mc)
			mc.Transport = n.tr
		}),
	}
	if r.o.RefreshInterval > 0 {
		opts = append(opts, gencluster.WithRefreshInterval(r.o.RefreshInterval))
	}
	// Listed just before it starts, as a pod is once it runs.
	r.reg.Add(n.tr.Addr())
	g, err := gencluster.Start(context.Background(), opts...)
	if err != nil {
		r.reg.Remove(n.tr.Addr())
		return err
	}
	n.g = g
	n.wg.Go(func() {
		for ev := range g.Events() {
			switch ev.Type {
			case gencluster.EventJoin:
				n.trk.joined(nodeIndex(ev.Member.Name))
			case gencluster.EventFail:
				n.trk.gone(nodeIndex(ev.Member.Name), true)
			case gencluster.EventLeave:
				n.trk.gone(nodeIndex(ev.Member.Name), false)
			}
		}
	})
	return nil
}

// startRaw is memberlist wired by hand as its README suggests: Create, then
// Join a few known seed addresses. Like consul's retry_join it retries a
// failed join (after 1 s plus up to 1 s of jitter) until one succeeds, and
// never joins again after that. A seed does not join itself.
func (r *run) startRaw(n *node) error {
	mc := memberlist.DefaultLANConfig()
	mc.Name = nodeName(n.idx)
	mc.Transport = n.tr
	mc.LogOutput = countingWriter{&r.count}
	mc.Events = rawEvents{n.trk}
	profile(mc)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return err
	}
	n.ml = ml
	var seeds []string
	for _, a := range r.rawSeeds {
		if a != n.tr.Addr() {
			seeds = append(seeds, a)
		}
	}
	if len(seeds) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	rng := rand.New(rand.NewPCG(r.o.Seed, uint64(n.idx)))
	n.wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := ml.Join(seeds); err == nil {
				return
			}
			r.count.failedJoins.Add(1)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second + time.Duration(rng.Int64N(int64(time.Second)))):
			}
		}
	})
	return nil
}

// leave stops the member gracefully: unlisted first (a terminating pod
// leaves the Service), then a leave broadcast, then shutdown.
func (r *run) leave(n *node) {
	r.reg.Remove(n.tr.Addr())
	if n.cancel != nil {
		n.cancel()
	}
	if n.g != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.g.Leave(ctx)
		cancel()
	}
	if n.ml != nil {
		_ = n.ml.Leave(5 * time.Second)
		_ = n.ml.Shutdown()
	}
	n.wg.Wait()
}

// crash takes the member off the network, then stops it without a leave.
func (r *run) crash(n *node) {
	n.tr.Crash()
	r.reg.Remove(n.tr.Addr())
	if n.cancel != nil {
		n.cancel()
	}
	if n.g != nil {
		_ = n.g.Close()
	}
	if n.ml != nil {
		_ = n.ml.Shutdown()
	}
	n.wg.Wait()
}

// Package bench measures gencluster against a baseline of raw memberlist
// wired by hand, side by side in one run on one machine: cluster formation
// from one DNS name, failure detection, partition heal, steady-state
// overhead and the per-event cost of the adapter. The program
// ./cmd/benchplot (in this module, test/bench) runs it and writes docs/benchmarks.md; the
// package's tests run it briefly (small N) so that it keeps working.
//
// Every node binds its own loopback address (127.x.y.z, port Port), so a
// DNS A record can list it the way a headless Service lists pods.
package bench

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/faultnet"
	"github.com/gencluster/gencluster/seeds"
)

// Port is the gossip port of every benchmark node.
const Port = 7946

// Impl names the two implementations compared.
type Impl string

const (
	Gencluster Impl = "gencluster"
	Raw        Impl = "memberlist"
)

// Impls are the implementations, in report order.
var Impls = []Impl{Gencluster, Raw}

// LANProfile is the gossip profile both implementations run with in the
// start, detection and overhead scenarios: memberlist's DefaultLANConfig
// as it is (gossip every 200ms, probe every 1s with a 500ms timeout,
// suspicion multiplier 4, push-pull every 30s), which is what memberlist's
// README suggests. Only DeadNodeReclaimTime is set, to gencluster's
// default, so that the two differ in nothing.
func LANProfile(mc *memberlist.Config) {
	mc.DeadNodeReclaimTime = 5 * time.Second
}

// Profile is memberlist's LAN configuration with timers shortened so that a
// run takes seconds: the partition scenario and the smoke tests use it. A
// 2-core machine sustains it for a few dozen nodes, not for hundreds
// (probes time out under the load and healthy members are declared dead).
func Profile(mc *memberlist.Config) {
	mc.GossipInterval = 50 * time.Millisecond
	mc.ProbeInterval = 500 * time.Millisecond
	mc.ProbeTimeout = 250 * time.Millisecond
	mc.SuspicionMult = 3
	mc.SuspicionMaxTimeoutMult = 3
	mc.PushPullInterval = 5 * time.Second
	mc.TCPTimeout = 2 * time.Second
	mc.DeadNodeReclaimTime = time.Second
	mc.GossipToTheDeadTime = 3 * time.Second
}

// RefreshInterval is gencluster's refresh interval in the benchmarks, and
// the baseline's retry interval until its first successful join.
const RefreshInterval = time.Second

// ipSeq hands out a fresh loopback address to every node ever started, so
// that runs never reuse a port still in TIME_WAIT.
var ipSeq atomic.Uint32

// The sequence starts in a /16 of 127/8 chosen by the process ID, so that
// two benchmark processes at once (two go test runs) rarely collide.
func init() { ipSeq.Store(uint32(10+os.Getpid()%200) << 16) }

func nextIP() string {
	for {
		i := ipSeq.Add(1)
		if b := byte(i); b == 0 || b == 255 {
			continue
		}
		return net.IPv4(127, byte(i>>16), byte(i>>8), byte(i)).String()
	}
}

// Tracker follows one node's view from its events: the live members, when
// the view first reached want members, when each member was reported
// failed.
type Tracker struct {
	mu          sync.Mutex
	want        int
	alive       map[string]bool
	convergedAt time.Time
	completedBy string // the member whose join first made the view whole
	failedAt    map[string]time.Time
	failCount   map[string]int // fail events (not graceful leaves) per member
	onChange    func()
}

func newTracker(want int, onChange func()) *Tracker {
	return &Tracker{want: want, alive: make(map[string]bool), failedAt: make(map[string]time.Time), failCount: make(map[string]int), onChange: onChange}
}

func (t *Tracker) join(name string) {
	t.mu.Lock()
	t.alive[name] = true
	if len(t.alive) >= t.want && t.convergedAt.IsZero() {
		t.convergedAt, t.completedBy = time.Now(), name
	}
	t.mu.Unlock()
	t.onChange()
}

func (t *Tracker) gone(name string, failed bool) {
	t.mu.Lock()
	delete(t.alive, name)
	if failed {
		t.failCount[name]++
		t.failedAt[name] = time.Now()
	}
	t.mu.Unlock()
	t.onChange()
}

// Alive returns how many members the node sees.
func (t *Tracker) Alive() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.alive)
}

// Sees reports whether the node sees name as live.
func (t *Tracker) Sees(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.alive[name]
}

// ConvergedAt returns when the node first saw want members (zero if not).
func (t *Tracker) ConvergedAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.convergedAt
}

// CompletedBy returns the member the node learned last, the one whose
// join first made its view whole ("" if it never was).
func (t *Tracker) CompletedBy() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.completedBy
}

// FailedAt returns when name was last reported failed (zero if not).
func (t *Tracker) FailedAt(name string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failedAt[name]
}

// FailuresExcept returns how many fail events the node saw for members
// other than those named.
func (t *Tracker) FailuresExcept(names ...string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := 0
	for name, c := range t.failCount {
		if !slices.Contains(names, name) {
			k += c
		}
	}
	return k
}

// rawEvents is the baseline's memberlist.EventDelegate.
type rawEvents struct{ t *Tracker }

func (e rawEvents) NotifyJoin(n *memberlist.Node)   { e.t.join(n.Name) }
func (e rawEvents) NotifyUpdate(n *memberlist.Node) {}

// NotifyLeave counts as a failure: memberlist's callback does not say
// whether the member left or failed (the Node it passes keeps its old
// State), and no benchmark node leaves gracefully.
func (e rawEvents) NotifyLeave(n *memberlist.Node) { e.t.gone(n.Name, true) }

// Node is one benchmark node of either implementation.
type Node struct {
	Name    string
	Addr    string
	Tracker *Tracker
	// StartSlot is the node's place in the start order of a formation
	// run (0 first), -1 outside one.
	StartSlot int

	gc     *gencluster.Node
	ml     *memberlist.Memberlist
	kill   func() // cuts the node off the network
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Close crashes the node: it is cut off the network first (memberlist's
// Shutdown leaves a Join in progress dialling, which would resurrect a
// crashed node), then shut down without a leave, so the others detect a
// failure. It waits for the node's goroutines.
func (n *Node) Close() {
	if n.kill != nil {
		n.kill()
	}
	if n.cancel != nil {
		n.cancel()
	}
	if n.gc != nil {
		_ = n.gc.Close()
	}
	if n.ml != nil {
		_ = n.ml.Shutdown()
	}
	n.wg.Wait()
}

// Env is what the nodes of one cluster share: the DNS zone that lists
// them and, optionally, a fault-injecting network.
type Env struct {
	// DNS is the name every node is configured with, resolved by Resolver.
	DNS      string
	Resolver string
	// AddA publishes a node's IP in the zone.
	AddA func(ip string)
	// Net, when set, wraps every node's transport, and Node.Close
	// isolates the node before shutting it down.
	Net *faultnet.Network
	// OnChange is called after every membership event of every node.
	OnChange func()
	// Profile sets the gossip timers of every node (default Profile).
	Profile func(*memberlist.Config)
	// Discovery, when set, is what every node is configured with instead
	// of the DNS name (a static list of seeds, say).
	Discovery seeds.Discoverer
}

func (e *Env) profile() func(*memberlist.Config) {
	if e.Profile == nil {
		return Profile
	}
	return e.Profile
}

func (e *Env) seeds() seeds.Discoverer {
	if e.Discovery != nil {
		return e.Discovery
	}
	return seeds.DNS(e.DNS, Port, seeds.DNSResolver(e.Resolver), seeds.DNSTimeout(2*time.Second))
}

// transport returns a wrapped NetTransport bound to ip:Port when the Env
// has a fault network, or nil.
func (e *Env) transport(ip string) (memberlist.Transport, error) {
	if e.Net == nil {
		return nil, nil
	}
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{ip},
		BindPort:  Port,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		return nil, err
	}
	return e.Net.Wrap(nt), nil
}

// StartNode publishes a fresh address in the zone and starts a node of
// impl on it, expecting a cluster of want members. ctx bounds the start.
func (e *Env) StartNode(ctx context.Context, impl Impl, name string, want int) (*Node, error) {
	return e.startNodeAt(ctx, impl, name, nextIP(), want)
}

// startNodeAt is StartNode on a given loopback IP (from nextIP), for
// seedings that must know the addresses before the nodes start.
func (e *Env) startNodeAt(ctx context.Context, impl Impl, name, ip string, want int) (*Node, error) {
	addr := net.JoinHostPort(ip, fmt.Sprint(Port))
	onChange := e.OnChange
	if onChange == nil {
		onChange = func() {}
	}
	n := &Node{Name: name, Addr: addr, Tracker: newTracker(want, onChange), StartSlot: -1}
	tr, err := e.transport(ip)
	if err != nil {
		return nil, err
	}
	if e.Net != nil {
		n.kill = func() { e.Net.Isolate(addr) }
	}
	e.AddA(ip)
	switch impl {
	case Gencluster:
		err = e.startGencluster(ctx, n, tr)
	case Raw:
		err = e.startRaw(n, ip, tr)
	default:
		err = fmt.Errorf("unknown implementation %q", impl)
	}
	if err != nil {
		if tr != nil {
			_ = tr.Shutdown()
		}
		return nil, err
	}
	return n, nil
}

func (e *Env) startGencluster(ctx context.Context, n *Node, tr memberlist.Transport) error {
	opts := []gencluster.Option{
		gencluster.WithName(n.Name),
		gencluster.WithBindAddr(n.Addr),
		gencluster.WithSeeds(e.seeds()),
		gencluster.WithRefreshInterval(RefreshInterval),
		gencluster.WithMemberlistConfig(e.profile()),
	}
	if tr != nil {
		opts = append(opts, gencluster.WithMemberlistConfig(func(mc *memberlist.Config) { mc.Transport = tr }))
	}
	// Subscribe before the first join: read the node's events from the
	// start. Start's own Events stream does exactly that.
	g, err := gencluster.Start(ctx, opts...)
	if err != nil {
		return err
	}
	n.gc = g
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for ev := range g.Events() {
			switch ev.Type {
			case gencluster.EventJoin:
				n.Tracker.join(ev.Member.Name)
			case gencluster.EventFail:
				n.Tracker.gone(ev.Member.Name, true)
			case gencluster.EventLeave:
				n.Tracker.gone(ev.Member.Name, false)
			}
		}
	}()
	return nil
}

// startRaw is memberlist wired by hand as its README suggests: create it,
// then Join the addresses the DNS name resolves to. Like most hand-wired
// code, it retries (every RefreshInterval) until one join succeeds, and
// never again after that.
func (e *Env) startRaw(n *Node, ip string, tr memberlist.Transport) error {
	mc := memberlist.DefaultLANConfig()
	mc.Name = n.Name
	mc.BindAddr = ip
	mc.BindPort = Port
	mc.AdvertisePort = Port
	mc.LogOutput = io.Discard
	mc.Events = rawEvents{n.Tracker}
	e.profile()(mc)
	if tr != nil {
		mc.Transport = tr
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return err
	}
	n.ml = ml
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	d := e.seeds()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			addrs, _ := d.Discover(ctx)
			var others []string
			for _, a := range addrs {
				if a != n.Addr {
					others = append(others, a)
				}
			}
			if len(addrs) > 0 && len(others) == 0 {
				return // alone in the zone: the others will join us
			}
			if len(others) > 0 {
				if k, _ := ml.Join(others); k > 0 {
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(RefreshInterval):
			}
		}
	}()
	return nil
}

func memberlistDefault() *memberlist.Config { return memberlist.DefaultLANConfig() }

// Package gossip is gencluster's memberlist adapter: it implements the
// Node's Dist contract (gen_cluster's gc_dist behaviour) on
// hashicorp/memberlist, and owns every memberlist setting (the root
// package names memberlist only for WithMemberlistConfig).
// It is not a user API: programs use package gencluster, whose Node drives
// this adapter; its exported names are what the Node needs, and may
// change with it.
//
// The mapping is:
//
//   - connect: memberlist Join of one address (a TCP push-pull of state).
//   - members: memberlist's view of the live members.
//
// There is no disconnect: memberlist owns failure detection (it probes
// every member and declares it failed on its own), and a forced removal of
// a live peer would only be refuted by that peer.
//
// The adapter also turns memberlist's NotifyJoin, NotifyUpdate and
// NotifyLeave callbacks into membership.Events. memberlist calls them while
// holding its node lock, so the adapter only converts the node and
// publishes the event to Config.View, whose listener must queue it and
// return (a callback that blocks stalls gossip; one that calls back into
// memberlist deadlocks: memberlist issues #23 and #237). The view is also
// the adapter's record of who is live: it keeps no copy of its own.
package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/joinfail"
	"github.com/gencluster/gencluster/internal/view"
	"github.com/gencluster/gencluster/membership"
)

// Config configures a Gossip. Name and BindAddr are required.
type Config struct {
	// Name is the node's unique name in the cluster.
	Name string
	// BindAddr is the IP:port to listen on for UDP and TCP gossip. Port 0
	// picks a free port, reported by Addr.
	BindAddr string
	// AdvertiseAddr is the IP:port other nodes reach this one at. Empty
	// means the bound address (or, when bound to 0.0.0.0 or ::, the first
	// private IP, as memberlist chooses). Port 0 means the bound port.
	AdvertiseAddr string
	// Meta is gossiped with the node; see EncodeMeta for the limits.
	Meta map[string]string
	// View is the membership view: every change the adapter sees is
	// published to it, and the adapter reads it back (Members, whether a
	// name is live, who to tell of a leave), so it must be fed by this
	// Gossip alone. Its listener is called with memberlist's node lock
	// held: it must not block and must not call back into this Gossip.
	// Nil means a view of the adapter's own, with no listener.
	View *view.View
	// Logger receives memberlist's log lines at their own level, and the
	// adapter's. Nil discards.
	Logger *slog.Logger
	// Security is the keys, label and allowed networks (security.go).
	Security Security
	// Metrics, when set, receive memberlist's metrics: Start routes the
	// samples memberlist emits through the go-metrics global to them
	// (bridge.go), until Close or Leave.
	Metrics *Metrics
	// RejectLogEvery is how often, at most, the log tells about one
	// address whose streams or packets memberlist refuses (another key,
	// label or encryption setting: rejectlog.go). 0 means
	// defaultRejectLogEvery. The Node passes its refresh interval.
	RejectLogEvery time.Duration
	// Memberlist, when set, is called with the memberlist configuration
	// just before the memberlist is created, after every field above was
	// applied. It is the place to tune timers (ProbeInterval, ...), set a
	// Label, keys, or another Transport (the adapter's own dial-cancelling
	// transport is only installed when Transport is nil).
	Memberlist func(*memberlist.Config)

	// wireUpDelay is the least wait before the node goes back to the
	// compact metadata encoding (wire.go); 0 means defaultWireUpDelay.
	// Tests shorten it.
	wireUpDelay time.Duration
}

// DefaultDeadNodeReclaimTime is how long after a member is declared failed
// another node may take its name from a new address. memberlist's own
// default (0) never allows it, so a pod rescheduled with its old name (a
// Kubernetes StatefulSet) would be refused until every node forgot the dead
// one; a short grace period still stops a live name from being stolen.
const DefaultDeadNodeReclaimTime = 5 * time.Second

// Gossip is a running memberlist plus the adapter. Its methods are safe for
// concurrent use.
type Gossip struct {
	ml     *memberlist.Memberlist
	del    *delegate
	logger *slog.Logger
	bridge *logBridge

	name  string
	addr  string        // advertised host:port, fixed at Start
	tr    *recorder     // wraps whatever transport memberlist uses
	probe time.Duration // memberlist's ProbeInterval
	// probeTimeout is memberlist's ProbeTimeout, a ping's wait.
	probeTimeout time.Duration
	// gossipEvery and retransmitMult size broadcastBound.
	gossipEvery    time.Duration
	retransmitMult int
	waitMu         sync.Mutex             // orders waits.Add before waits.Wait
	stopped        bool                   // under waitMu: shutdown has begun
	pending        int                    // under waitMu: broadcast waits in flight
	waits          sync.WaitGroup         // memberlist waits for broadcasts (leave.go), re-joins (reclaim.go)
	reclaimTime    time.Duration          // memberlist's DeadNodeReclaimTime
	reclaims       map[string]*time.Timer // under waitMu: pending re-joins by name
	stopCh         chan struct{}          // closed (under waitMu) when shutdown begins
	routeID        string                 // go-metrics bridge route, "" without Config.Metrics
	metrics        *Metrics               // nil without Config.Metrics
	guard          nameGuard              // conflicts on this node's own name (nameguard.go)
	updates        *localUpdates          // one UpdateNode at a time (localupdate.go)

	keyring *memberlist.Keyring // memberlist's, nil without encryption
	keyMu   sync.Mutex          // serialises keyring changes (keyring.go)
	kops    *keyOps             // cluster-wide key operations (keyops.go)
	drains  *drainOps           // Drain's acknowledgements (drain.go)

	closing   atomic.Bool // Close was called: Leave has nothing to announce
	leaveOnce sync.Once
	leaveErr  error
	closeOnce sync.Once
	closeErr  error
}

// Start binds the gossip port and starts memberlist. The node is a
// one-member cluster until Connect joins another.
func Start(cfg Config) (*Gossip, error) {
	if cfg.Name == "" {
		return nil, errors.New("gossip: empty node name")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	id, err := newLife()
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	meta, err := encodeMeta(cfg.Meta, 0, id, metaV2)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	bindHost, bindPort, err := splitIPPort("bind", cfg.BindAddr)
	if err != nil {
		return nil, err
	}
	advHost, advPort := "", 0
	if cfg.AdvertiseAddr != "" {
		if advHost, advPort, err = splitIPPort("advertise", cfg.AdvertiseAddr); err != nil {
			return nil, err
		}
	}

	v := cfg.View
	if v == nil {
		v = view.New(nil)
	}
	bridge := &logBridge{logger: logger, rejects: newRejectLog(cfg.RejectLogEvery)}
	del := &delegate{
		meta:     meta,
		wire:     metaV2,
		wireKick: make(chan struct{}, 1),
		user:     maps.Clone(cfg.Meta),
		view:     v,
		logger:   logger,
		self:     cfg.Name,
		life:     id,
	}
	kops := newKeyOps(del, logger, cfg.Security.Pending)
	del.onKeyOp = kops.notify
	drains := newDrainOps(del, logger)
	del.onDrain = drains.notify
	bridge.rejects.alone = func() bool { return !v.Others(cfg.Name) }

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr = bindHost
	mc.BindPort = bindPort
	mc.AdvertiseAddr = advHost
	mc.AdvertisePort = advPort
	mc.Delegate = del
	mc.Events = del
	mc.Conflict = del
	mc.Logger = bridge.std()
	mc.DeadNodeReclaimTime = DefaultDeadNodeReclaimTime
	// The delegate protocol's maximum is the newest metadata encoding
	// this node reads; every member advertises it in its alive messages,
	// and a node sends metaV2 only while every live member reads it
	// (wire.go). The current version stays 0: memberlist refuses a join
	// when any node's current version is above another's maximum, and
	// gencluster versions before metaV2 advertise a maximum of 0.
	mc.DelegateProtocolMax = metaV2
	// No LZW: a push-pull state compresses to about 40 % of its size, but
	// compressing and decompressing it took most of a join storm's CPU
	// (every member's boot id is random bytes, which LZW does not
	// shrink), and on a LAN the CPU, not the bytes, is what a storm runs
	// out of (docs/benchmarks.md, section 6, rule 11). memberlist still
	// reads compressed messages from nodes that send them, so a cluster
	// of mixed settings works. WithMemberlistConfig may turn it back on.
	mc.EnableCompression = false
	if err := cfg.Security.apply(mc); err != nil {
		return nil, err
	}
	if cfg.Memberlist != nil {
		cfg.Memberlist(mc)
	}
	routeID := ""
	if cfg.Metrics != nil {
		routeID = metricsBridge.add(cfg.Metrics)
		metricsBridge.install()
		// Clip: memberlist appends to this slice from several
		// goroutines, which would race on spare capacity.
		mc.MetricLabels = slices.Clip(append(slices.Clone(mc.MetricLabels), gometrics.Label{Name: bridgeLabel, Value: routeID}))
	}
	started := false
	defer func() {
		if !started && routeID != "" {
			metricsBridge.remove(routeID)
		}
	}()
	if mc.Transport == nil {
		tr, port, err := newTransport(mc.BindAddr, mc.BindPort, bridge, mc.MetricLabels)
		if err != nil {
			return nil, fmt.Errorf("gossip: %w", err)
		}
		mc.BindPort = port
		if mc.AdvertisePort == 0 {
			mc.AdvertisePort = port
		}
		mc.Transport = tr
	}
	rec := &recorder{Transport: mc.Transport}
	mc.Transport = rec
	if err := checkOwnAddrAllowed(mc); err != nil {
		_ = mc.Transport.Shutdown()
		return nil, err
	}
	g := &Gossip{del: del, logger: logger, bridge: bridge, name: cfg.Name, tr: rec,
		probe: mc.ProbeInterval, probeTimeout: mc.ProbeTimeout, gossipEvery: mc.GossipInterval, retransmitMult: mc.RetransmitMult,
		reclaimTime: mc.DeadNodeReclaimTime, routeID: routeID, metrics: cfg.Metrics,
		stopCh: make(chan struct{}), drains: drains, updates: newLocalUpdates()}
	g.guard.kick = make(chan struct{}, 1)
	del.onReclaim = g.scheduleReclaim
	del.onHold = g.scheduleHold
	del.doubt = newDoubtTimers(mc, g.holdTime())
	del.onSelfConflict = g.noteSelfConflict
	del.onLocalApplied = g.updates.applied
	ml, err := memberlist.Create(mc)
	if err != nil {
		if mc.Transport != nil {
			_ = mc.Transport.Shutdown()
		}
		return nil, fmt.Errorf("gossip: start memberlist: %w", err)
	}
	addr := ml.LocalNode().Address() // not under waitMu: it takes memberlist's node lock
	g.waitMu.Lock()                  // the re-join timers read ml under it (reclaim.go)
	g.ml, g.addr = ml, addr
	// Create has built the keyring from SecretKey when only that was set.
	g.keyring = mc.Keyring
	g.kops = kops
	upDelay := cfg.wireUpDelay
	if upDelay <= 0 {
		upDelay = defaultWireUpDelay
	}
	stop := g.stopCh
	g.waits.Go(func() { g.wireLoop(stop, del.wireKick, upDelay) })
	g.waitMu.Unlock()
	started = true
	kops.start(g)
	drains.start(g)
	return g, nil
}

// checkOwnAddrAllowed refuses a CIDRsAllowed that excludes the node's own
// advertised address: memberlist would reject the node's own alive message
// and run without a local node (its LocalNode then panics).
func checkOwnAddrAllowed(mc *memberlist.Config) error {
	if !mc.IPMustBeChecked() {
		return nil
	}
	ip, port, err := mc.Transport.FinalAdvertiseAddr(mc.AdvertiseAddr, mc.AdvertisePort)
	if err != nil {
		return fmt.Errorf("gossip: advertise address: %w", err)
	}
	if err := mc.IPAllowed(ip); err != nil {
		return fmt.Errorf("gossip: the node's own address %s is not in the allowed CIDRs: %w", net.JoinHostPort(ip.String(), strconv.Itoa(port)), err)
	}
	return nil
}

func splitIPPort(what, addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("gossip: %s address %q: %w", what, addr, err)
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("gossip: %s address %q: host %q is not an IP address", what, addr, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("gossip: %s address %q: port %q is not 0 to 65535", what, addr, port)
	}
	return host, p, nil
}

// Connect joins the cluster that addr (host:port) belongs to by pushing and
// pulling full state with it. It is gc_dist's connect. ctx is checked
// before the join starts; the join itself is bounded by memberlist's
// TCPTimeout and ends early when the Gossip shuts down.
func (g *Gossip) Connect(ctx context.Context, addr string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := g.ml.Join([]string{addr}); err != nil {
		// memberlist's multi-line multierror, flattened to one line
		// that names addr once, with what the failure shows.
		return joinfail.Wrap(addr, err)
	}
	return nil
}

// Members returns memberlist's live members, sorted by name.
//
// They are read from Config.View, which the events add up to, published
// from memberlist's callbacks (memberlist's own Members returns pointers
// into its state that it goes on writing, which is a data race for the
// reader).
//
// Every member is reported as StateAlive, or StateDraining when it
// gossips the draining flag (Drain): memberlist marks suspects
// internally but does not expose the state (memberlist issue #293), so a
// suspect member shows as alive until it is declared failed.
func (g *Gossip) Members() []membership.Member { return g.del.members() }

// LocalMember returns this node as the cluster sees it.
func (g *Gossip) LocalMember() membership.Member {
	return g.del.local(g.name, g.addr)
}

// Addr returns the advertised host:port.
func (g *Gossip) Addr() string { return g.addr }

// HealthScore returns memberlist's Lifeguard awareness score: 0 is healthy,
// higher means this node is slow to answer probes (see memberlist's
// GetHealthScore).
func (g *Gossip) HealthScore() int { return g.ml.GetHealthScore() }

// Close shuts down without a leave message, as a crash would: the others
// detect the failure by probing. It is safe to call more than once.
func (g *Gossip) Close() error {
	g.closing.Store(true)
	return g.shutdown()
}

// shutdown stops memberlist once, and waits for the probe it may have in
// flight.
//
// memberlist's Shutdown does not wait for its goroutines: a probe started
// just before it waits for an ack until one (health-scaled) probe interval
// after the probe started (its ack timer is set before the ping is sent),
// then gives up. No probe starts once Shutdown has returned, so shutdown
// waits out that window counted from Shutdown's return, and every
// goroutine memberlist started has ended when Close returns. Counting from
// the last packet sent, as it once did, fell short when a probe was
// delayed between arming its timer and sending its ping (a loaded
// machine): the ping then never left, and goleak found the probe still
// waiting. The transport's recorder still tells an idle node (it never
// sent a packet, so it never probed) from one that did: an idle node does
// not wait.
//
// The cost is at most one (health-scaled) probe interval more than the
// last-packet rule on a node with peers, usually a gossip interval.
func (g *Gossip) shutdown() error {
	g.closeOnce.Do(func() {
		health := g.ml.GetHealthScore()
		g.stopWaits()
		g.bridge.stopping.Store(true)
		g.closeErr = g.ml.Shutdown()
		shutAt := time.Now()
		g.kops.stop()
		g.drains.Stop()
		// A broadcast wait that a context cut short ends by its own
		// bound (see awaitBroadcast).
		g.waits.Wait()
		if g.routeID != "" {
			metricsBridge.remove(g.routeID)
		}
		if g.tr.lastSent().IsZero() {
			return // never sent a packet: no probe can be in flight
		}
		wait := time.Until(shutAt.Add(g.probe*time.Duration(health+1) + 20*time.Millisecond))
		if wait > 0 {
			t := time.NewTimer(wait)
			<-t.C
		}
	})
	return g.closeErr
}

// Package gossip implements gencluster's Dist contract (gen_cluster's gc_dist
// behaviour) on hashicorp/memberlist.
//
// The mapping is:
//
//   - connect: memberlist Join of one address (a TCP push-pull of state).
//   - members: memberlist's view of the live members.
//   - disconnect: ignored. memberlist owns failure detection: it probes every
//     member and declares it failed on its own, and a forced removal of a
//     live peer would only be refuted by that peer. gc_dist allows a
//     connection module to answer `ignored` for exactly this case.
//
// The adapter also turns memberlist's NotifyJoin, NotifyUpdate and
// NotifyLeave callbacks into membership.Events. memberlist calls them while
// holding its node lock, so the adapter only converts the node and hands the
// event to Config.OnEvent, which must queue it and return (a callback that
// blocks stalls gossip; one that calls back into memberlist deadlocks:
// memberlist issues #23 and #237).
package gossip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

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
	// Logger receives memberlist's log lines at their own level, and the
	// adapter's. Nil discards.
	Logger *slog.Logger
	// OnEvent receives every membership change. It is called with
	// memberlist's node lock held: it must not block and must not call
	// back into this Gossip.
	OnEvent func(membership.Event)
	// PendingKeys are the keys of a migration from plaintext
	// (WithKeyringMigration): held, not used, until a cluster-wide
	// KeyEncrypt moves them into the keyring, which Memberlist must then
	// set, empty. Nil otherwise.
	PendingKeys [][]byte
	// Memberlist, when set, is called with the memberlist configuration
	// just before the memberlist is created, after every field above was
	// applied. It is the place to tune timers (ProbeInterval, ...), set a
	// Label, keys, or another Transport (the adapter's own dial-cancelling
	// transport is only installed when Transport is nil).
	Memberlist func(*memberlist.Config)
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

	name  string
	addr  string        // advertised host:port, fixed at Start
	tr    *recorder     // wraps whatever transport memberlist uses
	probe time.Duration // memberlist's ProbeInterval

	keyring *memberlist.Keyring // memberlist's, nil without encryption
	keyMu   sync.Mutex          // serialises keyring changes (keyring.go)
	kops    *keyOps             // cluster-wide key operations (keyops.go)

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
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	meta, err := encodeMeta(cfg.Meta, 0)
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

	bridge := &logBridge{logger: logger}
	del := &delegate{
		meta:    meta,
		user:    maps.Clone(cfg.Meta),
		onEvent: cfg.OnEvent,
		logger:  logger,
		known:   make(map[string]membership.Member),
	}
	kops := newKeyOps(del, logger, cfg.PendingKeys)
	del.onKeyOp = kops.notify

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
	if cfg.Memberlist != nil {
		cfg.Memberlist(mc)
	}
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
	ml, err := memberlist.Create(mc)
	if err != nil {
		if mc.Transport != nil {
			_ = mc.Transport.Shutdown()
		}
		return nil, fmt.Errorf("gossip: start memberlist: %w", err)
	}
	// Create has built the keyring from SecretKey when only that was set.
	g := &Gossip{ml: ml, del: del, logger: logger, name: cfg.Name, addr: ml.LocalNode().Address(), tr: rec, probe: mc.ProbeInterval, keyring: mc.Keyring, kops: kops}
	kops.start(g)
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
		return fmt.Errorf("join %s: %w%s", addr, err, keyHint(err))
	}
	return nil
}

// Disconnect is gc_dist's disconnect, and is ignored: memberlist owns
// failure detection, and a live peer removed by force would refute its own
// death and come straight back. It always returns nil.
func (g *Gossip) Disconnect(context.Context, string) error { return nil }

// Members returns memberlist's live members, sorted by name.
//
// The view is the one the events add up to, kept by the delegate from
// memberlist's callbacks (memberlist's own Members returns pointers into
// its state that it goes on writing, which is a data race for the reader).
//
// Every member is reported as StateAlive: memberlist marks suspects
// internally but does not expose the state (memberlist issue #293), so a
// suspect member shows as alive until it is declared failed.
func (g *Gossip) Members() []membership.Member {
	out := g.del.members()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NumMembers returns how many members are live, more cheaply than
// len(Members()).
func (g *Gossip) NumMembers() int { return g.ml.NumMembers() }

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

// Memberlist returns the underlying memberlist, for what this package does
// not wrap. Do not call Leave or Shutdown on it; use the Gossip's.
func (g *Gossip) Memberlist() *memberlist.Memberlist { return g.ml }

// UpdateMeta replaces the gossiped metadata and waits, up to timeout, for
// the update to be broadcast.
func (g *Gossip) UpdateMeta(meta map[string]string, timeout time.Duration) error {
	if err := g.del.setMeta(meta, 0); err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	return g.ml.UpdateNode(timeout)
}

// Leave leaves the cluster gracefully and shuts down: it first gossips that
// it is leaving (so the others report a leave, not a failure), then
// broadcasts memberlist's leave, then shuts down. ctx bounds the wait for
// the broadcasts. It is safe to call more than once; later calls return
// the first call's result.
func (g *Gossip) Leave(ctx context.Context) error {
	g.leaveOnce.Do(func() {
		if g.closing.Load() {
			g.leaveErr = g.shutdown()
			return
		}
		timeout := 5 * time.Second
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		var errs []error
		if err := g.del.setLeaving(); err != nil {
			errs = append(errs, err)
		} else if err := g.ml.UpdateNode(timeout / 2); err != nil {
			errs = append(errs, fmt.Errorf("gossip: announce leave: %w", err))
		}
		g.tellLeaving()
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		if err := g.ml.Leave(max(timeout, time.Millisecond)); err != nil {
			errs = append(errs, fmt.Errorf("gossip: leave: %w", err))
		}
		errs = append(errs, g.shutdown())
		g.leaveErr = errors.Join(errs...)
	})
	return g.leaveErr
}

// tellLeaving sends msgLeaving to every other live member over TCP, in
// parallel, so that each of them reports the coming leave as a leave even
// when memberlist's gossip drops the leaving flag (see msgLeaving). A
// member that cannot be reached in memberlist's TCPTimeout is skipped: it
// may still learn of the flag by gossip. It waits for every send, each
// bounded by TCPTimeout, so that no goroutine outlives Leave.
func (g *Gossip) tellLeaving() {
	msg := leavingMsg(g.name)
	var wg sync.WaitGroup
	// The targets come from the delegate's copy of the view: the nodes
	// memberlist's Members returns are its own, which it goes on writing.
	for _, m := range g.del.members() {
		if m.Name == g.name {
			continue
		}
		host, port, err := net.SplitHostPort(m.Addr)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			continue
		}
		to := &memberlist.Node{Name: m.Name, Addr: net.ParseIP(host), Port: uint16(p)}
		wg.Go(func() {
			if err := g.ml.SendReliable(to, msg); err != nil {
				g.logger.Debug("leave notice not delivered", "peer", m.Name, "addr", m.Addr, "err", err)
			}
		})
	}
	wg.Wait()
}

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
// after its ping was sent, then gives up. With the adapter's transport we
// know when the last packet left (every transport is wrapped in a
// recorder), so shutdown waits out exactly that window (nothing when the
// node was idle) and every goroutine memberlist started has ended when
// Close returns.
func (g *Gossip) shutdown() error {
	g.closeOnce.Do(func() {
		health := g.ml.GetHealthScore()
		g.closeErr = g.ml.Shutdown()
		g.kops.stop()
		last := g.tr.lastSent()
		if last.IsZero() {
			return
		}
		wait := time.Until(last.Add(g.probe*time.Duration(health+1) + 20*time.Millisecond))
		if wait > 0 {
			t := time.NewTimer(wait)
			<-t.C
		}
	})
	return g.closeErr
}

package gencluster

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/gossip"
	"github.com/gencluster/gencluster/seeds"

	"github.com/gencluster/gencluster/internal/discovery"
)

// The defaults, in one place.
const (
	// DefaultBindAddr listens on every interface on memberlist's port.
	DefaultBindAddr = "0.0.0.0:7946"
	// DefaultRefreshInterval is gen_cluster's refresh_interval_ms (5000).
	DefaultRefreshInterval = 5 * time.Second
	// DefaultMinBackoff is the first retry delay for a seed that failed.
	// Retries double up to the refresh interval, so a partition that heals
	// is retried within one interval.
	DefaultMinBackoff = 500 * time.Millisecond
	// DefaultDiscoveryTimeout bounds one backend's Discover call.
	DefaultDiscoveryTimeout = 10 * time.Second
	// DefaultConnectConcurrency is how many joins the refresh loop runs at
	// once.
	DefaultConnectConcurrency = 4
)

// Option configures a Node. Options check their argument and return an
// error naming a bad value; Start reports every bad option at once.
type Option func(*config) error

// WithName sets the node's name, which must be unique in the cluster.
// Default: the host name plus a random suffix such as "web-3f9a1c".
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("WithName: empty name")
		}
		if len(name) > 128 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("WithName %q: want at most 128 printable characters", name)
		}
		c.name = name
		return nil
	}
}

// WithBindAddr sets the IP:port to listen on for gossip (UDP and TCP). The
// address may be a go-sockaddr template such as "{{ GetPrivateIP }}:7946"
// (see https://pkg.go.dev/github.com/hashicorp/go-sockaddr/template). Port
// 0 picks a free port; Node.Addr reports the real one. Default
// "0.0.0.0:7946".
func WithBindAddr(addr string) Option {
	return func(c *config) error {
		a, err := resolveAddrTemplate("WithBindAddr", addr)
		if err != nil {
			return err
		}
		c.bindAddr = a
		return nil
	}
}

// WithAdvertiseAddr sets the IP:port other nodes reach this one at, when it
// differs from the bind address (NAT, containers, binding 0.0.0.0). It may
// be a go-sockaddr template. Port 0 means the bound port. Default: the bind
// address, or the first private IP when bound to 0.0.0.0.
func WithAdvertiseAddr(addr string) Option {
	return func(c *config) error {
		a, err := resolveAddrTemplate("WithAdvertiseAddr", addr)
		if err != nil {
			return err
		}
		if ip, _, _ := net.SplitHostPort(a); net.ParseIP(ip).IsUnspecified() {
			return fmt.Errorf("WithAdvertiseAddr %q: %s cannot be reached by peers", addr, ip)
		}
		c.advertiseAddr = a
		return nil
	}
}

// WithSeeds sets the discovery backends that seed the join list, such as
// seeds.Static("10.0.0.2:7946") or seeds.DNS("svc.ns.svc.cluster.local",
// 7946). Several backends (and several WithSeeds) are merged and their
// addresses de-duplicated. Without seeds the node starts a one-node
// cluster that others may join. Each backend's configuration is checked
// (its Validate method) when Start applies the option, so a bad backend is
// reported together with every other bad option.
//
// Backends with background work (seeds.Runner, such as multicast.New)
// are started before the initial join, so that what they learn can seed
// it, and stop with the node. Start fails when one cannot start, and
// refuses two combinations that cannot work: such a backend with
// WithRefreshInterval(0) (nothing would read what it learns after the
// initial join), and with WithDist but no WithAdvertiseAddr (it would have
// no address to announce).
func WithSeeds(ds ...seeds.Discoverer) Option {
	return func(c *config) error {
		var errs []error
		for i, d := range ds {
			if d == nil {
				errs = append(errs, fmt.Errorf("WithSeeds: backend %d is nil", i))
				continue
			}
			for _, b := range discovery.Resolve(d) {
				errs = append(errs, inContext("WithSeeds: "+b.Name, b.Validate())...)
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		c.seeds = append(c.seeds, ds...)
		return nil
	}
}

// WithSeedSpec parses a seed spec string with seeds.Parse, for example
// "dns+headless.ns.svc.cluster.local:7946", and adds the backends. For a
// spec naming schemes that are not built in (mdns+, mcast+, a program's
// own), parse it with the Registry they were registered on and pass the
// result to WithSeeds.
func WithSeedSpec(spec string) Option { return withSeedSpec(seeds.Default(), spec) }

// withSeedSpec is WithSeedSpec parsing with r (FromEnv's SeedRegistry).
func withSeedSpec(r *seeds.Registry, spec string) Option {
	return func(c *config) error {
		d, err := r.Parse(spec)
		if err != nil {
			return fmt.Errorf("WithSeedSpec: %w", err)
		}
		c.seeds = append(c.seeds, d)
		return nil
	}
}

// WithRefreshInterval sets how often discovery re-runs and discovered
// peers that are not live members are joined again. 0 disables the refresh
// (gen_cluster's `infinity`): the node joins its seeds once, at Start.
// Default 5s.
func WithRefreshInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("WithRefreshInterval %v: negative", d)
		}
		if d > 0 && d < 10*time.Millisecond {
			return fmt.Errorf("WithRefreshInterval %v: below the 10ms minimum", d)
		}
		c.refreshInterval = d
		return nil
	}
}

// WithMeta sets metadata gossiped with this node and seen by every member
// in Member.Meta. Keys must be non-empty and all strings valid UTF-8. The
// encoded form must fit memberlist's limit (MaxMetaSize, 512 bytes):
// Start refuses larger metadata rather than truncating it.
func WithMeta(meta map[string]string) Option {
	return func(c *config) error {
		if _, err := gossip.EncodeMeta(meta); err != nil {
			return fmt.Errorf("WithMeta: %w", err)
		}
		c.meta = maps.Clone(meta)
		return nil
	}
}

// WithLogger sets the logger for the node's own records and memberlist's
// (at their own levels). Records carry stable keys: node, peer, addr,
// backend, err. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithDist replaces the memberlist adapter with another Dist. The Node then
// binds nothing itself: the Dist owns its transport. What else the Node
// asks of it (events, a graceful leave, Close, metadata) is optional, see
// Dist. WithBindAddr, WithMeta and WithMemberlistConfig do not apply;
// the security options (WithSecretKey, WithKeyring, WithLabel,
// WithAllowedCIDRs) make Start fail, since the Dist would not honour them.
func WithDist(d Dist) Option {
	return func(c *config) error {
		if d == nil {
			return errors.New("WithDist: nil Dist")
		}
		c.dist = d
		return nil
	}
}

// WithRetryBackoff sets the first delay before retrying a seed whose join
// failed. The delay doubles, with jitter, on every further failure, up to
// the refresh interval (so a healed partition is found within one
// interval). A refused join (the host answered that nothing listens on
// the port yet, as for a peer that has not bound it) is retried after
// 100ms instead (or min if that is lower) for its first four refusals,
// then doubles: it costs one dial that fails at once. Default 500ms.
func WithRetryBackoff(min time.Duration) Option {
	return func(c *config) error {
		if min <= 0 {
			return fmt.Errorf("WithRetryBackoff %v: must be positive", min)
		}
		c.minBackoff = min
		return nil
	}
}

// WithMinMembers sets how many members, this node included, the cluster
// must have had for the node to be ready: Ready and /readyz of Handler
// report ready from the first time the node sees that many, and stay
// ready when members fail or leave after that (only isolation or a stop
// turns them not ready, see Node.Ready). WaitForMembers(ctx, 0) waits for
// that many live members now. n must be at least 1. Default 1 (a node is
// ready as soon as it runs).
func WithMinMembers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("WithMinMembers %d: want at least 1", n)
		}
		c.minMembers = n
		return nil
	}
}

// WithMetrics registers the node's Prometheus collectors on reg, and only
// on reg: gencluster touches no global Prometheus registry. Every series
// carries the constant label node=<the node's name>, so several Nodes of
// one process can share one Registerer (their names differ, as they must
// in a cluster anyway). To add labels of your own, pass
// prometheus.WrapRegistererWith(labels, reg). Start fails if a collector
// cannot be registered (say, another running Node with the same name on
// reg); Leave and Close unregister them, so a Node restarted under its old
// name can register again.
//
// Discovery backends with metrics of their own (those that implement
// prometheus.Collector, such as multicast.New's
// gencluster_multicast_packets_total) are registered on reg too, with the
// node label added, and unregistered with the rest.
//
// With the default memberlist Dist, memberlist's own metrics are bridged
// too (gencluster_memberlist_*, by package gossip). memberlist emits them
// through the process-wide hashicorp/go-metrics global; see
// docs/operating.md (How memberlist's metrics are bridged) for what the
// bridge does to that global.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return errors.New("WithMetrics: nil Registerer")
		}
		c.registerer = reg
		return nil
	}
}

// Security options. They configure memberlist (see docs/security.md):
// Start refuses them with WithDist, since asking for encryption and getting
// none must not pass silently. WithMemberlistConfig runs after them, and
// may still change what they set.

// WithLabel sets the cluster's label: every packet and stream carries it,
// and a node drops those with another label (or none), so clusters with
// different labels never merge, even when a seed points across. With
// WithSecretKey the label is also authenticated data of the encryption.
// It is at most MaxLabelSize (255) bytes; every node of the cluster needs
// the same label. Default: no label.
func WithLabel(label string) Option {
	return func(c *config) error {
		if label == "" {
			return errors.New("WithLabel: empty label (omit WithLabel for no label)")
		}
		if len(label) > MaxLabelSize {
			return fmt.Errorf("WithLabel: label is %d bytes, over memberlist's limit of %d", len(label), MaxLabelSize)
		}
		c.memberlistOnly = append(c.memberlistOnly, "WithLabel")
		c.label = label
		return nil
	}
}

// WithAllowedCIDRs restricts membership to nodes whose addresses are in the
// given networks, such as "10.0.0.0/8" or "fd00::/8": memberlist ignores
// alive messages from other source addresses and refuses to add members
// that advertise an address outside them. The node's own advertised
// address must be included (Start fails otherwise). It is a filter, not
// authentication (UDP source addresses can be spoofed, and without a key a
// TCP peer outside the networks can still read the member list): combine
// it with WithSecretKey. Default: any address.
func WithAllowedCIDRs(cidrs ...string) Option {
	return func(c *config) error {
		if len(cidrs) == 0 {
			return errors.New("WithAllowedCIDRs: no CIDR given (omit the option to allow any address)")
		}
		var errs []error
		nets := make([]net.IPNet, 0, len(cidrs))
		for _, s := range cidrs {
			_, n, err := net.ParseCIDR(strings.TrimSpace(s))
			if err != nil {
				errs = append(errs, fmt.Errorf("WithAllowedCIDRs: %q is not a CIDR such as 10.0.0.0/8", s))
				continue
			}
			nets = append(nets, *n)
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		c.memberlistOnly = append(c.memberlistOnly, "WithAllowedCIDRs")
		c.allowedCIDRs = nets
		return nil
	}
}

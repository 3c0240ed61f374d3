package gencluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-sockaddr/template"
	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/gossip"
	"github.com/gencluster/gencluster/seeds"
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

// config is what the options build. Zero values mean "use the default"
// only where Start says so; every default is set in defaultConfig.
type config struct {
	name              string
	bindAddr          string
	advertiseAddr     string
	seeds             []seeds.Discoverer
	refreshInterval   time.Duration
	minBackoff        time.Duration
	discoveryTimeout  time.Duration
	meta              map[string]string
	logger            *slog.Logger
	dist              Dist
	tuneMemberlist    []func(*memberlist.Config)
	lookupHost        lookupHostFunc
	connectConcurrent int
	registerer        prometheus.Registerer // WithMetrics; nil: no metrics
	minMembers        int                   // WithMinMembers; 0 means 1
	label             string                // WithLabel; the snapshot records it
	snapshotPath      string                // WithSnapshot; "" for none
}

func defaultConfig() config {
	return config{
		bindAddr:          DefaultBindAddr,
		refreshInterval:   DefaultRefreshInterval,
		minBackoff:        DefaultMinBackoff,
		discoveryTimeout:  DefaultDiscoveryTimeout,
		logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		lookupHost:        net.DefaultResolver.LookupHost,
		connectConcurrent: DefaultConnectConcurrency,
	}
}

// newConfig applies opts over the defaults and fills in what depends on
// several options.
func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("gencluster: nil Option"))
			continue
		}
		if err := o(&c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if c.name == "" {
		name, err := defaultName()
		if err != nil {
			return c, err
		}
		c.name = name
	}
	for _, d := range c.seeds {
		if err := seeds.Validate(d); err != nil {
			return c, fmt.Errorf("gencluster: seeds %s: %w", seeds.Name(d), err)
		}
	}
	return c, nil
}

// defaultName is the host name plus a short random suffix, so that two
// processes on one host never collide.
func defaultName() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("gencluster: random node name suffix: %w", err)
	}
	return host + "-" + hex.EncodeToString(b[:]), nil
}

// WithName sets the node's name, which must be unique in the cluster.
// Default: the host name plus a random suffix such as "web-3f9a1c".
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("gencluster: WithName: empty name")
		}
		if len(name) > 128 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("gencluster: WithName %q: want at most 128 printable characters", name)
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
			return fmt.Errorf("gencluster: WithAdvertiseAddr %q: %s cannot be reached by peers", addr, ip)
		}
		c.advertiseAddr = a
		return nil
	}
}

// resolveAddrTemplate renders a go-sockaddr template and checks that the
// result is IP:port.
func resolveAddrTemplate(opt, addr string) (string, error) {
	if addr == "" {
		return "", fmt.Errorf("gencluster: %s: empty address", opt)
	}
	out := addr
	if strings.Contains(addr, "{{") {
		r, err := template.Parse(addr)
		if err != nil {
			return "", fmt.Errorf("gencluster: %s %q: template: %w", opt, addr, err)
		}
		out = strings.TrimSpace(r)
	}
	host, port, err := net.SplitHostPort(out)
	if err != nil {
		return "", fmt.Errorf("gencluster: %s %q (rendered %q): want IP:port: %w", opt, addr, out, err)
	}
	if host == "" || net.ParseIP(host) == nil {
		if strings.Contains(addr, "{{") && host == "" {
			return "", fmt.Errorf("gencluster: %s %q: the template rendered no IP address (is there such an interface?)", opt, addr)
		}
		return "", fmt.Errorf("gencluster: %s %q: host %q is not an IP address (use a template such as {{ GetPrivateIP }})", opt, addr, host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("gencluster: %s %q: port %q is not 0 to 65535", opt, addr, port)
	}
	return net.JoinHostPort(host, port), nil
}

// WithSeeds sets the discovery backends that seed the join list, such as
// seeds.Static("10.0.0.2:7946") or seeds.DNS("svc.ns.svc.cluster.local",
// 7946). Several backends (and several WithSeeds) are merged and their
// addresses de-duplicated. Without seeds the node starts a one-node
// cluster that others may join.
func WithSeeds(ds ...seeds.Discoverer) Option {
	return func(c *config) error {
		for i, d := range ds {
			if d == nil {
				return fmt.Errorf("gencluster: WithSeeds: backend %d is nil", i)
			}
		}
		c.seeds = append(c.seeds, ds...)
		return nil
	}
}

// WithSeedSpec parses a seed spec string with seeds.Parse, for example
// "dns+headless.ns.svc.cluster.local:7946", and adds the backends.
func WithSeedSpec(spec string) Option {
	return func(c *config) error {
		d, err := seeds.Parse(spec)
		if err != nil {
			return fmt.Errorf("gencluster: WithSeedSpec: %w", err)
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
			return fmt.Errorf("gencluster: WithRefreshInterval %v: negative", d)
		}
		if d > 0 && d < 10*time.Millisecond {
			return fmt.Errorf("gencluster: WithRefreshInterval %v: below the 10ms minimum", d)
		}
		c.refreshInterval = d
		return nil
	}
}

// WithMeta sets metadata gossiped with this node and seen by every member
// in Member.Meta. Keys must be non-empty and all strings valid UTF-8. The
// encoded form must fit memberlist's limit (gossip.MaxMetaSize, 512 bytes):
// Start refuses larger metadata rather than truncating it.
func WithMeta(meta map[string]string) Option {
	return func(c *config) error {
		if _, err := gossip.EncodeMeta(meta); err != nil {
			return fmt.Errorf("gencluster: WithMeta: %w", err)
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
			return errors.New("gencluster: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithDist replaces the memberlist adapter with another Dist. The Node then
// binds nothing itself: the Dist owns its transport, and the Node does not
// close it. WithBindAddr, WithMeta and WithMemberlistConfig do not apply.
func WithDist(d Dist) Option {
	return func(c *config) error {
		if d == nil {
			return errors.New("gencluster: WithDist: nil Dist")
		}
		c.dist = d
		return nil
	}
}

// WithMemberlistConfig lets f adjust memberlist's configuration (timers,
// Label, keys, transport) after gencluster has filled it in from
// memberlist.DefaultLANConfig and the other options. Several are applied in
// order.
func WithMemberlistConfig(f func(*memberlist.Config)) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("gencluster: WithMemberlistConfig: nil func")
		}
		c.tuneMemberlist = append(c.tuneMemberlist, f)
		return nil
	}
}

// WithRetryBackoff sets the first delay before retrying a seed whose join
// failed. The delay doubles, with jitter, on every further failure, up to
// the refresh interval (so a healed partition is found within one
// interval). Default 500ms.
func WithRetryBackoff(min time.Duration) Option {
	return func(c *config) error {
		if min <= 0 {
			return fmt.Errorf("gencluster: WithRetryBackoff %v: must be positive", min)
		}
		c.minBackoff = min
		return nil
	}
}

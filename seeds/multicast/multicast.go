package multicast

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/seeds"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// This file holds the multicast backend's type, its constructor and its
// peer table. The options and spec string are in multicast_options.go, the
// sockets in multicast_socket.go, the wire format in multicast_codec.go,
// the per-source rate limit in multicast_limit.go and the counters in
// multicast_metrics.go.

// Multicast defaults.
const (
	// DefaultGroup is the group New announces on. 239.193.0.0/16
	// lies in the IPv4 Organization-Local Scope 239.192.0.0/14 (RFC 2365),
	// which routers do not forward out of a site; port 7947 sits next to
	// memberlist's 7946.
	DefaultGroup = "239.193.7.46:7947"
	// DefaultInterval is how often a node announces itself.
	DefaultInterval = 5 * time.Second
	// DefaultMaxPeers bounds the peer table.
	DefaultMaxPeers = 1024
	// MinSecret is the shortest secret Secret accepts.
	MinSecret = 16
	// MaxClusterName is the longest cluster name New accepts.
	MaxClusterName = 64
)

// mcWindow is the clock skew allowed between hosts: announcements whose
// timestamp is further from the receiver's clock are dropped as stale.
const mcWindow = 30 * time.Second

// multicast is the seeds.Discoverer, seeds.Runner and prometheus.Collector
// returned by New. It is safe for concurrent use.
type multicast struct {
	nilOpts  []int // positions of nil options, refused by Validate
	cluster  string
	group    string
	iface    string
	interval time.Duration
	peerTTL  time.Duration
	hops     int
	secret   []byte
	maxPeers int

	limits *sourceLimits // per-source rate limit
	desc   *prometheus.Desc

	running atomic.Bool

	mu      sync.Mutex
	self    string
	peers   map[string]*mcPeer
	lastTS  int64 // last timestamp sent
	readErr error // why the receiver stopped, until the next Start

	mcCounters
}

type mcPeer struct {
	seen   time.Time
	lastTS int64
}

// New returns a backend that finds the peers of cluster on the local
// network by UDP multicast, with no configuration server: each node announces
// its gossip address to a multicast group and listens for the others'.
//
//	d := multicast.New("chat", multicast.Secret(secret))
//
// or the spec "mcast+chat?secret-file=/etc/chat/mcast.key". The spec
// options are group=ip:port, iface=name, interval=5s, peer-ttl=15s, ttl=1,
// max-peers=1024 and secret-file=path (the file's surrounding white space is
// trimmed).
//
// The backend is both a seeds.Discoverer and a seeds.Runner: the Node calls Start with
// its advertised host:port before its initial join, and Start joins the
// group, announces that address every interval and records the
// announcements of nodes with the same cluster name. Discover returns the
// peers heard within the peer TTL, sorted; before Start it returns nothing.
//
// An announcement carries a version, the cluster name, the address, a
// timestamp and a nonce, and with Secret an HMAC-SHA256 over all of it.
// A receiver drops packets that are malformed, of another cluster, lack a
// valid MAC (when either side has a secret), carry a timestamp more than 30
// seconds from its clock (keep the hosts' clocks in sync) or not newer than
// the last one from that address (a replay), exceed a per-source rate limit, or
// would grow the peer table beyond MaxPeers. The backend is a
// prometheus.Collector whose gencluster_multicast_packets_total counts each
// case; the Node registers it with WithMetrics.
//
// Without a secret anyone on the network segment can announce peers; since
// discovery only seeds joins, that lets them make the node try to join
// arbitrary addresses, so set a secret outside a trusted lab.
//
// Multicast works on a LAN, between VMs on one bridge, and between
// processes on one host. It does not work on Docker's default bridge network
// between hosts, on Kubernetes pod networks, or on most cloud VPCs (AWS,
// GCP and Azure do not route multicast), so use Kubernetes, DNS or File
// discovery there.
func New(cluster string, opts ...Option) seeds.Discoverer {
	return newMulticast(cluster, opts...)
}

// newMulticast is New with the concrete type, for the tests.
func newMulticast(cluster string, opts ...Option) *multicast {
	m := &multicast{
		cluster:  cluster,
		group:    DefaultGroup,
		interval: DefaultInterval,
		hops:     1,
		maxPeers: DefaultMaxPeers,
		peers:    make(map[string]*mcPeer),
	}
	for i, o := range opts {
		if o == nil {
			m.nilOpts = append(m.nilOpts, i)
			continue
		}
		o(m)
	}
	if m.peerTTL == 0 {
		m.peerTTL = 3 * m.interval
	}
	m.limits = newSourceLimits(m.interval)
	m.desc = newMulticastDesc(m.String())
	return m
}

// Validate checks the configuration.
func (m *multicast) Validate() error {
	errs := backendkit.NilOptionErrors("multicast", m.nilOpts)
	if err := checkClusterName(m.cluster); err != nil {
		errs = append(errs, err)
	}
	if _, err := m.groupAddr(); err != nil {
		errs = append(errs, err)
	}
	if m.interval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("multicast: announce interval %v: want at least 10ms", m.interval))
	}
	if m.peerTTL < m.interval {
		errs = append(errs, fmt.Errorf("multicast: peer TTL %v is shorter than the announce interval %v", m.peerTTL, m.interval))
	}
	if m.hops < 0 || m.hops > 255 {
		errs = append(errs, fmt.Errorf("multicast: TTL %d: want 0 to 255", m.hops))
	}
	if m.secret != nil && len(m.secret) < MinSecret {
		errs = append(errs, fmt.Errorf("multicast: secret of %d bytes: want at least %d", len(m.secret), MinSecret))
	}
	if m.maxPeers < 1 {
		errs = append(errs, fmt.Errorf("multicast: max peers %d: want at least 1", m.maxPeers))
	}
	return errors.Join(errs...)
}

func checkClusterName(s string) error {
	if s == "" || len(s) > MaxClusterName {
		return fmt.Errorf("multicast: cluster name %q: want 1 to %d characters", s, MaxClusterName)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("multicast: cluster name %q: use letters, digits, '-', '_' and '.'", s)
		}
	}
	return nil
}

func (m *multicast) groupAddr() (*net.UDPAddr, error) {
	host, port, err := net.SplitHostPort(m.group)
	if err != nil {
		return nil, fmt.Errorf("multicast: group %q: want ip:port: %w", m.group, err)
	}
	ip := net.ParseIP(host).To4()
	if ip == nil || !ip.IsMulticast() {
		return nil, fmt.Errorf("multicast: group %q: %q is not an IPv4 multicast address (224.0.0.0/4)", m.group, host)
	}
	p, err := backendkit.ParsePort(port)
	if err != nil {
		return nil, fmt.Errorf("multicast: group %q: %w", m.group, err)
	}
	return &net.UDPAddr{IP: ip, Port: p}, nil
}

// String returns "mcast+cluster", with the group when it is not the default.
func (m *multicast) String() string {
	s := "mcast+" + m.cluster
	if m.group != DefaultGroup {
		s += "?group=" + m.group
	}
	return s
}

// Discover returns the peers heard within the peer TTL, sorted, and the
// error that stopped the receiver, if one did.
func (m *multicast) Discover(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked(time.Now())
	out := make([]string, 0, len(m.peers))
	for a := range m.peers {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, m.readErr
}

func (m *multicast) pruneLocked(now time.Time) {
	for a, p := range m.peers {
		if now.Sub(p.seen) > m.peerTTL {
			delete(m.peers, a)
		}
	}
}

// handle processes one received packet from srcIP.
func (m *multicast) handle(b []byte, srcIP net.IP, now time.Time) {
	m.received.Add(1)
	if !m.limits.allow(srcIP.String(), now) {
		m.rateLimited.Add(1)
		return
	}
	a, err := decodeAnnouncement(b)
	if err != nil {
		m.malformed.Add(1)
		return
	}
	if a.Cluster != m.cluster {
		m.otherCluster.Add(1)
		return
	}
	if !a.verify(m.secret) {
		m.badMAC.Add(1)
		return
	}
	addr := a.Addr
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); (host == "" || ip != nil && ip.IsUnspecified()) && srcIP != nil {
			addr = net.JoinHostPort(srcIP.String(), port) // "0.0.0.0:7946": the sender's address
		}
	}
	if backendkit.CheckAddr(addr) != nil {
		m.malformed.Add(1)
		return
	}
	if d := now.Sub(time.Unix(0, a.Time)); d > mcWindow || d < -mcWindow {
		m.stale.Add(1)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr == m.self {
		return
	}
	p := m.peers[addr]
	if p != nil && now.Sub(p.seen) > m.peerTTL {
		delete(m.peers, addr)
		p = nil
	}
	if p != nil && a.Time <= p.lastTS {
		m.stale.Add(1) // a replay, or a reordered older packet
		return
	}
	if p == nil {
		if len(m.peers) >= m.maxPeers {
			m.pruneLocked(now)
		}
		if len(m.peers) >= m.maxPeers {
			m.tableFull.Add(1)
			return
		}
		p = &mcPeer{}
		m.peers[addr] = p
	}
	p.seen, p.lastTS = now, a.Time
	m.accepted.Add(1)
}

package mdns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hmdns "github.com/hashicorp/mdns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/seeds"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// mDNS defaults.
const (
	// DefaultService is the DNS-SD service type New announces and
	// browses when given "".
	DefaultService = "_gencluster._udp"
	// DefaultDomain is the mDNS domain (RFC 6762).
	DefaultDomain = "local"
	// DefaultBrowseInterval is how often the service is browsed.
	DefaultBrowseInterval = 5 * time.Second
	// DefaultQueryTimeout is how long one browse collects answers.
	DefaultQueryTimeout = time.Second
)

// mdnsServer is what the backend needs of *mdns.Server; tests replace it.
type mdnsServer interface{ Shutdown() error }

// mdnsDiscovery is the seeds.Discoverer and seeds.Runner New returns.
type mdnsDiscovery struct {
	nilOpts  []int // positions of nil options, refused by Validate
	service  string
	domain   string
	iface    string
	instance string
	interval time.Duration
	timeout  time.Duration
	peerTTL  time.Duration
	logger   *slog.Logger

	// The library, replaced in tests.
	newServer func(*hmdns.Config) (mdnsServer, error)
	query     func(context.Context, *hmdns.QueryParam) error
	checkJoin func(ipv6 bool) error

	running             atomic.Bool
	desc                *prometheus.Desc
	answers             [mdnsResults]atomic.Uint64
	browseOK, browseErr atomic.Uint64

	mu      sync.Mutex
	self    string
	ipv6    bool
	peers   map[string]time.Time // address -> last answer
	lastErr error                // of the last browse
}

// New returns a backend that finds peers on the local network with
// standard multicast DNS service discovery (RFC 6762 and 6763), so that
// they are also visible to, and can be announced by, avahi, Bonjour and
// other DNS-SD tools:
//
//	d := mdns.New("_chat._udp")
//
// or the spec "mdns+_chat._udp". service is a DNS-SD service type,
// "_name._udp" or "_name._tcp" with a name of 1 to 15 letters, digits and
// '-' ("" means DefaultService). The spec options are domain=local,
// iface=name, instance=name, interval=5s, timeout=1s and peer-ttl=15s.
//
// The backend is a seeds.Discoverer, a seeds.Runner and a prometheus.Collector
// (gencluster_mdns_events_total, see docs/mdns.md). Start answers mDNS queries
// for an instance of service on the node's advertised IP and port (SRV,
// TXT "gencluster=1", A or AAAA), and browses the service every interval;
// Discover returns the host:port of every instance that answered within
// the peer TTL, sorted, this node excluded. Peers are taken in the
// advertised address's family: A records for an IPv4 node, AAAA for IPv6.
//
// Anyone on the network segment can announce an instance, and the
// announcements are not authenticated: the node then tries to join the
// address, which memberlist's WithSecretKey and WithLabel refuse when the
// peer is not a member. Use multicast.New with multicast.Secret (package
// seeds/multicast) when only authenticated announcements may seed joins.
// Like multicast, mDNS does not cross routers and does not work on most
// cloud networks or Kubernetes pod networks.
//
// It uses github.com/hashicorp/mdns, which answers queries but does not
// send unsolicited announcements or goodbye packets: a browser sees this
// node when it asks (avahi-browse asks at once), and keeps a stopped
// node's records until their 120s TTL expires.
func New(service string, opts ...Option) seeds.Discoverer {
	if service == "" {
		service = DefaultService
	}
	m := &mdnsDiscovery{
		service:  strings.TrimSuffix(service, "."),
		domain:   DefaultDomain,
		interval: DefaultBrowseInterval,
		timeout:  DefaultQueryTimeout,
		peers:    map[string]time.Time{},
		newServer: func(c *hmdns.Config) (mdnsServer, error) {
			return hmdns.NewServer(c)
		},
		query:     hmdns.QueryContext,
		checkJoin: checkMDNSJoin,
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
	m.desc = newMDNSDesc(m.String())
	return m
}

// String returns "mdns+<service>", with the domain when it is not local.
func (m *mdnsDiscovery) String() string {
	s := "mdns+" + m.service
	if m.domain != DefaultDomain {
		s += "?domain=" + m.domain
	}
	return s
}

// Discover returns the peers that answered within the peer TTL, sorted,
// and the error of the last browse, if it failed.
func (m *mdnsDiscovery) Discover(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	out := make([]string, 0, len(m.peers))
	for a, seen := range m.peers {
		if now.Sub(seen) > m.peerTTL {
			delete(m.peers, a)
			continue
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return out, m.lastErr
}

// Start announces self (the node's advertised IP:port) and browses the
// service until ctx ends. It returns an error, and starts nothing, when
// the configuration or self is invalid, when it is already running, or
// when no mDNS socket can be opened. wait blocks until the browsing has
// stopped and the responder's sockets are closed: up to the query timeout
// after ctx ends, since the library's query runs to its timeout. (The
// library's socket readers return just after, without being waited for.)
func (m *mdnsDiscovery) Start(ctx context.Context, self string) (wait func(), err error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	host, portStr, err := net.SplitHostPort(self)
	if err != nil {
		return nil, fmt.Errorf("mdns: self %q: want ip:port: %w", self, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil, fmt.Errorf("mdns: self %q: want the advertised IP address, not %q", self, host)
	}
	port, err := backendkit.ParsePort(portStr)
	if err != nil {
		return nil, fmt.Errorf("mdns: self %q: %w", self, err)
	}
	var ifi *net.Interface
	if m.iface != "" {
		if ifi, err = net.InterfaceByName(m.iface); err != nil {
			return nil, fmt.Errorf("mdns: interface %q: %w", m.iface, err)
		}
	}
	instance := m.instance
	if instance == "" {
		instance = "gencluster-" + strings.NewReplacer(".", "-", ":", "-").Replace(host) + "-" + portStr
	}
	// The host name is the instance's own, so that the A records of
	// several nodes on one host never conflict.
	hostName := strings.ToLower(instance) + "." + m.domain + "."
	zone, err := hmdns.NewMDNSService(instance, m.service, m.domain+".", hostName, port, []net.IP{ip}, []string{"gencluster=1"})
	if err != nil {
		return nil, fmt.Errorf("mdns: %w", err)
	}
	if !m.running.CompareAndSwap(false, true) {
		return nil, errors.New("mdns: already started")
	}
	if err := m.checkJoin(ip.To4() == nil); err != nil {
		m.running.Store(false)
		return nil, err
	}
	stdlog := m.stdLogger()
	srv, err := m.newServer(&hmdns.Config{Zone: zone, Iface: ifi, Logger: stdlog})
	if err != nil {
		m.running.Store(false)
		return nil, fmt.Errorf("mdns: starting the responder for %s: %w", self, err)
	}
	m.mu.Lock()
	m.self, m.ipv6 = self, ip.To4() == nil
	m.mu.Unlock()

	done := make(chan struct{})
	go func() {
		defer close(done)
		defer m.running.Store(false)
		defer srv.Shutdown()
		m.browseLoop(ctx, ifi, stdlog)
	}()
	return func() { <-done }, nil
}

func (m *mdnsDiscovery) stdLogger() *log.Logger {
	if m.logger == nil {
		return log.New(io.Discard, "", 0)
	}
	return slog.NewLogLogger(m.logger.Handler(), slog.LevelDebug)
}

var (
	_ seeds.Runner         = (*mdnsDiscovery)(nil)
	_ prometheus.Collector = (*mdnsDiscovery)(nil)
)

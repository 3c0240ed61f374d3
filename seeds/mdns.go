package seeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/prometheus/client_golang/prometheus"
)

// mDNS defaults.
const (
	// DefaultMDNSService is the DNS-SD service type MDNS announces and
	// browses when given "".
	DefaultMDNSService = "_gencluster._udp"
	// DefaultMDNSDomain is the mDNS domain (RFC 6762).
	DefaultMDNSDomain = "local"
	// DefaultMDNSBrowseInterval is how often the service is browsed.
	DefaultMDNSBrowseInterval = 5 * time.Second
	// DefaultMDNSQueryTimeout is how long one browse collects answers.
	DefaultMDNSQueryTimeout = time.Second
)

// MDNSOption configures the backend MDNS returns.
type MDNSOption func(*mdnsDiscovery)

// MDNSDomain sets the mDNS domain; the default is DefaultMDNSDomain.
func MDNSDomain(domain string) MDNSOption {
	return func(m *mdnsDiscovery) { m.domain = strings.TrimSuffix(domain, ".") }
}

// MDNSInterface announces and browses on the named network interface,
// such as "eth0"; by default the system picks the interface its routing
// table gives for the mDNS group.
func MDNSInterface(name string) MDNSOption {
	return func(m *mdnsDiscovery) { m.iface = name }
}

// MDNSInstance sets the DNS-SD instance name this node announces (letters,
// digits, '-' and '_', at most 63); it must be unique on the network. The
// default is "gencluster-" followed by the advertised address, such as
// "gencluster-10-0-0-5-7946".
func MDNSInstance(name string) MDNSOption {
	return func(m *mdnsDiscovery) { m.instance = name }
}

// MDNSBrowseInterval sets how often the service is browsed; the default
// is DefaultMDNSBrowseInterval. Each wait is jittered by ±20%.
func MDNSBrowseInterval(d time.Duration) MDNSOption {
	return func(m *mdnsDiscovery) { m.interval = d }
}

// MDNSQueryTimeout sets how long one browse waits for answers; the
// default is DefaultMDNSQueryTimeout. It must be shorter than the browse
// interval.
func MDNSQueryTimeout(d time.Duration) MDNSOption {
	return func(m *mdnsDiscovery) { m.timeout = d }
}

// MDNSPeerTTL sets how long a peer is returned after it last answered;
// the default is three browse intervals.
func MDNSPeerTTL(d time.Duration) MDNSOption {
	return func(m *mdnsDiscovery) { m.peerTTL = d }
}

// MDNSLogger receives the mDNS library's messages, at debug level; by
// default they are discarded.
func MDNSLogger(l *slog.Logger) MDNSOption {
	return func(m *mdnsDiscovery) { m.logger = l }
}

// mdnsServer is what the backend needs of *mdns.Server; tests replace it.
type mdnsServer interface{ Shutdown() error }

// mdnsDiscovery is the Discoverer and Runner MDNS returns.
type mdnsDiscovery struct {
	service  string
	domain   string
	iface    string
	instance string
	interval time.Duration
	timeout  time.Duration
	peerTTL  time.Duration
	logger   *slog.Logger

	// The library, replaced in tests.
	newServer func(*mdns.Config) (mdnsServer, error)
	query     func(context.Context, *mdns.QueryParam) error
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

// MDNS returns a backend that finds peers on the local network with
// standard multicast DNS service discovery (RFC 6762 and 6763), so that
// they are also visible to, and can be announced by, avahi, Bonjour and
// other DNS-SD tools:
//
//	d := seeds.MDNS("_chat._udp")
//
// or the spec "mdns+_chat._udp". service is a DNS-SD service type,
// "_name._udp" or "_name._tcp" with a name of 1 to 15 letters, digits and
// '-' ("" means DefaultMDNSService). The spec options are domain=local,
// iface=name, instance=name, interval=5s, timeout=1s and peer-ttl=15s.
//
// The backend is a Discoverer, a Runner and a prometheus.Collector
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
// peer is not a member. Use Multicast with MulticastSecret when only
// authenticated announcements may seed joins. Like Multicast, mDNS does
// not cross routers and does not work on most cloud networks or Kubernetes
// pod networks.
//
// It uses github.com/hashicorp/mdns, which answers queries but does not
// send unsolicited announcements or goodbye packets: a browser sees this
// node when it asks (avahi-browse asks at once), and keeps a stopped
// node's records until their 120s TTL expires.
func MDNS(service string, opts ...MDNSOption) Discoverer {
	if service == "" {
		service = DefaultMDNSService
	}
	m := &mdnsDiscovery{
		service:  strings.TrimSuffix(service, "."),
		domain:   DefaultMDNSDomain,
		interval: DefaultMDNSBrowseInterval,
		timeout:  DefaultMDNSQueryTimeout,
		peers:    map[string]time.Time{},
		newServer: func(c *mdns.Config) (mdnsServer, error) {
			return mdns.NewServer(c)
		},
		query:     mdns.QueryContext,
		checkJoin: checkMDNSJoin,
	}
	for _, o := range opts {
		o(m)
	}
	if m.peerTTL == 0 {
		m.peerTTL = 3 * m.interval
	}
	m.desc = newMDNSDesc(m.String())
	return m
}

// Validate checks the configuration.
func (m *mdnsDiscovery) Validate() error {
	var errs []error
	if err := checkServiceType(m.service); err != nil {
		errs = append(errs, err)
	}
	if err := checkDNSLabels(m.domain); err != nil {
		errs = append(errs, fmt.Errorf("mdns: domain %q: %w", m.domain, err))
	}
	if m.instance != "" {
		if err := checkInstance(m.instance); err != nil {
			errs = append(errs, err)
		}
	}
	if m.timeout <= 0 {
		errs = append(errs, fmt.Errorf("mdns: query timeout %v: must be positive", m.timeout))
	}
	if m.interval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("mdns: browse interval %v: want at least 10ms", m.interval))
	} else if m.timeout >= m.interval {
		errs = append(errs, fmt.Errorf("mdns: query timeout %v: want less than the browse interval %v", m.timeout, m.interval))
	}
	if m.peerTTL < m.interval {
		errs = append(errs, fmt.Errorf("mdns: peer TTL %v is shorter than the browse interval %v", m.peerTTL, m.interval))
	}
	return errors.Join(errs...)
}

// checkServiceType checks "_name._udp" (RFC 6763 section 7, RFC 6335
// section 5.1).
func checkServiceType(s string) error {
	name, proto, ok := strings.Cut(s, ".")
	bad := func(why string) error {
		return fmt.Errorf("mdns: service %q: %s (want _name._udp or _name._tcp)", s, why)
	}
	if !ok || (proto != "_udp" && proto != "_tcp") {
		return bad("the protocol label is not _udp or _tcp")
	}
	n, ok := strings.CutPrefix(name, "_")
	if !ok || n == "" || len(n) > 15 {
		return bad("the name is not '_' and 1 to 15 characters")
	}
	if n[0] == '-' || n[len(n)-1] == '-' || strings.Contains(n, "--") || strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return bad("the name may hold letters, digits and single inner '-' only")
	}
	return nil
}

func checkInstance(s string) error {
	if s == "" || len(s) > 63 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return fmt.Errorf("mdns: instance %q: want 1 to 63 letters, digits, '-' and '_'", s)
	}
	return nil
}

func checkDNSLabels(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return fmt.Errorf("label %q: want 1 to 63 letters, digits, '-' and '_'", l)
		}
	}
	return nil
}

// String returns "mdns+<service>", with the domain when it is not local.
func (m *mdnsDiscovery) String() string {
	s := "mdns+" + m.service
	if m.domain != DefaultMDNSDomain {
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
	port, err := ParsePort(portStr)
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
	zone, err := mdns.NewMDNSService(instance, m.service, m.domain+".", hostName, port, []net.IP{ip}, []string{"gencluster=1"})
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
	srv, err := m.newServer(&mdns.Config{Zone: zone, Iface: ifi, Logger: stdlog})
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

// browseLoop browses now and then every interval, jittered, until ctx
// ends.
func (m *mdnsDiscovery) browseLoop(ctx context.Context, ifi *net.Interface, stdlog *log.Logger) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.browse(ctx, ifi, stdlog)
		t.Reset(time.Duration(float64(m.interval) * (0.8 + 0.4*mrand.Float64())))
	}
}

// browse runs one query and records the instances that answered.
func (m *mdnsDiscovery) browse(ctx context.Context, ifi *net.Interface, stdlog *log.Logger) {
	m.mu.Lock()
	ipv6, self := m.ipv6, m.self
	m.mu.Unlock()
	// The library drops entries it cannot hand over at once, so they are
	// drained while the query runs.
	entries := make(chan *mdns.ServiceEntry, 64)
	found := make(chan []string, 1)
	go func() {
		var addrs []string
		for e := range entries {
			a, res := m.entryAddr(e, ipv6)
			if res == mdnsAccepted && a == self {
				res = mdnsSelf
			}
			m.answers[res].Add(1)
			if res == mdnsAccepted {
				addrs = append(addrs, a)
			}
		}
		found <- addrs
	}()
	err := m.query(ctx, &mdns.QueryParam{
		Service:     m.service,
		Domain:      m.domain,
		Timeout:     m.timeout,
		Interface:   ifi,
		Entries:     entries,
		DisableIPv4: ipv6,
		DisableIPv6: !ipv6,
		Logger:      stdlog,
	})
	close(entries)
	addrs := <-found
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastErr = nil
	if err == nil {
		m.browseOK.Add(1)
	} else {
		m.browseErr.Add(1)
		m.lastErr = fmt.Errorf("mdns: browsing %s.%s: %w", m.service, m.domain, err)
	}
	for _, a := range addrs {
		m.peers[a] = now
	}
}

// checkMDNSJoin joins the mDNS group of the family as the library's
// queries do (on the interface the routing table gives for the group), so
// that a host where that fails stops Start with an error that says why,
// instead of failing every browse.
func checkMDNSJoin(ipv6 bool) error {
	network, group, route := "udp4", &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}, "224.0.0.0/4"
	if ipv6 {
		network, group, route = "udp6", &net.UDPAddr{IP: net.ParseIP("ff02::fb"), Port: 5353}, "ff00::/8"
	}
	c, err := net.ListenMulticastUDP(network, nil, group)
	if err != nil {
		return fmt.Errorf("mdns: joining %s: %w (the host needs a route to the group: a default route, or one for %s on the LAN interface)", group, err, route)
	}
	return c.Close()
}

// entryAddr turns an answer into host:port, or says why it is not a
// peer. The library passes on every complete instance it hears, of any
// service, so the name is checked.
func (m *mdnsDiscovery) entryAddr(e *mdns.ServiceEntry, ipv6 bool) (string, mdnsResult) {
	suffix := "." + m.service + "." + m.domain + "."
	if !strings.HasSuffix(strings.ToLower(e.Name), strings.ToLower(suffix)) {
		return "", mdnsOtherService
	}
	if e.Port < 1 || e.Port > 65535 {
		return "", mdnsIncomplete
	}
	var host string
	switch {
	case !ipv6 && e.AddrV4 != nil:
		host = e.AddrV4.String()
	case ipv6 && e.AddrV6IPAddr != nil && e.AddrV6IPAddr.IP.To4() == nil:
		host = e.AddrV6IPAddr.String()
	case e.AddrV4 != nil || e.AddrV6IPAddr != nil:
		return "", mdnsOtherFamily
	default:
		return "", mdnsIncomplete
	}
	return net.JoinHostPort(host, strconv.Itoa(e.Port)), mdnsAccepted
}

// parseMDNS reads "_service._udp[?domain=&iface=&instance=&interval=&timeout=&peer-ttl=]".
func parseMDNS(text string) (Discoverer, error) {
	service, query, _ := strings.Cut(text, "?")
	q, err := parseMDNSQuery(text, query)
	if err != nil {
		return nil, err
	}
	var opts []MDNSOption
	for key, v := range q {
		switch key {
		case "domain":
			opts = append(opts, MDNSDomain(v))
		case "iface":
			opts = append(opts, MDNSInterface(v))
		case "instance":
			opts = append(opts, MDNSInstance(v))
		case "interval", "timeout", "peer-ttl":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("mdns %q: %s: %w", text, key, err)
			}
			switch key {
			case "interval":
				opts = append(opts, MDNSBrowseInterval(d))
			case "timeout":
				opts = append(opts, MDNSQueryTimeout(d))
			default:
				opts = append(opts, MDNSPeerTTL(d))
			}
		default:
			return nil, fmt.Errorf("mdns %q: unknown option %q (known: domain, iface, instance, interval, timeout, peer-ttl)", text, key)
		}
	}
	return MDNS(service, opts...), nil
}

// parseMDNSQuery reads the spec's options, each given once.
func parseMDNSQuery(text, query string) (map[string]string, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("mdns %q: bad options: %w", text, err)
	}
	out := make(map[string]string, len(q))
	for key, vals := range q {
		if len(vals) != 1 {
			return nil, fmt.Errorf("mdns %q: option %s given %d times", text, key, len(vals))
		}
		out[key] = vals[0]
	}
	return out, nil
}

var (
	_ Runner               = (*mdnsDiscovery)(nil)
	_ prometheus.Collector = (*mdnsDiscovery)(nil)
)

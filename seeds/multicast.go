package seeds

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// Multicast defaults.
const (
	// DefaultMulticastGroup is the group Multicast announces on. 239.193.0.0/16
	// lies in the IPv4 Organization-Local Scope 239.192.0.0/14 (RFC 2365),
	// which routers do not forward out of a site; port 7947 sits next to
	// memberlist's 7946.
	DefaultMulticastGroup = "239.193.7.46:7947"
	// DefaultMulticastInterval is how often a node announces itself.
	DefaultMulticastInterval = 5 * time.Second
	// DefaultMulticastMaxPeers bounds the peer table.
	DefaultMulticastMaxPeers = 1024
	// MinMulticastSecret is the shortest secret MulticastSecret accepts.
	MinMulticastSecret = 16
	// MaxMulticastClusterName is the longest cluster name Multicast accepts.
	MaxMulticastClusterName = 64
)

const (
	mcMagic      = "GCMC"
	mcVersion    = 1
	mcFlagMAC    = 1
	mcMACLen     = sha256.Size
	mcMaxPacket  = 1024
	mcWindow     = 30 * time.Second // allowed clock skew between hosts
	mcMaxSources = 4096             // source addresses tracked by the rate limiter
	mcSrcBurst   = 64               // packets a source may send at once ...
	// ... refilled at mcSrcBurst per announce interval: room for 64 nodes
	// behind one address.
)

// MulticastStats counts what a multicast has sent and received.
// Every received packet is counted in Received and in at most one of the
// other receive counters; a node's own announcements, which come back on the
// loopback, are counted in Received only.
type MulticastStats struct {
	Received     uint64 // packets read from the group
	Accepted     uint64 // announcements that added or refreshed a peer
	Malformed    uint64 // packets that are not a valid announcement
	BadMAC       uint64 // missing, unexpected or wrong HMAC
	OtherCluster uint64 // announcements of another cluster
	Stale        uint64 // outside the timestamp window, or replayed
	RateLimited  uint64 // dropped by the per-source rate limit
	TableFull    uint64 // new peers dropped because MaxPeers are known
	Sent         uint64 // announcements sent
	SendErrors   uint64 // announcements that could not be sent
}

// multicast is the Discoverer and Runner returned by Multicast. It
// is safe for concurrent use.
type multicast struct {
	cluster  string
	group    string
	iface    string
	interval time.Duration
	peerTTL  time.Duration
	hops     int
	secret   []byte
	maxPeers int

	srcBurst float64 // rate limit; tests lower them
	srcRate  float64 // tokens per second

	running atomic.Bool

	mu      sync.Mutex
	self    string
	peers   map[string]*mcPeer
	sources map[string]*mcBucket
	lastTS  int64 // last timestamp sent
	readErr error // why the receiver stopped, until the next Start

	received, accepted, malformed, badMAC, otherCluster atomic.Uint64
	stale, rateLimited, tableFull, sent, sendErrors     atomic.Uint64
}

type mcPeer struct {
	seen   time.Time
	lastTS int64
}

type mcBucket struct {
	tokens float64
	at     time.Time
}

// MulticastOption configures a multicast.
type MulticastOption func(*multicast)

// MulticastGroup sets the IPv4 multicast group and UDP port, "ip:port";
// the default is DefaultMulticastGroup. Every node of a cluster must use the
// same group.
func MulticastGroup(hostPort string) MulticastOption {
	return func(m *multicast) { m.group = hostPort }
}

// MulticastInterface sends and listens on the named network interface,
// such as "eth0"; by default the system picks one from its routing table.
func MulticastInterface(name string) MulticastOption {
	return func(m *multicast) { m.iface = name }
}

// MulticastInterval sets how often the node announces itself; the default
// is DefaultMulticastInterval. Each wait is jittered by ±20%.
func MulticastInterval(d time.Duration) MulticastOption {
	return func(m *multicast) { m.interval = d }
}

// MulticastPeerTTL sets how long a peer is returned after its last announcement;
// the default is three announce intervals.
func MulticastPeerTTL(d time.Duration) MulticastOption {
	return func(m *multicast) { m.peerTTL = d }
}

// MulticastTTL sets the IP time-to-live of announcements; the default 1
// keeps them on the local network segment, 0 on the host.
func MulticastTTL(hops int) MulticastOption {
	return func(m *multicast) { m.hops = hops }
}

// MulticastSecret authenticates announcements with HMAC-SHA256 under secret, which
// must be at least MinMulticastSecret bytes. Every node of the cluster needs
// the same secret; announcements without a valid MAC are dropped, so a
// stranger on the network cannot inject peers.
func MulticastSecret(secret []byte) MulticastOption {
	return func(m *multicast) { m.secret = bytes.Clone(secret) }
}

// MulticastMaxPeers bounds the number of peers remembered; announcements of new
// peers beyond it are dropped and counted in MulticastStats.TableFull. The
// default is DefaultMulticastMaxPeers.
func MulticastMaxPeers(n int) MulticastOption {
	return func(m *multicast) { m.maxPeers = n }
}

// Multicast returns a backend that finds the peers of cluster on the local
// network by UDP multicast, with no configuration server: each node announces
// its gossip address to a multicast group and listens for the others'.
//
//	d := seeds.Multicast("chat", seeds.MulticastSecret(secret))
//
// or the spec "mcast+chat?secret-file=/etc/chat/mcast.key". The spec
// options are group=ip:port, iface=name, interval=5s, peer-ttl=15s, ttl=1,
// max-peers=1024 and secret-file=path (the file's surrounding white space is
// trimmed).
//
// The backend is both a Discoverer and a Runner: the Node calls Start with
// its advertised host:port before its initial join, and Start joins the
// group, announces that address every interval and records the
// announcements of nodes with the same cluster name. Discover returns the
// peers heard within the peer TTL, sorted; before Start it returns nothing.
//
// An announcement carries a version, the cluster name, the address, a
// timestamp and a nonce, and with MulticastSecret an HMAC-SHA256 over all of it.
// A receiver drops packets that are malformed, of another cluster, lack a
// valid MAC (when either side has a secret), carry a timestamp more than 30
// seconds from its clock (keep the hosts' clocks in sync) or not newer than
// the last one from that address (a replay), exceed a per-source rate limit, or
// would grow the peer table beyond MulticastMaxPeers. Stats counts each case.
// Without a secret anyone on the network segment can announce peers; since
// discovery only seeds joins, that lets them make the node try to join
// arbitrary addresses, so set a secret outside a trusted lab.
//
// Multicast works on a LAN, between VMs on one bridge, and between
// processes on one host. It does not work on Docker's default bridge network
// between hosts, on Kubernetes pod networks, or on most cloud VPCs (AWS,
// GCP and Azure do not route multicast), so use Kubernetes, DNS or File
// discovery there.
func Multicast(cluster string, opts ...MulticastOption) Discoverer {
	return newMulticast(cluster, opts...)
}

// newMulticast is Multicast with the concrete type, for the tests.
func newMulticast(cluster string, opts ...MulticastOption) *multicast {
	m := &multicast{
		cluster:  cluster,
		group:    DefaultMulticastGroup,
		interval: DefaultMulticastInterval,
		hops:     1,
		maxPeers: DefaultMulticastMaxPeers,
		srcBurst: mcSrcBurst,
		peers:    make(map[string]*mcPeer),
		sources:  make(map[string]*mcBucket),
	}
	for _, o := range opts {
		o(m)
	}
	if m.peerTTL == 0 {
		m.peerTTL = 3 * m.interval
	}
	if m.interval > 0 {
		m.srcRate = mcSrcBurst / m.interval.Seconds()
	}
	return m
}

// Validate checks the configuration.
func (m *multicast) Validate() error {
	var errs []error
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
	if m.secret != nil && len(m.secret) < MinMulticastSecret {
		errs = append(errs, fmt.Errorf("multicast: secret of %d bytes: want at least %d", len(m.secret), MinMulticastSecret))
	}
	if m.maxPeers < 1 {
		errs = append(errs, fmt.Errorf("multicast: max peers %d: want at least 1", m.maxPeers))
	}
	return errors.Join(errs...)
}

func checkClusterName(s string) error {
	if s == "" || len(s) > MaxMulticastClusterName {
		return fmt.Errorf("multicast: cluster name %q: want 1 to %d characters", s, MaxMulticastClusterName)
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
	p, err := ParsePort(port)
	if err != nil {
		return nil, fmt.Errorf("multicast: group %q: %w", m.group, err)
	}
	return &net.UDPAddr{IP: ip, Port: p}, nil
}

// String returns "mcast+cluster", with the group when it is not the default.
func (m *multicast) String() string {
	s := "mcast+" + m.cluster
	if m.group != DefaultMulticastGroup {
		s += "?group=" + m.group
	}
	return s
}

// Stats returns a snapshot of the counters.
func (m *multicast) Stats() MulticastStats {
	return MulticastStats{
		Received:     m.received.Load(),
		Accepted:     m.accepted.Load(),
		Malformed:    m.malformed.Load(),
		BadMAC:       m.badMAC.Load(),
		OtherCluster: m.otherCluster.Load(),
		Stale:        m.stale.Load(),
		RateLimited:  m.rateLimited.Load(),
		TableFull:    m.tableFull.Load(),
		Sent:         m.sent.Load(),
		SendErrors:   m.sendErrors.Load(),
	}
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

// Start validates the configuration and self, joins the multicast group
// and opens the send socket, so that a bad interface or a port that cannot
// be bound fails the Node's Start. It then announces self every interval and
// listens for announcements in goroutines that stop when ctx ends; wait
// blocks until they have. Start fails while an earlier Start's work still
// runs. A read error after Start stops the work and is returned by every
// later Discover, next to the peers still known.
func (m *multicast) Start(ctx context.Context, self string) (wait func(), err error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := CheckAddr(self); err != nil {
		return nil, fmt.Errorf("multicast: self: %w", err)
	}
	if len(self) > 255 {
		return nil, fmt.Errorf("multicast: self address %q is too long", self)
	}
	if !m.running.CompareAndSwap(false, true) {
		return nil, errors.New("multicast: already running (Start called again before the first one's ctx ended)")
	}
	recv, send, group, err := m.open(ctx)
	if err != nil {
		m.running.Store(false)
		return nil, err
	}
	m.mu.Lock()
	m.self, m.readErr = self, nil
	m.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := m.receive(ctx, recv); err != nil {
				m.mu.Lock()
				m.readErr = err
				m.mu.Unlock()
			}
			cancel()
		})
		wg.Go(func() { m.announce(ctx, send, group, self) })
		<-ctx.Done()
		recv.Close() // unblocks receive
		wg.Wait()
		send.Close()
		cancel()
		m.running.Store(false)
	}()
	return func() { <-done }, nil
}

// open joins the group and opens the send socket.
func (m *multicast) open(ctx context.Context) (recv, send *ipv4.PacketConn, group *net.UDPAddr, err error) {
	group, _ = m.groupAddr()
	var ifi *net.Interface
	if m.iface != "" {
		if ifi, err = net.InterfaceByName(m.iface); err != nil {
			return nil, nil, nil, fmt.Errorf("multicast: interface %q: %w", m.iface, err)
		}
	}
	if recv, err = listenMulticast(ctx, ifi, group); err != nil {
		return nil, nil, nil, err
	}
	if send, err = openMulticastSender(ifi, m.hops); err != nil {
		recv.Close()
		return nil, nil, nil, err
	}
	return recv, send, group, nil
}

// listenMulticast opens a UDP socket on group's port, shared with the other
// nodes on the host, and joins group on ifi (nil: the system's choice).
func listenMulticast(ctx context.Context, ifi *net.Interface, group *net.UDPAddr) (*ipv4.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddrControl}
	c, err := lc.ListenPacket(ctx, "udp4", multicastBindAddr(group))
	if err != nil {
		return nil, fmt.Errorf("multicast: listening on %s: %w", group, err)
	}
	p := ipv4.NewPacketConn(c)
	if err := p.JoinGroup(ifi, &net.UDPAddr{IP: group.IP}); err != nil {
		c.Close()
		name := "the default interface"
		if ifi != nil {
			name = "interface " + ifi.Name
		}
		return nil, fmt.Errorf("multicast: joining group %s on %s: %w", group.IP, name, err)
	}
	return p, nil
}

// openMulticastSender opens the socket announcements are sent from.
func openMulticastSender(ifi *net.Interface, hops int) (*ipv4.PacketConn, error) {
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		return nil, fmt.Errorf("multicast: opening the send socket: %w", err)
	}
	p := ipv4.NewPacketConn(c)
	err = p.SetMulticastTTL(hops)
	if err == nil {
		err = p.SetMulticastLoopback(true)
	}
	if err == nil && ifi != nil {
		err = p.SetMulticastInterface(ifi)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("multicast: configuring the send socket: %w", err)
	}
	return p, nil
}

// announce sends self now and then every interval, jittered, until ctx ends.
func (m *multicast) announce(ctx context.Context, send *ipv4.PacketConn, group *net.UDPAddr, self string) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := send.WriteTo(m.packet(self), nil, group); err != nil {
			m.sendErrors.Add(1)
		} else {
			m.sent.Add(1)
		}
		jitter := 0.8 + 0.4*mrand.Float64()
		t.Reset(time.Duration(float64(m.interval) * jitter))
	}
}

// packet builds a signed announcement of self with a fresh, strictly
// increasing timestamp.
func (m *multicast) packet(self string) []byte {
	m.mu.Lock()
	ts := time.Now().UnixNano()
	if ts <= m.lastTS {
		ts = m.lastTS + 1
	}
	m.lastTS = ts
	m.mu.Unlock()
	var nonce [8]byte
	rand.Read(nonce[:])
	return encodeAnnouncement(announcement{Cluster: m.cluster, Addr: self, Time: ts, Nonce: binary.BigEndian.Uint64(nonce[:])}, m.secret)
}

// receive reads announcements until the socket is closed.
func (m *multicast) receive(ctx context.Context, c *ipv4.PacketConn) error {
	buf := make([]byte, mcMaxPacket+1)
	for {
		n, _, src, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("multicast: reading from the group: %w", err)
		}
		var srcIP net.IP
		if u, ok := src.(*net.UDPAddr); ok {
			srcIP = u.IP
		}
		m.handle(buf[:n], srcIP, time.Now())
	}
}

// handle processes one received packet from srcIP.
func (m *multicast) handle(b []byte, srcIP net.IP, now time.Time) {
	m.received.Add(1)
	if !m.allow(srcIP.String(), now) {
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
	if CheckAddr(addr) != nil {
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

// allow takes a token from src's bucket.
func (m *multicast) allow(src string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.sources[src]
	if b == nil {
		if len(m.sources) >= mcMaxSources {
			for k, v := range m.sources { // forget sources that are back to full
				if v.tokens+now.Sub(v.at).Seconds()*m.srcRate >= m.srcBurst {
					delete(m.sources, k)
				}
			}
			if len(m.sources) >= mcMaxSources {
				return false
			}
		}
		b = &mcBucket{tokens: m.srcBurst, at: now}
		m.sources[src] = b
	}
	b.tokens = math.Min(m.srcBurst, b.tokens+now.Sub(b.at).Seconds()*m.srcRate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// announcement is the decoded form of a multicast announcement. On the wire:
//
//	"GCMC" | version (1 byte, 1) | flags (1 byte, bit 0: MAC follows)
//	| cluster length (1) | cluster | address length (1) | address
//	| timestamp (8, big-endian Unix nanoseconds) | nonce (8)
//	| HMAC-SHA256 of all the preceding bytes (32, when flagged)
type announcement struct {
	Version uint8
	Cluster string
	Addr    string
	Time    int64
	Nonce   uint64
	MAC     []byte // nil when unsigned
	signed  []byte // the bytes the MAC covers
}

// encodeAnnouncement encodes a, signing it when secret is not nil.
func encodeAnnouncement(a announcement, secret []byte) []byte {
	b := make([]byte, 0, 4+3+len(a.Cluster)+1+len(a.Addr)+16+mcMACLen)
	b = append(b, mcMagic...)
	flags := byte(0)
	if secret != nil {
		flags |= mcFlagMAC
	}
	b = append(b, mcVersion, flags, byte(len(a.Cluster)))
	b = append(b, a.Cluster...)
	b = append(b, byte(len(a.Addr)))
	b = append(b, a.Addr...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Time))
	b = binary.BigEndian.AppendUint64(b, a.Nonce)
	if secret != nil {
		h := hmac.New(sha256.New, secret)
		h.Write(b)
		b = h.Sum(b)
	}
	return b
}

var errMalformed = errors.New("malformed announcement")

// decodeAnnouncement parses b. It checks the framing only, not the MAC.
func decodeAnnouncement(b []byte) (announcement, error) {
	var a announcement
	if len(b) > mcMaxPacket || len(b) < 4+3 || string(b[:4]) != mcMagic {
		return a, errMalformed
	}
	a.Version = b[4]
	flags := b[5]
	if a.Version != mcVersion || flags&^mcFlagMAC != 0 {
		return a, errMalformed
	}
	rest := b[6:]
	field := func() (string, bool) {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return "", false
		}
		s := string(rest[1 : 1+int(rest[0])])
		rest = rest[1+int(rest[0]):]
		return s, true
	}
	var ok bool
	if a.Cluster, ok = field(); !ok || a.Cluster == "" {
		return a, errMalformed
	}
	if a.Addr, ok = field(); !ok || a.Addr == "" {
		return a, errMalformed
	}
	if len(rest) < 16 {
		return a, errMalformed
	}
	a.Time = int64(binary.BigEndian.Uint64(rest))
	a.Nonce = binary.BigEndian.Uint64(rest[8:])
	rest = rest[16:]
	a.signed = b[:len(b)-len(rest)]
	if flags&mcFlagMAC != 0 {
		if len(rest) != mcMACLen {
			return a, errMalformed
		}
		a.MAC = rest
	} else if len(rest) != 0 {
		return a, errMalformed
	}
	return a, nil
}

// verify reports whether a is authentic under secret: signed with it when
// there is one, unsigned when there is none.
func (a announcement) verify(secret []byte) bool {
	if secret == nil || a.MAC == nil {
		return secret == nil && a.MAC == nil
	}
	h := hmac.New(sha256.New, secret)
	h.Write(a.signed)
	return hmac.Equal(h.Sum(nil), a.MAC)
}

// parseMulticast reads "cluster[?group=&iface=&interval=&peer-ttl=&ttl=&max-peers=&secret-file=]".
func parseMulticast(text string) (Discoverer, error) {
	cluster, query, _ := strings.Cut(text, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("multicast %q: bad options: %w", text, err)
	}
	var opts []MulticastOption
	for key, vals := range q {
		if len(vals) != 1 {
			return nil, fmt.Errorf("multicast %q: option %s given %d times", text, key, len(vals))
		}
		v := vals[0]
		switch key {
		case "group":
			opts = append(opts, MulticastGroup(v))
		case "iface":
			opts = append(opts, MulticastInterface(v))
		case "interval", "peer-ttl":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: %s: %w", text, key, err)
			}
			if key == "interval" {
				opts = append(opts, MulticastInterval(d))
			} else {
				opts = append(opts, MulticastPeerTTL(d))
			}
		case "ttl", "max-peers":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: %s %q: want a number", text, key, v)
			}
			if key == "ttl" {
				opts = append(opts, MulticastTTL(n))
			} else {
				opts = append(opts, MulticastMaxPeers(n))
			}
		case "secret-file":
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: secret-file: %w", text, err)
			}
			opts = append(opts, MulticastSecret(bytes.TrimSpace(b)))
		default:
			return nil, fmt.Errorf("multicast %q: unknown option %q (known: group, iface, interval, peer-ttl, ttl, max-peers, secret-file)", text, key)
		}
	}
	return Multicast(cluster, opts...), nil
}

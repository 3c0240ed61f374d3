package mdns

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hmdns "github.com/hashicorp/mdns"
	"github.com/miekg/dns"

	"github.com/gencluster/gencluster/internal/testing/testutil"

	"github.com/gencluster/gencluster/seeds"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

// The real library is exercised against avahi in test/realpeers (in
// network namespaces of its own: mDNS on the host's network is not for
// unit tests); here it is replaced by fakes.

type fakeMDNS struct {
	mu       sync.Mutex
	zone     hmdns.Zone
	shutdown atomic.Int32
	queries  atomic.Int32
	params   *hmdns.QueryParam
	answer   func(n int) ([]*hmdns.ServiceEntry, error) // per query, from 1
}

func (f *fakeMDNS) install(m seeds.Discoverer) *mdnsDiscovery {
	d := m.(*mdnsDiscovery)
	d.newServer = func(c *hmdns.Config) (mdnsServer, error) {
		f.mu.Lock()
		f.zone = c.Zone
		f.mu.Unlock()
		return f, nil
	}
	d.checkJoin = func(bool) error { return nil }
	d.query = func(ctx context.Context, p *hmdns.QueryParam) error {
		n := int(f.queries.Add(1))
		f.mu.Lock()
		f.params = p
		f.mu.Unlock()
		if f.answer == nil {
			return nil
		}
		es, err := f.answer(n)
		for _, e := range es {
			p.Entries <- e
		}
		return err
	}
	return d
}

func (f *fakeMDNS) Shutdown() error { f.shutdown.Add(1); return nil }

func entry(name string, v4 string, port int) *hmdns.ServiceEntry {
	e := &hmdns.ServiceEntry{Name: name, Port: port}
	if ip := net.ParseIP(v4); ip.To4() != nil {
		e.AddrV4 = ip
	} else if ip != nil {
		e.AddrV6IPAddr = &net.IPAddr{IP: ip}
	}
	return e
}

// startMDNS starts d and returns a stop function that cancels it and
// waits, failing t if that takes more than 5s.
func startMDNS(t *testing.T, d *mdnsDiscovery, self string) func() {
	t.Helper()
	return backendtest.StartRunner(t, d, self)
}

func TestMDNSAnnouncesAndBrowses(t *testing.T) {
	f := &fakeMDNS{answer: func(int) ([]*hmdns.ServiceEntry, error) {
		return []*hmdns.ServiceEntry{
			entry("peer-1._chat._udp.local.", "10.0.0.2", 7946),
			entry("PEER-2._Chat._UDP.local.", "10.0.0.3", 7000), // names are case-insensitive
			entry("self._chat._udp.local.", "10.0.0.1", 7946),   // this node
			entry("other._http._tcp.local.", "10.0.0.4", 80),    // another service
			entry("v6only._chat._udp.local.", "fd00::5", 7946),  // another family
			entry("noport._chat._udp.local.", "10.0.0.6", 0),    // incomplete
			entry("noaddr._chat._udp.local.", "", 7946),         // incomplete
		}, nil
	}}
	d := f.install(New("_chat._udp", BrowseInterval(20*time.Millisecond), QueryTimeout(5*time.Millisecond)))
	stop := startMDNS(t, d, "10.0.0.1:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { return f.queries.Load() >= 1 }, "a browse")
	var got []string
	testutil.Eventually(t, 5*time.Second, func() bool {
		got, _ = d.Discover(context.Background())
		return len(got) == 2
	}, "the peers")
	if want := []string{"10.0.0.2:7946", "10.0.0.3:7000"}; !slices.Equal(got, want) {
		t.Fatalf("Discover = %v, want %v", got, want)
	}
	f.mu.Lock()
	p, zone := f.params, f.zone
	f.mu.Unlock()
	if p.Service != "_chat._udp" || p.Domain != "local" || p.DisableIPv4 || !p.DisableIPv6 || p.Timeout != 5*time.Millisecond {
		t.Errorf("query params %+v", p)
	}
	// What a browser asking for the service gets: PTR to the instance,
	// SRV with the gossip port on the instance's own host name, TXT, A.
	rrs := zone.Records(dns.Question{Name: "_chat._udp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET})
	var kinds []string
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.PTR:
			if rr.Ptr != "gencluster-10-0-0-1-7946._chat._udp.local." {
				t.Errorf("PTR %v", rr)
			}
		case *dns.SRV:
			if rr.Port != 7946 || rr.Target != "gencluster-10-0-0-1-7946.local." {
				t.Errorf("SRV %v", rr)
			}
		case *dns.A:
			if !rr.A.Equal(net.ParseIP("10.0.0.1")) || rr.Hdr.Name != "gencluster-10-0-0-1-7946.local." {
				t.Errorf("A %v", rr)
			}
		case *dns.TXT:
			if !slices.Equal(rr.Txt, []string{"gencluster=1"}) {
				t.Errorf("TXT %v", rr)
			}
		}
		kinds = append(kinds, dns.TypeToString[rr.Header().Rrtype])
	}
	if want := []string{"PTR", "SRV", "A", "TXT"}; !slices.Equal(kinds, want) {
		t.Errorf("records %v, want %v", kinds, want)
	}
	stop()
	if f.shutdown.Load() != 1 {
		t.Errorf("the responder was shut down %d times, want once", f.shutdown.Load())
	}
	// Stopped: it can start again.
	startMDNS(t, d, "10.0.0.1:7946")
}

func TestMDNSIPv6AndInstance(t *testing.T) {
	f := &fakeMDNS{answer: func(int) ([]*hmdns.ServiceEntry, error) {
		return []*hmdns.ServiceEntry{
			entry("a._gencluster._udp.lan.", "fd00::2", 7946),
			entry("b._gencluster._udp.lan.", "10.0.0.3", 7946),
		}, nil
	}}
	d := f.install(New("", Domain("lan."), Instance("Node_1"), BrowseInterval(20*time.Millisecond), QueryTimeout(5*time.Millisecond)))
	startMDNS(t, d, "[fd00::1]:7946")
	var got []string
	testutil.Eventually(t, 5*time.Second, func() bool {
		got, _ = d.Discover(context.Background())
		return len(got) > 0
	}, "the IPv6 peer")
	if !slices.Equal(got, []string{"[fd00::2]:7946"}) {
		t.Fatalf("Discover = %v", got)
	}
	f.mu.Lock()
	zone, p := f.zone, f.params
	f.mu.Unlock()
	if !p.DisableIPv4 || p.DisableIPv6 {
		t.Errorf("an IPv6 node browses with %+v", p)
	}
	rrs := zone.Records(dns.Question{Name: "node_1.lan.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET})
	if len(rrs) != 1 || !rrs[0].(*dns.AAAA).AAAA.Equal(net.ParseIP("fd00::1")) {
		t.Errorf("AAAA records %v", rrs)
	}
}

func TestMDNSPeersExpireAndErrorsShow(t *testing.T) {
	f := &fakeMDNS{answer: func(n int) ([]*hmdns.ServiceEntry, error) {
		if n == 1 {
			return []*hmdns.ServiceEntry{entry("p._gencluster._udp.local.", "10.0.0.2", 1)}, nil
		}
		return nil, errors.New("no multicast route")
	}}
	d := f.install(New("", BrowseInterval(20*time.Millisecond), QueryTimeout(5*time.Millisecond), PeerTTL(60*time.Millisecond)))
	startMDNS(t, d, "10.0.0.1:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { got, _ := d.Discover(context.Background()); return len(got) == 1 }, "the peer")
	testutil.Eventually(t, 5*time.Second, func() bool {
		got, err := d.Discover(context.Background())
		return len(got) == 0 && err != nil && strings.Contains(err.Error(), "no multicast route") && strings.Contains(err.Error(), "_gencluster._udp.local")
	}, "the peer to expire and the error to show")
}

func TestMDNSStartErrors(t *testing.T) {
	for _, tc := range []struct {
		d    seeds.Discoverer
		self string
		want string
	}{
		{New(""), "0.0.0.0:7946", "advertised IP"},
		{New(""), "node.example:7946", "advertised IP"},
		{New(""), "10.0.0.1", "want ip:port"},
		{New(""), "10.0.0.1:0", "port"},
		{New("", Interface("no-such-if0")), "10.0.0.1:7946", `interface "no-such-if0"`},
		{New("http"), "10.0.0.1:7946", `service "http"`},
	} {
		f := &fakeMDNS{}
		d := f.install(tc.d)
		if _, err := d.Start(context.Background(), tc.self); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s Start(%q) = %v, want an error containing %q", name(tc.d), tc.self, err, tc.want)
		}
	}
	// A host where the group cannot be joined fails Start, saying why.
	d := New("").(*mdnsDiscovery)
	d.checkJoin = func(bool) error {
		return errors.New("mdns: joining 224.0.0.251:5353: no such device (the host needs a route)")
	}
	if _, err := d.Start(context.Background(), "10.0.0.1:7946"); err == nil || !strings.Contains(err.Error(), "needs a route") {
		t.Errorf("Start without a multicast route: %v", err)
	}
	// A responder that cannot start fails Start, which can be retried.
	d.checkJoin = func(bool) error { return nil }
	d.newServer = func(*hmdns.Config) (mdnsServer, error) { return nil, errors.New("no multicast listeners") }
	if _, err := d.Start(context.Background(), "10.0.0.1:7946"); err == nil || !strings.Contains(err.Error(), "no multicast listeners") || !strings.Contains(err.Error(), "10.0.0.1:7946") {
		t.Errorf("Start with a failing responder: %v", err)
	}
	f := &fakeMDNS{}
	f.install(d)
	startMDNS(t, d, "10.0.0.1:7946")
	if _, err := d.Start(context.Background(), "10.0.0.1:7946"); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Errorf("a second Start: %v", err)
	}
}

func TestMDNSValidate(t *testing.T) {
	for _, tc := range []struct {
		d    seeds.Discoverer
		want string
	}{
		{New("_gencluster._sctp"), "protocol"},
		{New("gencluster._udp"), "the name"},
		{New("_._udp"), "the name"},
		{New("_abcdefghijklmnop._udp"), "the name"},
		{New("_a.b._udp"), "protocol"},
		{New("_-x._udp"), "letters"},
		{New("_x y._udp"), "letters"},
		{New("", Domain("")), "domain"},
		{New("", Domain("a..b")), "domain"},
		{New("", Instance("a.b")), "instance"},
		{New("", Instance(strings.Repeat("x", 64))), "instance"},
		{New("", QueryTimeout(0)), "must be positive"},
		{New("", QueryTimeout(time.Minute)), "less than the browse interval"},
		{New("", BrowseInterval(time.Millisecond)), "at least 10ms"},
		{New("", PeerTTL(time.Second)), "shorter than the browse interval"},
	} {
		if err := validate(tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want an error containing %q", name(tc.d), err, tc.want)
		}
	}
	for _, s := range []string{"", "_gencluster._udp", "_chat-2._tcp", "_x._udp."} {
		if err := validate(New(s)); err != nil {
			t.Errorf("New(%q): %v", s, err)
		}
	}
}

func TestMDNSSpec(t *testing.T) {
	checkSpecNames(t, map[string]string{
		"mdns+_gencluster._udp":      "mdns+_gencluster._udp",
		"mdns+_chat._tcp?domain=lan": "mdns+_chat._tcp?domain=lan",
	})
	d, err := parse("mdns+_chat._udp?domain=lan&iface=lo&instance=n1&interval=2s&timeout=500ms&peer-ttl=9s")
	if err != nil {
		t.Fatal(err)
	}
	m := d.(*mdnsDiscovery)
	if m.service != "_chat._udp" || m.domain != "lan" || m.iface != "lo" || m.instance != "n1" || m.interval != 2*time.Second || m.timeout != 500*time.Millisecond || m.peerTTL != 9*time.Second {
		t.Errorf("parsed %+v", m)
	}
	checkSpecErrors(t, map[string]string{
		"mdns+_chat._udp?color=red":               `unknown option "color"`,
		"mdns+_chat._udp?interval=soon":           "interval",
		"mdns+_chat._udp?iface=a&iface=b":         "given 2 times",
		"mdns+chat":                               `service "chat"`,
		"mdns+_chat._udp?timeout=10s&interval=5s": "less than the browse interval",
		"mdns+_chat._udp?instance=has.dot":        "instance",
	})
}

// TestNilOptions: a nil option is an error naming its position, never a
// panic.
func TestNilOptions(t *testing.T) {
	if err := validate(New("_gencluster._udp", PeerTTL(1), nil)); err == nil || !strings.Contains(err.Error(), "mdns: option 1 is nil") {
		t.Errorf("Validate = %v, want %q", err, "mdns: option 1 is nil")
	}
}

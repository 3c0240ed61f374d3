//go:build realpeers

package realpeers

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/gencluster/gencluster/seeds"
)

// bigSet is how many A records big.rp.test has: far more than fit in a
// 1232-byte UDP answer, so every answer over UDP is truncated.
const bigSet = 150

// testZones are the zones of TestDNSRealServers. The addresses are
// documentation ones: nothing connects to them.
func testZones() dnsZones {
	var big strings.Builder
	for i := range bigSet {
		fmt.Fprintf(&big, "big A 198.18.%d.%d\n", i/200, i%200+1)
	}
	return dnsZones{
		zones: map[string]string{
			"rp.test": `
v4   A    192.0.2.1
v4   A    192.0.2.2
v4   A    192.0.2.3
v6   AAAA 2001:db8::1
v6   AAAA 2001:db8::2
dual A    192.0.2.11
dual AAAA 2001:db8::11
txt  TXT  "no address here"
c1   CNAME c2
c2   CNAME c3
c3   A    192.0.2.30
ext  CNAME x.other.test.
h1   A    192.0.2.51
h2   A    192.0.2.52
h3   A    192.0.2.53
h3   AAAA 2001:db8::53
_gossip._tcp SRV 10 60 7946 h1
_gossip._tcp SRV 10 40 7947 h2
_gossip._tcp SRV 20 0  7948 h3
_ext._tcp    SRV 10 10 7950 y.other.test.
` + big.String(),
			"other.test": `
x A 192.0.2.40
y A 192.0.2.41
`,
		},
		broken: []string{"broken.test"},
	}
}

// dnsCase is one lookup and what it must give.
type dnsCase struct {
	name    string
	d       func(opts ...seeds.DNSOption) seeds.Discoverer
	want    []string // exact, in order
	wantN   int      // or: this many addresses
	wantErr error    // or: this sentinel
	direct  bool     // only against named
	viaUnb  bool     // only through unbound
}

func dnsCases() []dnsCase {
	a := func(name string, o ...seeds.DNSOption) func(...seeds.DNSOption) seeds.Discoverer {
		return func(opts ...seeds.DNSOption) seeds.Discoverer { return seeds.DNS(name, 7946, append(opts, o...)...) }
	}
	srv := func(name string, o ...seeds.DNSOption) func(...seeds.DNSOption) seeds.Discoverer {
		return func(opts ...seeds.DNSOption) seeds.Discoverer { return seeds.SRV(name, append(opts, o...)...) }
	}
	return []dnsCase{
		{name: "A", d: a("v4.rp.test"), want: []string{"192.0.2.1:7946", "192.0.2.2:7946", "192.0.2.3:7946"}},
		{name: "AAAA", d: a("v6.rp.test", seeds.DNSIPv6()), want: []string{"[2001:db8::1]:7946", "[2001:db8::2]:7946"}},
		{name: "dual-stack", d: a("dual.rp.test", seeds.DNSDualStack()), want: []string{"192.0.2.11:7946", "[2001:db8::11]:7946"}},
		{name: "dual-stack, IPv4 only", d: a("v4.rp.test", seeds.DNSDualStack()), want: []string{"192.0.2.1:7946", "192.0.2.2:7946", "192.0.2.3:7946"}},
		{name: "AAAA of an IPv4-only name", d: a("v4.rp.test", seeds.DNSIPv6()), wantErr: seeds.ErrNoRecords},
		{name: "CNAME chain", d: a("c1.rp.test"), want: []string{"192.0.2.30:7946"}},
		{name: "CNAME into another zone", d: a("ext.rp.test"), want: []string{"192.0.2.40:7946"}},
		{name: "SRV", d: srv("_gossip._tcp.rp.test"), want: []string{"192.0.2.51:7946", "192.0.2.52:7947", "192.0.2.53:7948"}},
		{name: "SRV dual-stack", d: srv("_gossip._tcp.rp.test", seeds.DNSDualStack()),
			want: []string{"192.0.2.51:7946", "192.0.2.52:7947", "192.0.2.53:7948", "[2001:db8::53]:7948"}},
		{name: "SRV host names", d: srv("_gossip._tcp.rp.test", seeds.SRVHostNames()), want: []string{"h1.rp.test:7946", "h2.rp.test:7947", "h3.rp.test:7948"}},
		{name: "SRV target in another zone", d: srv("_ext._tcp.rp.test"), want: []string{"192.0.2.41:7950"}},
		{name: "NXDOMAIN", d: a("nosuch.rp.test"), wantErr: seeds.ErrNXDomain},
		{name: "SRV NXDOMAIN", d: srv("_nosuch._tcp.rp.test"), wantErr: seeds.ErrNXDomain},
		{name: "no address records (NODATA)", d: a("txt.rp.test"), wantErr: seeds.ErrNoRecords},
		{name: "SERVFAIL (zone failed to load)", d: a("x.broken.test"), wantErr: seeds.ErrServFail},
		{name: "REFUSED (not authoritative)", d: a("x.dead.test"), wantErr: seeds.ErrRcode, direct: true},
		{name: "SERVFAIL (upstream refuses)", d: a("x.dead.test"), wantErr: seeds.ErrServFail, viaUnb: true},
		{name: "timeout (upstream silent)", d: a("x.silent.test", seeds.DNSTimeout(time.Second)), wantErr: seeds.ErrTimeout, viaUnb: true},
		{name: "truncated, TCP fallback", d: a("big.rp.test"), wantN: bigSet},
	}
}

// TestDNSRealServers checks DNS and SRV against bind9 (named) as the
// authoritative server, asked directly, and through unbound as a
// resolver in between: A, AAAA, dual-stack, CNAME chains, SRV with the
// targets' addresses in the additional section (named) and without
// (unbound, minimal responses), host names, NXDOMAIN, NODATA, SERVFAIL,
// REFUSED, and a truncated UDP answer that must be asked again over TCP.
func TestDNSRealServers(t *testing.T) {
	checkLeaks(t)
	d := startDNSLab(t, testZones())
	servers := []struct{ label, addr string }{{"named", d.bind}, {"unbound", d.unbound}}
	for _, s := range servers {
		for _, c := range dnsCases() {
			if (c.direct && s.label != "named") || (c.viaUnb && s.label != "unbound") {
				continue
			}
			t.Run(s.label+"/"+c.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				disc := c.d(seeds.DNSResolver(s.addr))
				start := time.Now()
				got, err := disc.Discover(ctx)
				took := time.Since(start)
				switch {
				case c.wantErr != nil:
					if !errors.Is(err, c.wantErr) {
						t.Fatalf("%v: got %v, %v; want the error %v", disc, got, err, c.wantErr)
					}
					t.Logf("%v: %v (%v)", disc, err, took.Round(time.Millisecond))
				case err != nil:
					t.Fatalf("%v: %v", disc, err)
				case c.wantN > 0:
					if len(got) != c.wantN {
						t.Fatalf("%v: %d addresses, want %d", disc, len(got), c.wantN)
					}
				case !slices.Equal(got, c.want):
					t.Fatalf("%v: got %v, want %v", disc, got, c.want)
				}
			})
		}
	}
	checkPaths(t, d)
}

// tcpQuery matches a query that came over TCP in named's query log
// ("query: big.rp.test IN A +E(0)TK (...)": flag T).
var tcpQuery = regexp.MustCompile(`query: big\.rp\.test IN A [-+]\S*T`)

// checkPaths checks, with raw queries, that the cases above took the
// paths they were meant to: named fills the SRV additional section and
// unbound does not (so both the section and the follow-up queries were
// used), and the big set's UDP answers are truncated by both, so the
// addresses came over TCP (named's log shows the TCP queries).
func checkPaths(t *testing.T, d *dnsLab) {
	t.Helper()
	for _, s := range []struct {
		label, addr string
		wantExtra   bool
	}{{"named", d.bind, true}, {"unbound", d.unbound, false}} {
		r := rawQuery(t, s.addr, "udp", "_gossip._tcp.rp.test", dns.TypeSRV)
		extra := 0
		for _, rr := range r.Extra {
			if t := rr.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
				extra++
			}
		}
		figure(t, "dns_srv_additional_addrs_"+s.label, extra)
		if (extra > 0) != s.wantExtra {
			t.Errorf("%s: SRV answer has %d addresses in the additional section; want some: %v", s.label, extra, s.wantExtra)
		}
		u := rawQuery(t, s.addr, "udp", "big.rp.test", dns.TypeA)
		tc := rawQuery(t, s.addr, "tcp", "big.rp.test", dns.TypeA)
		figure(t, "dns_big_udp_truncated_"+s.label, u.Truncated)
		figure(t, "dns_big_udp_records_"+s.label, len(u.Answer))
		figure(t, "dns_big_tcp_records_"+s.label, len(tc.Answer))
		if !u.Truncated || len(tc.Answer) != bigSet {
			t.Errorf("%s: big.rp.test over UDP: truncated=%v; over TCP: %d records; want truncated and %d", s.label, u.Truncated, len(tc.Answer), bigSet)
		}
	}
	// named saw TCP queries for the big set: ours (direct) and unbound's
	// own fallback (through unbound), besides the raw ones just made.
	n := len(tcpQuery.FindAllString(d.named.out.String(), -1))
	figure(t, "dns_big_tcp_queries_at_named", n)
	if n < 3 {
		t.Errorf("named logged %d TCP queries for big.rp.test, want at least 3 (seeds direct, unbound's fallback, the raw check)", n)
	}
}

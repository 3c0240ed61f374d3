package seeds

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dnstest"
	"github.com/miekg/dns"
)

func discover(t *testing.T, d Discoverer) ([]string, error) {
	t.Helper()
	if err := validate(d); err != nil {
		t.Fatalf("Validate(%s): %v", name(d), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.Discover(ctx)
}

func mustDiscover(t *testing.T, d Discoverer, want ...string) {
	t.Helper()
	got, err := discover(t, d)
	if err != nil {
		t.Fatalf("%s: Discover: %v", name(d), err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: Discover = %q, want %q", name(d), got, want)
	}
}

// wantDNSError checks that err wraps sentinel in a *DNSError for name and
// qtype whose message names the name, type and server.
func wantDNSError(t *testing.T, err error, sentinel error, name, qtype, server string) *DNSError {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v: want %v", err, sentinel)
	}
	var de *DNSError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T): want a *DNSError", err, err)
	}
	if de.Name != name || de.Qtype != qtype || de.Server != server {
		t.Errorf("DNSError{Name: %q, Qtype: %q, Server: %q}, want {%q, %q, %q}", de.Name, de.Qtype, de.Server, name, qtype, server)
	}
	for _, s := range []string{name, qtype, server} {
		if !strings.Contains(de.Error(), s) {
			t.Errorf("error %q does not name %q", de.Error(), s)
		}
	}
	return de
}

func TestDNSA(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetA("web.test.", "127.0.0.3", "127.0.0.2", "127.0.0.3")
	mustDiscover(t, DNS("web.test", 7946, DNSResolver(srv.Addr())), "127.0.0.2:7946", "127.0.0.3:7946")
	mustDiscover(t, DNS("WEB.test.", 7946, DNSResolver(srv.Addr())), "127.0.0.2:7946", "127.0.0.3:7946")
	if n := srv.Count("web.test", dns.TypeAAAA); n != 0 {
		t.Errorf("%d AAAA queries without DNSIPv6 or DNSDualStack", n)
	}
}

func TestDNSAAAA(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetAAAA("web.test.", "::2", "::1")
	srv.SetA("web.test.", "127.0.0.2")
	mustDiscover(t, DNS("web.test", 7946, DNSIPv6(), DNSResolver(srv.Addr())), "[::1]:7946", "[::2]:7946")
	if n := srv.Count("web.test", dns.TypeA); n != 0 {
		t.Errorf("%d A queries with DNSIPv6", n)
	}
}

func TestDNSDualStack(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetAAAA("web.test.", "::1")
	srv.SetA("web.test.", "127.0.0.2")
	d := DNS("web.test", 7946, DNSDualStack(), DNSResolver(srv.Addr()))
	mustDiscover(t, d, "127.0.0.2:7946", "[::1]:7946")

	// One family missing is not an error.
	srv.SetAAAA("web.test.")
	mustDiscover(t, d, "127.0.0.2:7946")
	srv.SetA("web.test.")
	srv.SetAAAA("web.test.", "::1")
	mustDiscover(t, d, "[::1]:7946")

	// Both failing is an error naming both.
	srv.SetFault("web.test.", dnstest.ServFail)
	_, err := discover(t, d)
	if !errors.Is(err, ErrServFail) || !strings.Contains(err.Error(), "dns A ") || !strings.Contains(err.Error(), "dns AAAA ") {
		t.Fatalf("error %v: want SERVFAIL for A and AAAA", err)
	}
	// Both empty too.
	srv.SetFault("web.test.", dnstest.None)
	srv.SetAAAA("web.test.")
	srv.SetCNAME("web.test.", "nowhere.test.")
	_, err = discover(t, d)
	if !errors.Is(err, ErrNXDomain) || !strings.Contains(err.Error(), "dns A ") || !strings.Contains(err.Error(), "dns AAAA ") {
		t.Fatalf("error %v: want NXDOMAIN for A and AAAA", err)
	}
}

func TestDNSRecordChangesBetweenCalls(t *testing.T) {
	srv := dnstest.Start(t)
	d := DNS("web.test", 7946, DNSResolver(srv.Addr()))
	srv.SetTTL("web.test.", time.Hour) // a long TTL must not be cached
	srv.SetA("web.test.", "127.0.0.2")
	mustDiscover(t, d, "127.0.0.2:7946")
	srv.AddA("web.test.", "127.0.0.3", "127.0.0.4")
	mustDiscover(t, d, "127.0.0.2:7946", "127.0.0.3:7946", "127.0.0.4:7946")
	srv.RemoveA("web.test.", "127.0.0.2")
	mustDiscover(t, d, "127.0.0.3:7946", "127.0.0.4:7946")
	srv.SetTTL("web.test.", 0)
	srv.SetA("web.test.", "127.0.0.9")
	mustDiscover(t, d, "127.0.0.9:7946")
	srv.Remove("web.test.")
	_, err := discover(t, d)
	wantDNSError(t, err, ErrNXDomain, "web.test.", "A", srv.Addr())
	if n := srv.Count("web.test.", dns.TypeA); n != 5 {
		t.Errorf("%d A queries for 5 Discover calls", n)
	}
}

func TestDNSNoRecords(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetAAAA("web.test.", "::1")
	_, err := discover(t, DNS("web.test", 7946, DNSResolver(srv.Addr())))
	wantDNSError(t, err, ErrNoRecords, "web.test.", "A", srv.Addr())
}

func TestDNSCNAME(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetA("web.test.", "127.0.0.2")
	srv.SetCNAME("alias.test.", "middle.test.")
	srv.SetCNAME("middle.test.", "web.test.")
	mustDiscover(t, DNS("alias.test", 1, DNSResolver(srv.Addr())), "127.0.0.2:1")

	// A chain the server leaves dangling is followed with a new query.
	srv.SetCNAME("dangling.test.", "elsewhere.test.")
	_, err := discover(t, DNS("dangling.test", 1, DNSResolver(srv.Addr())))
	wantDNSError(t, err, ErrNXDomain, "elsewhere.test.", "A", srv.Addr())
	if srv.Count("elsewhere.test.", dns.TypeA) != 1 {
		t.Errorf("the CNAME target was not asked")
	}

	// A loop ends.
	srv.SetCNAME("loop1.test.", "loop2.test.")
	srv.SetCNAME("loop2.test.", "loop1.test.")
	_, err = discover(t, DNS("loop1.test", 1, DNSResolver(srv.Addr())))
	if !errors.Is(err, ErrNoRecords) {
		t.Fatalf("CNAME loop: error %v, want ErrNoRecords", err)
	}
}

func TestDNSValidate(t *testing.T) {
	for _, tc := range []struct {
		d    Discoverer
		want string // "" for valid
	}{
		{DNS("web.test", 1), ""},
		{DNS("_x.web-1.test.", 65535, DNSResolver("[::1]:53"), DNSTimeout(time.Second)), ""},
		{DNS("", 1), "dns name is empty"},
		{DNS("we$b.test", 1), `"we$b.test"`},
		{DNS("a..b", 1), `"a..b"`},
		{DNS(".", 1), `"."`},
		{DNS("10.0.0.1", 1), "IP address"},
		{DNS(strings.Repeat("a", 64)+".test", 1), "not a valid domain name"},
		{DNS("web.test", 0), "dns port 0"},
		{DNS("web.test", 65536), "dns port 65536"},
		{DNS("web.test", 1, DNSResolver("10.0.0.1")), `"10.0.0.1"`},
		{DNS("web.test", 1, DNSResolver(":53")), `":53"`},
		{DNS("web.test", 1, DNSResolver("10.0.0.1:0")), `"10.0.0.1:0"`},
		{DNS("web.test", 1, DNSTimeout(0)), "dns timeout 0s"},
		{SRV("_a._tcp.test"), ""},
		{SRV(""), "dns name is empty"},
		{SRV("_a._tcp.test", DNSResolver("x")), `"x"`},
	} {
		err := validate(tc.d)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: Validate: %v", name(tc.d), err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", name(tc.d), err, tc.want)
		}
		// Discover refuses the same configuration without asking anyone.
		if _, derr := tc.d.Discover(context.Background()); derr == nil {
			t.Errorf("%s: Discover accepted an invalid configuration", name(tc.d))
		}
	}
}

func TestParseDNS(t *testing.T) {
	checkSpecNames(t, map[string]string{
		"dns+web.ns.svc.cluster.local:7946":            "dns+web.ns.svc.cluster.local:7946",
		"dns+web.test.:1":                              "dns+web.test.:1",
		"dns6+web.test:7946":                           "dns6+web.test:7946",
		"dns46+web:65535":                              "dns46+web:65535",
		"dnssrv+_gossip._tcp.web.ns.svc.cluster.local": "dnssrv+_gossip._tcp.web.ns.svc.cluster.local",
		"dnssrvhost+_gossip._tcp.web.test.":            "dnssrvhost+_gossip._tcp.web.test.",
		"dns+a.test:1 dnssrv+_b._udp.test":             "dns+a.test:1 dnssrv+_b._udp.test",
	})
	d, _ := Parse("dns6+web.test:1")
	if c := d.(*dnsA).cfg; !c.ipv6 || c.dual {
		t.Errorf("dns6: config %+v", c)
	}
	d, _ = Parse("dns46+web.test:1")
	if c := d.(*dnsA).cfg; !c.dual {
		t.Errorf("dns46: config %+v", c)
	}
	d, _ = Parse("dnssrvhost+_a._tcp.test")
	if c := d.(*dnsSRV).cfg; !c.hostNames {
		t.Errorf("dnssrvhost: config %+v", c)
	}

	checkSpecErrors(t, map[string]string{
		"dns+web.test":             `"web.test": want name:port`,
		"dns+web.test:":            `port ""`,
		"dns+web.test:0":           `port "0"`,
		"dns+web.test:99999":       `port "99999"`,
		"dns+web.test:http":        `port "http"`,
		"dns+:7946":                "dns name is empty",
		"dns6+10.0.0.1:7946":       "IP address",
		"dns46+[::1]:7946":         "IP address",
		"dns+we_b!.test:1":         `"we_b!.test"`,
		"dns+":                     `nothing after "dns+"`,
		"dnssrv+_a._tcp.test:7946": "has no port",
		"dnssrvhost+a..b":          `"a..b"`,
		"dnssrv+":                  `nothing after "dnssrv+"`,
		"dnsx+web:1":               `unknown scheme "dnsx"`,
	})
}

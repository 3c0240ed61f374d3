package seeds

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/dnstest"
	"github.com/miekg/dns"
)

func discover(t *testing.T, d Discoverer) ([]string, error) {
	t.Helper()
	if err := Validate(d); err != nil {
		t.Fatalf("Validate(%s): %v", Name(d), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.Discover(ctx)
}

func mustDiscover(t *testing.T, d Discoverer, want ...string) {
	t.Helper()
	got, err := discover(t, d)
	if err != nil {
		t.Fatalf("%s: Discover: %v", Name(d), err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: Discover = %q, want %q", Name(d), got, want)
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

func TestDNSTruncatedAnswerUsesTCP(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetA("web.test.", "127.0.0.2")
	srv.SetFault("web.test.", dnstest.Truncate)
	mustDiscover(t, DNS("web.test", 7946, DNSResolver(srv.Addr())), "127.0.0.2:7946")
	got := srv.Queries()
	want := []dnstest.Query{{Name: "web.test.", Qtype: dns.TypeA, Net: "udp"}, {Name: "web.test.", Qtype: dns.TypeA, Net: "tcp"}}
	if !slices.Equal(got, want) {
		t.Fatalf("queries %v, want %v", got, want)
	}

	// An answer too big for the advertised UDP size is truncated by the
	// server itself.
	var ips, wantAddrs []string
	for i := range 200 {
		ip := fmt.Sprintf("127.0.%d.%d", i/250, 1+i%250)
		ips = append(ips, ip)
	}
	srv.SetA("big.test.", ips...)
	addrs, err := discover(t, DNS("big.test", 80, DNSResolver(srv.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		wantAddrs = append(wantAddrs, ip+":80")
	}
	slices.Sort(wantAddrs)
	slices.Sort(addrs)
	if !slices.Equal(addrs, wantAddrs) {
		t.Fatalf("got %d addresses, want %d", len(addrs), len(wantAddrs))
	}
	if n := srv.Count("big.test.", dns.TypeA); n != 2 {
		t.Fatalf("%d queries for big.test, want UDP then TCP", n)
	}
}

func TestDNSFaults(t *testing.T) {
	srv := dnstest.Start(t)
	for _, tc := range []struct {
		fault    dnstest.Fault
		sentinel error
		text     string
	}{
		{dnstest.NXDomain, ErrNXDomain, "NXDOMAIN"},
		{dnstest.ServFail, ErrServFail, "SERVFAIL"},
		{dnstest.Refused, ErrRcode, "REFUSED"},
		{dnstest.Drop, ErrTimeout, "timed out"},
		{dnstest.Garbage, ErrMalformed, "malformed"},
		{dnstest.WrongID, ErrMalformed, "answer ID"},
		{dnstest.WrongType, ErrMalformed, "answer is for type TXT"},
		{dnstest.WrongName, ErrMalformed, `answer is for name "wrong.web.test."`},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			srv.SetA("web.test.", "127.0.0.2")
			srv.SetFault("web.test.", tc.fault)
			d := DNS("web.test", 7946, DNSResolver(srv.Addr()), DNSTimeout(150*time.Millisecond))
			start := time.Now()
			addrs, err := discover(t, d)
			if addrs != nil {
				t.Errorf("addresses %q with a fault", addrs)
			}
			wantDNSError(t, err, tc.sentinel, "web.test.", "A", srv.Addr())
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestDNSContext(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetFault("web.test.", dnstest.Drop)
	d := DNS("web.test", 1, DNSResolver(srv.Addr()), DNSTimeout(time.Minute))

	// A context deadline shorter than the timeout wins.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := d.Discover(ctx)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}

	// Cancelling stops a query in flight.
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.Discover(ctx)
		errc <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := srv.WaitQueries(wctx, "web.test.", dns.TypeA, 2); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	case <-wctx.Done():
		t.Fatal("Discover did not return after cancel")
	}
}

func writeResolvConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDNSResolvConfSearch(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetA("web.ns.svc.test.", "127.0.0.2")
	srv.SetA("web.svc.test.", "127.0.0.3")

	// ndots:1 and a name without dots: search domains first, in order.
	conf := srv.ResolvConf(t, 1, "ns.svc.test", "svc.test")
	mustDiscover(t, DNS("web", 7946, DNSResolvConf(conf)), "127.0.0.2:7946")
	srv.Remove("web.ns.svc.test.")
	mustDiscover(t, DNS("web", 7946, DNSResolvConf(conf)), "127.0.0.3:7946")

	// A name with at least ndots dots is tried as is first.
	srv.SetA("web.svc.", "127.0.0.4")
	mustDiscover(t, DNS("web.svc", 7946, DNSResolvConf(conf)), "127.0.0.4:7946")
	// ndots:5: "web.svc" is tried with the search domains first.
	conf5 := srv.ResolvConf(t, 5, "test")
	srv.SetA("web.svc.test.", "127.0.0.5")
	mustDiscover(t, DNS("web.svc", 7946, DNSResolvConf(conf5)), "127.0.0.5:7946")
	// A fully qualified name ignores the search list.
	mustDiscover(t, DNS("web.svc.", 7946, DNSResolvConf(conf5)), "127.0.0.4:7946")

	var order []string
	for _, q := range srv.Queries() {
		order = append(order, q.Name)
	}
	want := []string{"web.ns.svc.test.", "web.ns.svc.test.", "web.svc.test.", "web.svc.", "web.svc.test.", "web.svc."}
	if !slices.Equal(order, want) {
		t.Errorf("queries %q, want %q", order, want)
	}

	// Not found anywhere: every candidate's error is returned.
	srv.Remove("web.svc.test.")
	_, err := discover(t, DNS("web", 7946, DNSResolvConf(conf)))
	for _, name := range []string{"web.ns.svc.test.", "web.svc.test.", "web."} {
		if !strings.Contains(fmt.Sprint(err), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
	if !errors.Is(err, ErrNXDomain) {
		t.Errorf("error %v, want ErrNXDomain", err)
	}
}

func TestDNSResolvConfServers(t *testing.T) {
	bad := dnstest.Start(t)
	good := dnstest.Start(t)
	bad.SetFault("web.test.", dnstest.ServFail)
	good.SetA("web.test.", "127.0.0.2")
	conf := writeResolvConf(t, "nameserver "+bad.Addr()+"\nnameserver "+good.Addr()+"\n")
	mustDiscover(t, DNS("web.test.", 1, DNSResolvConf(conf)), "127.0.0.2:1")

	// NXDOMAIN is final: the next server is not asked.
	bad.SetFault("web.test.", dnstest.NXDomain)
	_, err := discover(t, DNS("web.test.", 1, DNSResolvConf(conf)))
	wantDNSError(t, err, ErrNXDomain, "web.test.", "A", bad.Addr())
	if n := good.Count("web.test.", dns.TypeA); n != 1 {
		t.Errorf("second server asked %d times, want 1", n)
	}

	for _, tc := range []struct{ text, want string }{
		{"", "no nameserver"},
		{"search test\n", "no nameserver"},
	} {
		_, err := discover(t, DNS("web.test", 1, DNSResolvConf(writeResolvConf(t, tc.text))))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("resolv.conf %q: error %v, want %q", tc.text, err, tc.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := discover(t, DNS("web.test", 1, DNSResolvConf(missing))); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing resolv.conf: error %v", err)
	}
}

func TestSRV(t *testing.T) {
	for _, additional := range []bool{false, true} {
		t.Run(fmt.Sprintf("additional=%v", additional), func(t *testing.T) {
			srv := dnstest.Start(t)
			srv.SetAdditional(additional)
			srv.SetSRV("_gossip._tcp.svc.test.",
				dnstest.SRV{Target: "n2.test", Port: 7002, Priority: 10, Weight: 5},
				dnstest.SRV{Target: "n1.test", Port: 7001, Priority: 10, Weight: 50},
				dnstest.SRV{Target: "n3.test", Port: 7003, Priority: 20},
			)
			srv.SetA("n1.test.", "127.0.0.2")
			srv.SetA("n2.test.", "127.0.0.3")
			srv.SetA("n3.test.", "127.0.0.4", "127.0.0.5")
			srv.SetAAAA("n3.test.", "::3")
			d := SRV("_gossip._tcp.svc.test", DNSResolver(srv.Addr()))
			mustDiscover(t, d, "127.0.0.2:7001", "127.0.0.3:7002", "127.0.0.4:7003", "127.0.0.5:7003")
			queried := srv.Count("n1.test.", dns.TypeA)
			if additional && queried != 0 {
				t.Errorf("target queried %d times although the additional section had it", queried)
			}
			if !additional && queried != 1 {
				t.Errorf("target queried %d times, want 1", queried)
			}

			mustDiscover(t, SRV("_gossip._tcp.svc.test", DNSResolver(srv.Addr()), SRVHostNames()),
				"n1.test:7001", "n2.test:7002", "n3.test:7003")
			mustDiscover(t, SRV("_gossip._tcp.svc.test", DNSResolver(srv.Addr()), DNSDualStack()),
				"127.0.0.2:7001", "127.0.0.3:7002", "127.0.0.4:7003", "127.0.0.5:7003", "[::3]:7003")

			// A target that does not resolve is reported; the others
			// are still returned.
			srv.Remove("n2.test.")
			got, err := discover(t, d)
			if !slices.Equal(got, []string{"127.0.0.2:7001", "127.0.0.4:7003", "127.0.0.5:7003"}) {
				t.Errorf("Discover = %q", got)
			}
			wantDNSError(t, err, ErrNXDomain, "n2.test.", "A", srv.Addr())
		})
	}
}

func TestSRVRecords(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetA("n1.test.", "127.0.0.2")
	// Through a CNAME.
	srv.SetSRV("_real._tcp.test.", dnstest.SRV{Target: "n1.test.", Port: 1})
	srv.SetCNAME("_alias._tcp.test.", "_real._tcp.test.")
	mustDiscover(t, SRV("_alias._tcp.test", DNSResolver(srv.Addr())), "127.0.0.2:1")

	// Target "." means not available.
	srv.SetSRV("_none._tcp.test.", dnstest.SRV{Target: ".", Port: 1})
	_, err := discover(t, SRV("_none._tcp.test", DNSResolver(srv.Addr())))
	wantDNSError(t, err, ErrNoRecords, "_none._tcp.test.", "SRV", srv.Addr())

	// Port 0 is a bad record, reported next to the good ones.
	srv.SetSRV("_bad._tcp.test.", dnstest.SRV{Target: "n1.test.", Port: 0}, dnstest.SRV{Target: "n1.test.", Port: 2})
	got, err := discover(t, SRV("_bad._tcp.test", DNSResolver(srv.Addr())))
	if !slices.Equal(got, []string{"127.0.0.2:2"}) {
		t.Errorf("Discover = %q", got)
	}
	wantDNSError(t, err, ErrMalformed, "_bad._tcp.test.", "SRV", srv.Addr())

	// No SRV records; errors of the SRV query itself.
	srv.SetA("_empty._tcp.test.", "127.0.0.9")
	_, err = discover(t, SRV("_empty._tcp.test", DNSResolver(srv.Addr())))
	wantDNSError(t, err, ErrNoRecords, "_empty._tcp.test.", "SRV", srv.Addr())
	srv.SetFault("_real._tcp.test.", dnstest.Truncate)
	mustDiscover(t, SRV("_real._tcp.test", DNSResolver(srv.Addr())), "127.0.0.2:1")
	srv.SetFault("_real._tcp.test.", dnstest.WrongType)
	_, err = discover(t, SRV("_real._tcp.test", DNSResolver(srv.Addr())))
	wantDNSError(t, err, ErrMalformed, "_real._tcp.test.", "SRV", srv.Addr())
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
		err := Validate(tc.d)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: Validate: %v", Name(tc.d), err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", Name(tc.d), err, tc.want)
		}
		// Discover refuses the same configuration without asking anyone.
		if _, derr := tc.d.Discover(context.Background()); derr == nil {
			t.Errorf("%s: Discover accepted an invalid configuration", Name(tc.d))
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

package seeds

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gencluster/gencluster/internal/testing/dnstest"
	"github.com/miekg/dns"
)

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

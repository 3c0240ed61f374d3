package seeds

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/internal/testing/dnstest"
	"github.com/gencluster/gencluster/seeds/internal/backendtest"
	"github.com/miekg/dns"
)

// TestDNSHostsFile: a name the hosts file lists is answered from it, as
// Go's resolver answers it, without asking DNS; other names go to DNS.
func TestDNSHostsFile(t *testing.T) {
	srv := dnstest.Start(t)
	conf := srv.ResolvConf(t, 1)
	hosts := backendtest.TempFile(t, "hosts", `# a comment
127.0.0.1	localhost
127.0.0.5 Gossip.Local gossip   # two names
127.0.0.4 other gossip.local.
::1 gossip.local
# 127.0.0.9 gossip.local
127.0.0.8 not-this # gossip.local
bogus gossip.local
`)
	mustDiscover(t, DNS("localhost", 7001, DNSResolvConf(conf), DNSHostsFile(hosts)), "127.0.0.1:7001")
	mustDiscover(t, DNS("gossip.local", 7001, DNSResolvConf(conf), DNSHostsFile(hosts)), "127.0.0.4:7001", "127.0.0.5:7001")
	mustDiscover(t, DNS("GOSSIP.local.", 7001, DNSResolvConf(conf), DNSHostsFile(hosts)), "127.0.0.4:7001", "127.0.0.5:7001")
	mustDiscover(t, DNS("gossip.local", 7001, DNSResolvConf(conf), DNSHostsFile(hosts), DNSIPv6()), "[::1]:7001")
	mustDiscover(t, DNS("gossip.local", 7001, DNSResolvConf(conf), DNSHostsFile(hosts), DNSDualStack()), "127.0.0.4:7001", "127.0.0.5:7001", "[::1]:7001")
	if q := srv.Queries(); len(q) != 0 {
		t.Errorf("names of the hosts file were asked of DNS: %v", q)
	}

	// A name the file lacks is asked of DNS.
	srv.SetA("web.test.", "127.0.0.2")
	mustDiscover(t, DNS("web.test", 7001, DNSResolvConf(conf), DNSHostsFile(hosts)), "127.0.0.2:7001")
	// With DNSResolver the hosts file is not read.
	srv.SetA("localhost.", "127.0.0.3")
	mustDiscover(t, DNS("localhost", 7001, DNSResolver(srv.Addr())), "127.0.0.3:7001")

	// Listed, but not with an address of the family asked: as Go, DNS is
	// not asked.
	_, err := discover(t, DNS("localhost", 7001, DNSResolvConf(conf), DNSHostsFile(hosts), DNSIPv6()))
	wantDNSError(t, err, ErrNoRecords, "localhost.", "AAAA", hosts)
	if n := srv.Count("localhost.", dns.TypeAAAA); n != 0 {
		t.Errorf("%d AAAA queries for a name of the hosts file", n)
	}

	// A DNSHostsFile that cannot be read is an error naming it.
	missing := filepath.Join(t.TempDir(), "nope")
	_, err = discover(t, DNS("web.test", 7001, DNSResolvConf(conf), DNSHostsFile(missing)))
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing hosts file: %v, want an error naming %s", err, missing)
	}
	// The hosts file has no SRV records.
	if err := validate(SRV("_a._tcp.test", DNSHostsFile(hosts))); err == nil || !strings.Contains(err.Error(), "DNSHostsFile") {
		t.Errorf("SRV with DNSHostsFile: Validate = %v", err)
	}
}

// TestDNSLocalhostFromEtcHosts is the case of issue 19: "dns+localhost:7001"
// found nothing (NXDOMAIN) although /etc/hosts lists localhost.
func TestDNSLocalhostFromEtcHosts(t *testing.T) {
	data, err := os.ReadFile(DefaultHostsFile)
	if err != nil || !strings.Contains(string(data), "127.0.0.1") {
		t.Skipf("%s does not list 127.0.0.1 here (%v)", DefaultHostsFile, err)
	}
	srv := dnstest.Start(t) // answers NXDOMAIN for localhost
	d, err := Parse("dns+localhost:7001")
	if err != nil {
		t.Fatal(err)
	}
	d.(*dnsA).cfg.resolvConf = srv.ResolvConf(t, 1)
	got, err := discover(t, d)
	if err != nil || !slices.Contains(got, "127.0.0.1:7001") {
		t.Errorf("dns+localhost:7001: Discover = %q, %v; want 127.0.0.1:7001 from %s", got, err, DefaultHostsFile)
	}
}

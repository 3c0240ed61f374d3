package seeds

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/internal/testing/dnstest"
	"github.com/gencluster/gencluster/seeds/internal/backendtest"
	"github.com/miekg/dns"
)

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
	conf := backendtest.TempFile(t, "resolv.conf", "nameserver "+bad.Addr()+"\nnameserver "+good.Addr()+"\n")
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
		_, err := discover(t, DNS("web.test", 1, DNSResolvConf(backendtest.TempFile(t, "resolv.conf", tc.text))))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("resolv.conf %q: error %v, want %q", tc.text, err, tc.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := discover(t, DNS("web.test", 1, DNSResolvConf(missing))); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing resolv.conf: error %v", err)
	}
}

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoMDNSOrMulticast: a service that seeds by DNS only does not
// link the backends it never names. mDNS (seeds/mdns, with hashicorp/mdns)
// and multicast (seeds/multicast, with x/time/rate) live in packages of
// their own that only a program importing them links; this fails if the
// root package or seeds starts importing them again. (x/net's ipv4
// package stays: miekg/dns, which the DNS backend needs, imports it.)
func TestLinksNoMDNSOrMulticast(t *testing.T) {
	// go test puts its own go command first on the PATH of the tests.
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	has := func(pkg string) bool {
		for _, d := range deps {
			if d == pkg {
				return true
			}
		}
		return false
	}
	// The check can fail: the program does link these.
	for _, pkg := range []string{"github.com/gencluster/gencluster", "github.com/gencluster/gencluster/seeds", "github.com/miekg/dns"} {
		if !has(pkg) {
			t.Fatalf("go list -deps does not list %s, which the program imports: %v", pkg, deps)
		}
	}
	for _, pkg := range []string{
		"github.com/hashicorp/mdns",
		"github.com/gencluster/gencluster/seeds/mdns",
		"github.com/gencluster/gencluster/seeds/multicast",
		"golang.org/x/time/rate",
	} {
		if has(pkg) {
			t.Errorf("a DNS-only service links %s", pkg)
		}
	}
}

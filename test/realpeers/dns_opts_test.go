//go:build realpeers

package realpeers

import (
	"time"

	"github.com/gencluster/gencluster/seeds"
)

// The DNS options the tests use, in one place (named as in the decided
// API: DNSResolver, DNSIPv6, DNSDualStack, SRVHostNames, DNSTimeout).
func dnsResolver(addr string) seeds.DNSOption { return seeds.WithResolver(addr) }
func dnsIPv6() seeds.DNSOption                { return seeds.IPv6() }
func dnsDualStack() seeds.DNSOption           { return seeds.DualStack() }
func srvHostNames() seeds.DNSOption           { return seeds.HostNames() }
func dnsTimeout(d time.Duration) seeds.DNSOption {
	return seeds.WithTimeout(d)
}

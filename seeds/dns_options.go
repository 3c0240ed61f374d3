package seeds

import (
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// DNSOption configures DNS and SRV. Each option says which of the two
// it applies to; one given to a backend that would ignore it (SRVHostNames
// to DNS, say) makes Validate fail, naming both.
type DNSOption func(*dnsConfig)

type dnsConfig struct {
	resolver   string
	resolvConf string
	hostsFile  string
	timeout    time.Duration
	ipv6, dual bool
	hostNames  bool
	given      []dnsOptionUse // every option given, in order, for checkOptions
	nilOpts    []int          // positions of nil options
}

// The backends a DNSOption may apply to, as a set of bits.
const (
	forDNS       = 1 << iota // DNS
	forSRV                   // SRV resolving its targets to addresses
	forSRVHosts              // SRV with SRVHostNames
	forAllDNS    = forDNS | forSRV | forSRVHosts
	forAddresses = forDNS | forSRV // those that look up A or AAAA records
)

// dnsOptionUse records one option given and the backends it applies to.
type dnsOptionUse struct {
	name string
	to   int
}

// dnsOption makes a DNSOption called name that applies to the backends
// in to and sets its value with set.
func dnsOption(name string, to int, set func(*dnsConfig)) DNSOption {
	return func(c *dnsConfig) {
		c.given = append(c.given, dnsOptionUse{name: name, to: to})
		set(c)
	}
}

// DNSResolver asks the DNS server at addr ("host:port", for example
// "10.96.0.10:53") instead of the servers of resolv.conf. Names are then
// asked as given, made fully qualified: search domains do not apply, and
// neither does the hosts file.
func DNSResolver(addr string) DNSOption {
	return dnsOption("DNSResolver", forAllDNS, func(c *dnsConfig) { c.resolver = addr })
}

// DNSResolvConf reads the servers, search domains and ndots from path
// instead of /etc/resolv.conf. The file is read on every Discover, so
// changes to it are picked up. Besides plain IP addresses, a nameserver
// line may give "ip:port" or "[ipv6]:port" (an extension of miekg/dns's
// parser that glibc does not have). It excludes DNSResolver, which would
// make it unused.
func DNSResolvConf(path string) DNSOption {
	return dnsOption("DNSResolvConf", forAllDNS, func(c *dnsConfig) { c.resolvConf = path })
}

// DNSTimeout bounds each DNS query (one server, one name, one record
// type) to d; the default is DefaultDNSTimeout. Discover's context deadline,
// when earlier, wins.
func DNSTimeout(d time.Duration) DNSOption {
	return dnsOption("DNSTimeout", forAllDNS, func(c *dnsConfig) { c.timeout = d })
}

// DNSIPv6 asks for AAAA records instead of A records. It applies to DNS,
// and to SRV's targets unless SRVHostNames returns them as names.
func DNSIPv6() DNSOption {
	return dnsOption("DNSIPv6", forAddresses, func(c *dnsConfig) { c.ipv6 = true })
}

// DNSDualStack asks for both A and AAAA records. A family that has no records
// is not an error as long as the other has some. It applies where DNSIPv6
// does, and excludes it.
func DNSDualStack() DNSOption {
	return dnsOption("DNSDualStack", forAddresses, func(c *dnsConfig) { c.dual = true })
}

// SRVHostNames makes SRV return each record's target host name with its port
// instead of resolving the target to IP addresses (gen_cluster's host_type
// fqdn). It applies to SRV only.
func SRVHostNames() DNSOption {
	return dnsOption("SRVHostNames", forSRV|forSRVHosts, func(c *dnsConfig) { c.hostNames = true })
}

func newDNSConfig(opts []DNSOption) dnsConfig {
	c := dnsConfig{timeout: DefaultDNSTimeout}
	for i, o := range opts {
		if o == nil {
			c.nilOpts = append(c.nilOpts, i)
			continue
		}
		o(&c)
	}
	return c
}

// checkOptions is the one place that refuses options the backend would
// ignore or that contradict each other. backend is the kind of backend
// (forDNS, forSRV or forSRVHosts).
func (c *dnsConfig) checkOptions(backend int) error {
	var errs []error
	for _, i := range c.nilOpts {
		errs = append(errs, fmt.Errorf("option %d is nil", i))
	}
	for _, o := range c.given {
		if o.to&backend == 0 {
			errs = append(errs, fmt.Errorf("option %s applies only to %s, not to %s", o.name, dnsBackendNames(o.to), dnsBackendNames(backend)))
		}
	}
	if c.ipv6 && c.dual {
		errs = append(errs, errors.New("options DNSIPv6 and DNSDualStack: give one, not both"))
	}
	if c.resolver != "" && c.resolvConf != "" {
		errs = append(errs, errors.New("options DNSResolver and DNSResolvConf: give one, not both (DNSResolver asks its server only, so the file would not be read)"))
	}
	if c.resolver != "" && c.hostsFile != "" {
		errs = append(errs, errors.New("options DNSResolver and DNSHostsFile: give one, not both (with DNSResolver the hosts file is not read)"))
	}
	return errors.Join(errs...)
}

// dnsBackendNames names the backends of the set to, for errors.
func dnsBackendNames(to int) string {
	switch to {
	case forDNS:
		return "seeds.DNS"
	case forSRV:
		return "seeds.SRV"
	case forSRVHosts:
		return "seeds.SRV with SRVHostNames"
	case forSRV | forSRVHosts:
		return "seeds.SRV"
	case forAddresses:
		return "seeds.DNS and seeds.SRV without SRVHostNames"
	}
	return "seeds.DNS and seeds.SRV"
}

// qtypes returns the address record types to ask for.
func (c *dnsConfig) qtypes() []uint16 {
	switch {
	case c.dual:
		return []uint16{dns.TypeA, dns.TypeAAAA}
	case c.ipv6:
		return []uint16{dns.TypeAAAA}
	}
	return []uint16{dns.TypeA}
}

// validate checks the options' values and that they apply to backend
// (see checkOptions).
func (c *dnsConfig) validate(backend int) error {
	errs := []error{c.checkOptions(backend)}
	if c.resolver != "" {
		if err := backendkit.CheckAddr(c.resolver); err != nil {
			errs = append(errs, fmt.Errorf("dns resolver %q: %w", c.resolver, err))
		}
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("dns timeout %v: want more than 0", c.timeout))
	}
	return errors.Join(errs...)
}

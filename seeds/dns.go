package seeds

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// DefaultDNSTimeout is how long one DNS query (one server, one name, one
// record type) may take when DNSTimeout is not given.
const DefaultDNSTimeout = 2 * time.Second

// DefaultResolvConf is the resolv.conf file read when neither DNSResolver
// nor DNSResolvConf is given.
const DefaultResolvConf = "/etc/resolv.conf"

// checkDomainName checks that name is a DNS name made of letters, digits,
// '-' and '_' labels, with an optional final dot. Its errors name name.
func checkDomainName(name string) error {
	if name == "" {
		return errors.New("dns name is empty")
	}
	if _, ok := dns.IsDomainName(name); !ok || name == "." {
		return fmt.Errorf("dns name %q: not a valid domain name", name)
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return fmt.Errorf("dns name %q: an IP address, not a name to look up", name)
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" {
			return fmt.Errorf("dns name %q: empty label", name)
		}
		if strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return fmt.Errorf("dns name %q: label %q: use letters, digits, '-' and '_'", name, label)
		}
	}
	return nil
}

// dnsA is the Discoverer returned by DNS.
type dnsA struct {
	name string
	port int
	cfg  dnsConfig
}

// DNS returns a Discoverer that looks up name's A records (AAAA records
// with DNSIPv6, both with DNSDualStack) and returns each address joined with
// port. It is gen_cluster's dns discovery; pointed at a Kubernetes headless
// Service ("svc.ns.svc.cluster.local") it returns the ready pods.
//
// DNS talks to the DNS servers itself, with github.com/miekg/dns: it does
// not use net.Resolver, the OS resolver or any cache, so every Discover
// asks anew and sees a changed zone at once, whatever the records' TTLs. By
// default the servers, search domains and ndots come from /etc/resolv.conf;
// see the DNSOptions. Before asking them, it reads /etc/hosts as Go's
// resolver does: a name listed there ("localhost") is answered from the
// file, and DNS is not asked (DNSHostsFile reads another file; with
// DNSResolver the hosts file is not read). A truncated UDP answer is asked again over TCP, and
// CNAMEs are followed. Errors are *DNSError values wrapping one of the Err
// sentinels (ErrNXDomain, ErrNoRecords, ...).
//
// Its spec strings are "dns+name:port", "dns6+name:port" (DNSIPv6) and
// "dns46+name:port" (DNSDualStack).
func DNS(name string, port int, opts ...DNSOption) Discoverer {
	return &dnsA{name: name, port: port, cfg: newDNSConfig(opts)}
}

// Validate checks the name, the port, the resolver address, the timeout,
// and that every option applies to DNS (see DNSOption).
func (d *dnsA) Validate() error {
	var errs []error
	if err := checkDomainName(d.name); err != nil {
		errs = append(errs, err)
	}
	if d.port < 1 || d.port > 65535 {
		errs = append(errs, fmt.Errorf("dns port %d: want a number from 1 to 65535", d.port))
	}
	if err := d.cfg.validate(forDNS); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// String returns the spec string: "dns+name:port", "dns6+name:port" or
// "dns46+name:port". Resolver and timeout options are not shown.
func (d *dnsA) String() string {
	scheme := "dns"
	switch {
	case d.cfg.dual:
		scheme = "dns46"
	case d.cfg.ipv6:
		scheme = "dns6"
	}
	return scheme + "+" + d.name + ":" + strconv.Itoa(d.port)
}

// Discover looks the name up and returns "ip:port" addresses, IPv4 ones
// first, each family sorted.
func (d *dnsA) Discover(ctx context.Context) ([]string, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	ips, fromHosts, err := d.fromHostsFile()
	if !fromHosts {
		var l *lookup
		if l, err = newLookup(&d.cfg); err != nil {
			return nil, err
		}
		ips, err = l.addrs(ctx, d.name, d.cfg.qtypes())
	}
	var out []string
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip.String(), strconv.Itoa(d.port)))
	}
	return out, err
}

// dnsSRV is the Discoverer returned by SRV.
type dnsSRV struct {
	name string
	cfg  dnsConfig
}

// SRV returns a Discoverer that looks up name's SRV records (name is
// usually "_service._proto.domain", for example
// "_gossip._tcp.svc.ns.svc.cluster.local") and returns each record's
// target with the record's port. Targets are resolved to IP addresses (A
// records; AAAA with DNSIPv6; both with DNSDualStack), taken from the answer's
// additional section when the server filled it and asked for otherwise.
// With SRVHostNames the targets are returned as host names instead. Records
// are ordered by priority, then weight (heaviest first); a target of "."
// (service not available) is skipped.
//
// It talks to the DNS servers as DNS does. Its spec strings are
// "dnssrv+name" (targets resolved) and "dnssrvhost+name" (SRVHostNames).
func SRV(name string, opts ...DNSOption) Discoverer {
	return &dnsSRV{name: name, cfg: newDNSConfig(opts)}
}

// Validate checks the name, the resolver address, the timeout, and that
// every option applies to SRV (see DNSOption).
func (d *dnsSRV) Validate() error {
	var errs []error
	if err := checkDomainName(d.name); err != nil {
		errs = append(errs, err)
	}
	backend := forSRV
	if d.cfg.hostNames {
		backend = forSRVHosts
	}
	if err := d.cfg.validate(backend); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// String returns the spec string: "dnssrv+name", or "dnssrvhost+name" with
// SRVHostNames. Other options are not shown.
func (d *dnsSRV) String() string {
	if d.cfg.hostNames {
		return "dnssrvhost+" + d.name
	}
	return "dnssrv+" + d.name
}

// Discover looks the SRV records up and returns "host:port" addresses.
// Addresses found are returned even when some targets failed to resolve;
// the error then names those.
func (d *dnsSRV) Discover(ctx context.Context) ([]string, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	l, err := newLookup(&d.cfg)
	if err != nil {
		return nil, err
	}
	srvs, extra, err := l.srv(ctx, d.name)
	if len(srvs) == 0 {
		return nil, err
	}
	errs := []error{err}
	var out []string
	seen := make(map[string]bool)
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, r := range srvs {
		port := strconv.Itoa(int(r.Port))
		if d.cfg.hostNames {
			add(net.JoinHostPort(strings.TrimSuffix(r.Target, "."), port))
			continue
		}
		ips := addrsFromSection(extra, r.Target, d.cfg.qtypes())
		if len(ips) == 0 {
			var err error
			ips, err = l.addrs(ctx, dns.Fqdn(r.Target), d.cfg.qtypes())
			errs = append(errs, err)
		}
		for _, ip := range ips {
			add(net.JoinHostPort(ip.String(), port))
		}
	}
	return out, errors.Join(errs...)
}

// sortSRV orders records by priority, then weight (heaviest first), then
// target and port, so that answers in any order give the same list.
func sortSRV(srvs []*dns.SRV) {
	slices.SortStableFunc(srvs, func(a, b *dns.SRV) int {
		return cmp.Or(
			cmp.Compare(a.Priority, b.Priority),
			cmp.Compare(b.Weight, a.Weight),
			strings.Compare(strings.ToLower(a.Target), strings.ToLower(b.Target)),
			cmp.Compare(a.Port, b.Port),
		)
	})
}

// parseDNSText reads "name:port" for the dns, dns6 and dns46 schemes.
func parseDNSText(text string, opts ...DNSOption) (Discoverer, error) {
	i := strings.LastIndexByte(text, ':')
	if i < 0 {
		return nil, fmt.Errorf("%q: want name:port", text)
	}
	port, err := backendkit.ParsePort(text[i+1:])
	if err != nil {
		return nil, fmt.Errorf("%q: %w", text, err)
	}
	return DNS(text[:i], port, opts...), nil
}

func parseDNS(text string) (Discoverer, error)   { return parseDNSText(text) }
func parseDNS6(text string) (Discoverer, error)  { return parseDNSText(text, DNSIPv6()) }
func parseDNS46(text string) (Discoverer, error) { return parseDNSText(text, DNSDualStack()) }

// parseSRVText reads "_service._proto.name" for dnssrv and dnssrvhost.
func parseSRVText(text string, opts ...DNSOption) (Discoverer, error) {
	if strings.Contains(text, ":") {
		return nil, fmt.Errorf("%q: an SRV name has no port (the records give it)", text)
	}
	return SRV(text, opts...), nil
}

func parseSRV(text string) (Discoverer, error)     { return parseSRVText(text) }
func parseSRVHost(text string) (Discoverer, error) { return parseSRVText(text, SRVHostNames()) }

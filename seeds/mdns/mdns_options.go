package mdns

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gencluster/gencluster/seeds"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// Option configures the backend New returns.
type Option func(*mdnsDiscovery)

// Domain sets the mDNS domain; the default is DefaultDomain.
func Domain(domain string) Option {
	return func(m *mdnsDiscovery) { m.domain = strings.TrimSuffix(domain, ".") }
}

// Interface answers queries on the named network interface, such as
// "eth0", and sends this node's queries from it; by default the system
// picks the interface its routing table gives for the mDNS group. (The
// library's query sockets listen for multicast answers on the routing
// table's interface in either case.)
func Interface(name string) Option {
	return func(m *mdnsDiscovery) { m.iface = name }
}

// Instance sets the DNS-SD instance name this node announces (letters,
// digits, '-' and '_', at most 63); it must be unique on the network. The
// default is "gencluster-" followed by the advertised address, such as
// "gencluster-10-0-0-5-7946".
func Instance(name string) Option {
	return func(m *mdnsDiscovery) { m.instance = name }
}

// BrowseInterval sets how often the service is browsed; the default
// is DefaultBrowseInterval. Each wait is jittered by ±20%.
func BrowseInterval(d time.Duration) Option {
	return func(m *mdnsDiscovery) { m.interval = d }
}

// QueryTimeout sets how long one browse waits for answers; the
// default is DefaultQueryTimeout. It must be shorter than the browse
// interval.
func QueryTimeout(d time.Duration) Option {
	return func(m *mdnsDiscovery) { m.timeout = d }
}

// PeerTTL sets how long a peer is returned after it last answered;
// the default is three browse intervals.
func PeerTTL(d time.Duration) Option {
	return func(m *mdnsDiscovery) { m.peerTTL = d }
}

// Logger receives the mDNS library's messages, at debug level; by
// default they are discarded.
func Logger(l *slog.Logger) Option {
	return func(m *mdnsDiscovery) { m.logger = l }
}

// Validate checks the configuration.
func (m *mdnsDiscovery) Validate() error {
	errs := backendkit.NilOptionErrors("mdns", m.nilOpts)
	if err := checkServiceType(m.service); err != nil {
		errs = append(errs, err)
	}
	if err := checkDNSLabels(m.domain); err != nil {
		errs = append(errs, fmt.Errorf("mdns: domain %q: %w", m.domain, err))
	}
	if m.instance != "" {
		if err := checkInstance(m.instance); err != nil {
			errs = append(errs, err)
		}
	}
	if m.timeout <= 0 {
		errs = append(errs, fmt.Errorf("mdns: query timeout %v: must be positive", m.timeout))
	}
	if m.interval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("mdns: browse interval %v: want at least 10ms", m.interval))
	} else if m.timeout >= m.interval {
		errs = append(errs, fmt.Errorf("mdns: query timeout %v: want less than the browse interval %v", m.timeout, m.interval))
	}
	if m.peerTTL < m.interval {
		errs = append(errs, fmt.Errorf("mdns: peer TTL %v is shorter than the browse interval %v", m.peerTTL, m.interval))
	}
	return errors.Join(errs...)
}

// checkServiceType checks "_name._udp" (RFC 6763 section 7, RFC 6335
// section 5.1).
func checkServiceType(s string) error {
	name, proto, ok := strings.Cut(s, ".")
	bad := func(why string) error {
		return fmt.Errorf("mdns: service %q: %s (want _name._udp or _name._tcp)", s, why)
	}
	if !ok || (proto != "_udp" && proto != "_tcp") {
		return bad("the protocol label is not _udp or _tcp")
	}
	n, ok := strings.CutPrefix(name, "_")
	if !ok || n == "" || len(n) > 15 {
		return bad("the name is not '_' and 1 to 15 characters")
	}
	if n[0] == '-' || n[len(n)-1] == '-' || strings.Contains(n, "--") || strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return bad("the name may hold letters, digits and single inner '-' only")
	}
	return nil
}

func checkInstance(s string) error {
	if s == "" || len(s) > 63 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return fmt.Errorf("mdns: instance %q: want 1 to 63 letters, digits, '-' and '_'", s)
	}
	return nil
}

func checkDNSLabels(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return fmt.Errorf("label %q: want 1 to 63 letters, digits, '-' and '_'", l)
		}
	}
	return nil
}

// parseMDNS reads "_service._udp[?domain=&iface=&instance=&interval=&timeout=&peer-ttl=]".
func parseMDNS(text string) (seeds.Discoverer, error) {
	service, query, _ := strings.Cut(text, "?")
	q, err := parseMDNSQuery(text, query)
	if err != nil {
		return nil, err
	}
	var opts []Option
	for key, v := range q {
		switch key {
		case "domain":
			opts = append(opts, Domain(v))
		case "iface":
			opts = append(opts, Interface(v))
		case "instance":
			opts = append(opts, Instance(v))
		case "interval", "timeout", "peer-ttl":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("mdns %q: %s: %w", text, key, err)
			}
			switch key {
			case "interval":
				opts = append(opts, BrowseInterval(d))
			case "timeout":
				opts = append(opts, QueryTimeout(d))
			default:
				opts = append(opts, PeerTTL(d))
			}
		default:
			return nil, fmt.Errorf("mdns %q: unknown option %q (known: domain, iface, instance, interval, timeout, peer-ttl)", text, key)
		}
	}
	return New(service, opts...), nil
}

// parseMDNSQuery reads the spec's options, each given once.
func parseMDNSQuery(text, query string) (map[string]string, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("mdns %q: bad options: %w", text, err)
	}
	out := make(map[string]string, len(q))
	for key, vals := range q {
		if len(vals) != 1 {
			return nil, fmt.Errorf("mdns %q: option %s given %d times", text, key, len(vals))
		}
		out[key] = vals[0]
	}
	return out, nil
}

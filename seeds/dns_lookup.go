package seeds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxCNAME bounds the length of a CNAME chain.
const maxCNAME = 8

// lookup asks a fixed list of servers, expanding names with the search
// list. One is made per Discover call.
type lookup struct {
	servers []string
	names   func(string) []string // candidate fully qualified names
	timeout time.Duration
}

func newLookup(c *dnsConfig) (*lookup, error) {
	l := &lookup{timeout: c.timeout}
	if c.resolver != "" {
		l.servers = []string{c.resolver}
		l.names = func(n string) []string { return []string{dns.Fqdn(n)} }
		return l, nil
	}
	path := c.resolvConf
	if path == "" {
		path = DefaultResolvConf
	}
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("dns: read resolver config: %w", err)
	}
	for _, s := range cc.Servers {
		if _, _, err := net.SplitHostPort(s); err == nil {
			l.servers = append(l.servers, s)
		} else {
			l.servers = append(l.servers, net.JoinHostPort(s, cc.Port))
		}
	}
	if len(l.servers) == 0 {
		return nil, fmt.Errorf("dns: resolver config %s: no nameserver", path)
	}
	l.names = cc.NameList
	return l, nil
}

// addrs resolves name to addresses of the given record types (A, AAAA)
// with the search list. With both types, a type that has no records is not
// an error when the other has some.
func (l *lookup) addrs(ctx context.Context, name string, qtypes []uint16) ([]netip.Addr, error) {
	var (
		out  []netip.Addr
		errs []error
	)
	for _, qt := range qtypes {
		ips, err := l.search(ctx, name, qt)
		out = append(out, ips...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(out) > 0 && len(qtypes) > 1 {
		errs = slices.DeleteFunc(errs, func(err error) bool {
			return isNotFound(err)
		})
	}
	return out, errors.Join(errs...)
}

// isNotFound reports whether every error in err's tree that is a DNS
// sentinel is ErrNXDomain or ErrNoRecords.
func isNotFound(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, isDNS := err.(*DNSError); !isDNS {
			for _, e := range j.Unwrap() {
				if !isNotFound(e) {
					return false
				}
			}
			return true
		}
	}
	return errors.Is(err, ErrNXDomain) || errors.Is(err, ErrNoRecords)
}

// search tries each candidate name of the search list in turn and returns
// the first one's addresses; when none has any it returns every
// candidate's error.
func (l *lookup) search(ctx context.Context, name string, qtype uint16) ([]netip.Addr, error) {
	var errs []error
	for _, cand := range l.names(name) {
		ips, err := l.resolve(ctx, cand, qtype, 0)
		if len(ips) > 0 {
			return ips, err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// resolve asks for fqdn's records of qtype, following a CNAME chain that
// the answer leaves dangling. Addresses are sorted and de-duplicated.
func (l *lookup) resolve(ctx context.Context, fqdn string, qtype uint16, depth int) ([]netip.Addr, error) {
	msg, server, err := l.query(ctx, fqdn, qtype)
	if err != nil {
		return nil, err
	}
	ips, alias, bad := addrsFromAnswer(msg.Answer, fqdn, qtype)
	if len(ips) == 0 && len(bad) == 0 && !strings.EqualFold(alias, fqdn) && depth < maxCNAME {
		return l.resolve(ctx, alias, qtype, depth+1)
	}
	if len(bad) > 0 {
		err = &DNSError{Name: fqdn, Qtype: dns.TypeToString[qtype], Server: server, Err: ErrMalformed,
			Cause: fmt.Errorf("bad records: %s", strings.Join(bad, "; "))}
	} else if len(ips) == 0 {
		err = &DNSError{Name: fqdn, Qtype: dns.TypeToString[qtype], Server: server, Err: ErrNoRecords}
		if !strings.EqualFold(alias, fqdn) {
			err.(*DNSError).Cause = fmt.Errorf("CNAME chain ends at %q", alias)
		}
	}
	return ips, err
}

// srv looks up name's SRV records with the search list and returns them
// sorted, with the answer's additional section.
func (l *lookup) srv(ctx context.Context, name string) ([]*dns.SRV, []dns.RR, error) {
	var errs []error
	for _, cand := range l.names(name) {
		srvs, extra, err := l.srvOne(ctx, cand, 0)
		if len(srvs) > 0 {
			return srvs, extra, err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, errors.Join(errs...)
}

func (l *lookup) srvOne(ctx context.Context, fqdn string, depth int) ([]*dns.SRV, []dns.RR, error) {
	msg, server, err := l.query(ctx, fqdn, dns.TypeSRV)
	if err != nil {
		return nil, nil, err
	}
	srvs, alias, bad, unavailable := srvsFromAnswer(msg.Answer, fqdn)
	if len(srvs) == 0 && len(bad) == 0 && unavailable == 0 && !strings.EqualFold(alias, fqdn) && depth < maxCNAME {
		return l.srvOne(ctx, alias, depth+1)
	}
	if len(bad) > 0 {
		err = &DNSError{Name: fqdn, Qtype: "SRV", Server: server, Err: ErrMalformed,
			Cause: fmt.Errorf("bad records: %s", strings.Join(bad, "; "))}
	} else if len(srvs) == 0 {
		e := &DNSError{Name: fqdn, Qtype: "SRV", Server: server, Err: ErrNoRecords}
		if unavailable > 0 {
			e.Cause = errors.New(`the target is "." (service not available)`)
		}
		err = e
	}
	return srvs, msg.Extra, err
}

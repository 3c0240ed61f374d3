package seeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The errors of DNS and SRV. Discover returns them wrapped in a *DNSError
// (and several of those joined when several names or targets failed), so
// test for them with errors.Is.
var (
	// ErrNXDomain: the name does not exist (rcode NXDOMAIN).
	ErrNXDomain = errors.New("no such name (NXDOMAIN)")
	// ErrServFail: the server failed to answer (rcode SERVFAIL).
	ErrServFail = errors.New("server failure (SERVFAIL)")
	// ErrRcode: the server answered with another error rcode, such as
	// REFUSED or NOTIMP; the DNSError's message names it.
	ErrRcode = errors.New("error rcode")
	// ErrTimeout: no answer came before the timeout or the context
	// deadline.
	ErrTimeout = errors.New("timed out")
	// ErrNoRecords: the name exists but has no records of the type asked
	// (an empty answer, NODATA), or every SRV target was ".".
	ErrNoRecords = errors.New("no records")
	// ErrMalformed: the answer could not be parsed, or did not match the
	// query (message ID, question name, type or class), or held a bad
	// record (such as an SRV record with port 0 or an address of 0.0.0.0).
	ErrMalformed = errors.New("malformed answer")
	// ErrNetwork: the query could not be sent or the answer read, for
	// example because the server refused the connection.
	ErrNetwork = errors.New("network error")
)

// DNSError describes a failed DNS query of DNS or SRV.
type DNSError struct {
	Name   string // the name asked, fully qualified
	Qtype  string // the record type asked: "A", "AAAA" or "SRV"
	Server string // the server asked, host:port
	// Err is one of the sentinels ErrNXDomain, ErrServFail, ErrRcode,
	// ErrTimeout, ErrNoRecords, ErrMalformed or ErrNetwork, or the
	// context's error when Discover's context was cancelled.
	Err error
	// Cause is the underlying error, when there is one: the network error,
	// the parse error, or a description of the mismatch or rcode.
	Cause error
}

// Error returns, for example,
// `dns A "web.example." at 10.0.0.2:53: no such name (NXDOMAIN)`.
func (e *DNSError) Error() string {
	s := fmt.Sprintf("dns %s %q at %s: %v", e.Qtype, e.Name, e.Server, e.Err)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns Err and Cause, so that errors.Is matches the sentinel and
// whatever Cause wraps (such as context.DeadlineExceeded).
func (e *DNSError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// udpSize is the EDNS0 UDP payload size we advertise: the DNS Flag Day
// 2020 value, which avoids IP fragmentation.
const udpSize = 1232

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

// query asks the servers in turn for fqdn's records of qtype and returns
// the first checked answer and the server that gave it. NXDOMAIN is final;
// other failures move on to the next server.
func (l *lookup) query(ctx context.Context, fqdn string, qtype uint16) (*dns.Msg, string, error) {
	var errs []error
	for _, server := range l.servers {
		msg, err := l.exchange(ctx, server, fqdn, qtype)
		if err == nil {
			return msg, server, nil
		}
		errs = append(errs, err)
		if errors.Is(err, ErrNXDomain) || ctx.Err() != nil {
			break
		}
	}
	return nil, "", errors.Join(errs...)
}

// exchange asks one server over UDP, and again over TCP when the UDP
// answer is truncated.
func (l *lookup) exchange(ctx context.Context, server, fqdn string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(fqdn, qtype)
	q.RecursionDesired = true
	q.SetEdns0(udpSize, false)
	msg, err := l.roundTrip(ctx, "udp", server, q)
	if err == nil && msg.Truncated {
		q.Id = dns.Id()
		msg, err = l.roundTrip(ctx, "tcp", server, q)
	}
	return msg, err
}

// roundTrip sends q to server over network and returns the checked
// answer, or a *DNSError. Every query has a socket of its own, so an answer
// with another message ID cannot be a late answer to an earlier query: it
// is reported as ErrMalformed at once rather than waited past (unlike
// miekg/dns's Client, which skips such UDP answers until it times out).
func (l *lookup) roundTrip(ctx context.Context, network, server string, q *dns.Msg) (*dns.Msg, error) {
	qs := q.Question[0]
	fail := func(sentinel, cause error) error {
		return &DNSError{Name: qs.Name, Qtype: dns.TypeToString[qs.Qtype], Server: server, Err: sentinel, Cause: cause}
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(ctxSentinel(err), err)
	}
	deadline := time.Now().Add(l.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var dialer net.Dialer
	c, err := dialer.DialContext(dctx, network, server)
	if err != nil {
		return nil, fail(netSentinel(ctx, err), err)
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return nil, fail(ErrNetwork, err)
	}
	// Cancelling ctx (without a deadline) unblocks the read.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	co := &dns.Conn{Conn: c, UDPSize: udpSize}
	if err := co.WriteMsg(q); err != nil {
		return nil, fail(netSentinel(ctx, err), err)
	}
	raw, err := co.ReadMsgHeader(nil)
	if err != nil {
		if errors.Is(err, dns.ErrShortRead) {
			return nil, fail(ErrMalformed, err)
		}
		return nil, fail(netSentinel(ctx, err), err)
	}
	msg, sentinel, cause := checkAnswer(raw, q)
	if sentinel != nil {
		return nil, fail(sentinel, cause)
	}
	return msg, nil
}

func ctxSentinel(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	return err
}

// netSentinel classifies a network error.
func netSentinel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxSentinel(ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrTimeout
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrMalformed
	}
	return ErrNetwork
}

// checkAnswer parses raw as the answer to q and checks that it is one: a
// response with q's ID, q's question, and a success rcode. On failure it
// returns the sentinel and a cause. A truncated answer is returned as is.
func checkAnswer(raw []byte, q *dns.Msg) (msg *dns.Msg, sentinel, cause error) {
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		return nil, ErrMalformed, err
	}
	if r.Id != q.Id {
		return nil, ErrMalformed, fmt.Errorf("answer ID %d, want %d", r.Id, q.Id)
	}
	if !r.Response {
		return nil, ErrMalformed, errors.New("not a response (QR bit clear)")
	}
	if r.Opcode != dns.OpcodeQuery {
		return nil, ErrMalformed, fmt.Errorf("opcode %s, want QUERY", dns.OpcodeToString[r.Opcode])
	}
	// Some servers leave the question out of error answers; any question
	// present must be ours.
	if len(r.Question) != 0 || r.Rcode == dns.RcodeSuccess {
		want := q.Question[0]
		if len(r.Question) != 1 {
			return nil, ErrMalformed, fmt.Errorf("%d questions in the answer, want 1", len(r.Question))
		}
		got := r.Question[0]
		if !strings.EqualFold(got.Name, want.Name) {
			return nil, ErrMalformed, fmt.Errorf("answer is for name %q", got.Name)
		}
		if got.Qtype != want.Qtype {
			return nil, ErrMalformed, fmt.Errorf("answer is for type %s", typeString(got.Qtype))
		}
		if got.Qclass != want.Qclass {
			return nil, ErrMalformed, fmt.Errorf("answer is for class %s", dns.Class(got.Qclass))
		}
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
		return r, nil, nil
	case dns.RcodeNameError:
		return nil, ErrNXDomain, nil
	case dns.RcodeServerFailure:
		return nil, ErrServFail, nil
	}
	name := dns.RcodeToString[r.Rcode]
	if name == "" {
		name = fmt.Sprint(r.Rcode)
	}
	return nil, ErrRcode, fmt.Errorf("rcode %s", name)
}

func typeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

// chase follows the CNAME chain from name through rrs and returns the
// records of qtype owned by the name it ends at, and that name.
func chase(rrs []dns.RR, name string, qtype uint16) ([]dns.RR, string) {
	for range maxCNAME + 1 {
		var found []dns.RR
		next := ""
		for _, rr := range rrs {
			h := rr.Header()
			if !strings.EqualFold(h.Name, name) {
				continue
			}
			switch {
			case h.Rrtype == qtype:
				found = append(found, rr)
			case h.Rrtype == dns.TypeCNAME && next == "":
				next = rr.(*dns.CNAME).Target
			}
		}
		if len(found) > 0 || next == "" {
			return found, name
		}
		name = next
	}
	return nil, name
}

// addrsFromAnswer returns the addresses of name's records of qtype (A or
// AAAA) in rrs, sorted and de-duplicated, the name the CNAME chain ends at,
// and descriptions of bad records.
func addrsFromAnswer(rrs []dns.RR, name string, qtype uint16) (ips []netip.Addr, alias string, bad []string) {
	found, alias := chase(rrs, name, qtype)
	for _, rr := range found {
		var raw net.IP
		switch v := rr.(type) {
		case *dns.A:
			raw = v.A
		case *dns.AAAA:
			raw = v.AAAA
		}
		ip, ok := netip.AddrFromSlice(raw)
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s: no address", rr.Header().Name))
			continue
		case qtype == dns.TypeA && len(raw) != net.IPv4len && !ip.Is4In6():
			bad = append(bad, fmt.Sprintf("%s: A record holds %s", rr.Header().Name, ip))
			continue
		}
		if qtype == dns.TypeA {
			ip = ip.Unmap()
		}
		if ip.IsUnspecified() || (qtype == dns.TypeAAAA && ip.Is4In6()) {
			bad = append(bad, fmt.Sprintf("%s: address %s", rr.Header().Name, ip))
			continue
		}
		ips = append(ips, ip)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	return slices.Compact(ips), alias, bad
}

// addrsFromSection returns the addresses of target's records of the given
// types found in rrs (an additional section).
func addrsFromSection(rrs []dns.RR, target string, qtypes []uint16) []netip.Addr {
	var out []netip.Addr
	for _, qt := range qtypes {
		ips, _, _ := addrsFromAnswer(rrs, target, qt)
		out = append(out, ips...)
	}
	return out
}

// srvsFromAnswer returns name's SRV records in rrs, sorted, skipping
// targets of "." (counted in unavailable), the name the CNAME chain ends
// at, and descriptions of bad records.
func srvsFromAnswer(rrs []dns.RR, name string) (srvs []*dns.SRV, alias string, bad []string, unavailable int) {
	found, alias := chase(rrs, name, dns.TypeSRV)
	for _, rr := range found {
		s, ok := rr.(*dns.SRV)
		switch {
		case !ok:
			continue
		case s.Target == ".":
			unavailable++
		case s.Port == 0:
			bad = append(bad, fmt.Sprintf("%s: SRV %s has port 0", s.Hdr.Name, s.Target))
		case checkDomainName(s.Target) != nil:
			bad = append(bad, fmt.Sprintf("%s: SRV target %q is not a host name", s.Hdr.Name, s.Target))
		default:
			srvs = append(srvs, s)
		}
	}
	sortSRV(srvs)
	return srvs, alias, bad, unavailable
}

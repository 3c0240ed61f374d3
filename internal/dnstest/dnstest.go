// Package dnstest runs a small authoritative DNS server on 127.0.0.1 for
// tests, built on github.com/miekg/dns's server. It answers over UDP and
// TCP on the same random port, holds an in-memory zone that tests change
// while the server runs (changes are seen by the very next query), and can
// be told to misbehave for a name: NXDOMAIN, SERVFAIL, REFUSED, no answer
// at all, truncated UDP answers, unparsable bytes, a wrong message ID, or a
// wrong question in the answer.
//
// A Server is safe for concurrent use: in-process cluster tests change the
// zone from several goroutines while nodes query it.
package dnstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL, in seconds, of records whose name has no SetTTL.
const DefaultTTL = 60

// Fault makes the server misbehave for one name (see SetFault).
type Fault int

// The faults a Server can inject.
const (
	// None answers normally; SetFault(name, None) clears a fault.
	None Fault = iota
	// NXDomain answers with rcode NXDOMAIN.
	NXDomain
	// ServFail answers with rcode SERVFAIL.
	ServFail
	// Refused answers with rcode REFUSED.
	Refused
	// Drop sends no answer, so the client times out.
	Drop
	// Truncate answers UDP queries with the TC bit set and no records;
	// TCP queries get the full answer.
	Truncate
	// Garbage answers with bytes that do not parse as a DNS message (the
	// message ID is right, so a client cannot discard it as stray).
	Garbage
	// WrongID answers with a message ID that differs from the query's.
	WrongID
	// WrongType answers with a question of another type than asked.
	WrongType
	// WrongName answers with a question for another name than asked.
	WrongName
)

var faultNames = [...]string{"None", "NXDomain", "ServFail", "Refused", "Drop", "Truncate", "Garbage", "WrongID", "WrongType", "WrongName"}

// String returns the fault's name.
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// SRV is one SRV record of SetSRV.
type SRV struct {
	Target   string
	Port     uint16
	Priority uint16
	Weight   uint16
}

// Query is one query the server received.
type Query struct {
	Name  string // lower-case, fully qualified
	Qtype uint16 // dns.TypeA, ...
	Net   string // "udp" or "tcp"
}

// String returns "name TYPE net".
func (q Query) String() string {
	return q.Name + " " + dns.TypeToString[q.Qtype] + " " + q.Net
}

type node struct {
	a, aaaa []net.IP
	srv     []SRV
	cname   string
}

func (n *node) empty() bool {
	return len(n.a) == 0 && len(n.aaaa) == 0 && len(n.srv) == 0 && n.cname == ""
}

// Server is a running DNS server. Make one with Start or New.
type Server struct {
	udp, tcp *dns.Server
	addr     string
	wg       sync.WaitGroup
	errorf   func(format string, args ...any)

	mu         sync.Mutex
	zone       map[string]*node
	faults     map[string]Fault
	ttls       map[string]uint32
	additional bool
	queries    []Query
	changed    chan struct{} // closed and replaced on every query
	closed     bool
}

// Start starts a Server and stops it when t's test ends. Bad arguments to
// the Set methods are reported with t.Errorf.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	s.errorf = t.Errorf
	t.Cleanup(s.Close)
	return s
}

// New starts a Server that runs until Close. Bad arguments to the Set
// methods panic. Tests should prefer Start.
func New() (*Server, error) {
	s := &Server{
		zone:    make(map[string]*node),
		faults:  make(map[string]Fault),
		ttls:    make(map[string]uint32),
		changed: make(chan struct{}),
		errorf:  func(format string, args ...any) { panic(fmt.Sprintf(format, args...)) },
	}
	pc, l, err := listen()
	if err != nil {
		return nil, err
	}
	s.addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s, Net: "udp"}
	s.tcp = &dns.Server{Listener: l, Handler: s, Net: "tcp"}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan error, 1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			done <- srv.ActivateAndServe()
		}()
		select {
		case <-started:
		case err := <-done:
			s.Close()
			return nil, fmt.Errorf("serve %s: %v", srv.Net, err)
		}
	}
	return s, nil
}

// listen opens UDP and TCP on the same random port of 127.0.0.1.
func listen() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("no free UDP+TCP port pair on 127.0.0.1: %v", lastErr)
}

// Close stops the server and waits for its goroutines. It is safe to call
// more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if srv != nil {
			srv.Shutdown() // an error means it never started; nothing to stop.
		}
	}
	s.wg.Wait()
}

// Addr returns the "127.0.0.1:port" the server answers on, over UDP and
// TCP.
func (s *Server) Addr() string { return s.addr }

// ResolvConf writes a resolv.conf file that names this server (as
// "nameserver 127.0.0.1:port", which miekg/dns's parser accepts) with the
// given ndots and search domains, and returns its path. The file is removed
// when t's test ends.
func (s *Server) ResolvConf(t testing.TB, ndots int, search ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "# written by dnstest\nnameserver %s\n", s.addr)
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	fmt.Fprintf(&b, "options ndots:%d\n", ndots)
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return path
}

func canon(name string) string { return dns.CanonicalName(name) }

func (s *Server) parseIPs(name string, v6 bool, ips []string) []net.IP {
	out := make([]net.IP, 0, len(ips))
	for _, a := range ips {
		ip := net.ParseIP(a)
		if ip == nil || (ip.To4() != nil) == v6 {
			s.errorf("dnstest: %s: bad IPv%s address %q", name, map[bool]string{false: "4", true: "6"}[v6], a)
			continue
		}
		out = append(out, ip)
	}
	return out
}

// node returns name's node, creating it; s.mu must be held.
func (s *Server) node(name string) *node {
	n := s.zone[name]
	if n == nil {
		n = &node{}
		s.zone[name] = n
	}
	return n
}

// prune drops name's node when it holds nothing; s.mu must be held.
func (s *Server) prune(name string) {
	if n := s.zone[name]; n != nil && n.empty() {
		delete(s.zone, name)
	}
}

// SetA replaces name's A records with ips (IPv4 literals). No ips removes
// them; a name with no records left answers NXDOMAIN.
func (s *Server) SetA(name string, ips ...string) {
	name = canon(name)
	v := s.parseIPs(name, false, ips)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.node(name).a = v
	s.prune(name)
}

// AddA adds A records to name.
func (s *Server) AddA(name string, ips ...string) {
	name = canon(name)
	v := s.parseIPs(name, false, ips)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.node(name)
	n.a = append(n.a, v...)
	s.prune(name)
}

// RemoveA removes the given A records from name.
func (s *Server) RemoveA(name string, ips ...string) {
	name = canon(name)
	v := s.parseIPs(name, false, ips)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.zone[name]
	if n == nil {
		return
	}
	keep := n.a[:0]
	for _, have := range n.a {
		drop := false
		for _, r := range v {
			drop = drop || have.Equal(r)
		}
		if !drop {
			keep = append(keep, have)
		}
	}
	n.a = keep
	s.prune(name)
}

// SetAAAA replaces name's AAAA records with ips (IPv6 literals).
func (s *Server) SetAAAA(name string, ips ...string) {
	name = canon(name)
	v := s.parseIPs(name, true, ips)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.node(name).aaaa = v
	s.prune(name)
}

// SetSRV replaces name's SRV records. Targets are made fully qualified.
func (s *Server) SetSRV(name string, srv ...SRV) {
	name = canon(name)
	v := make([]SRV, len(srv))
	for i, r := range srv {
		r.Target = canon(r.Target)
		v[i] = r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.node(name).srv = v
	s.prune(name)
}

// SetCNAME makes name an alias of target; an empty target removes it.
func (s *Server) SetCNAME(name, target string) {
	name = canon(name)
	if target != "" {
		target = canon(target)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.node(name).cname = target
	s.prune(name)
}

// Remove deletes every record of name and its TTL. Its fault stays.
func (s *Server) Remove(name string) {
	name = canon(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.zone, name)
	delete(s.ttls, name)
}

// SetTTL sets the TTL of name's records, in whole seconds. It applies to
// the records name has now and those set later, until Remove.
func (s *Server) SetTTL(name string, ttl time.Duration) {
	name = canon(name)
	if ttl < 0 || ttl > (1<<31-1)*time.Second {
		s.errorf("dnstest: %s: bad TTL %v", name, ttl)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttls[name] = uint32(ttl / time.Second)
}

// SetAdditional sets whether SRV answers carry the targets' A and AAAA
// records in the additional section, as most servers do. It is off by
// default.
func (s *Server) SetAdditional(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.additional = on
}

// SetFault makes the server misbehave for queries of name, whatever their
// type. SetFault(name, None) restores normal answers.
func (s *Server) SetFault(name string, f Fault) {
	name = canon(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == None {
		delete(s.faults, name)
	} else {
		s.faults[name] = f
	}
}

// Queries returns the queries received so far, oldest first.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// Count returns how many queries for name and qtype (over UDP and TCP)
// were received. Qtype dns.TypeANY counts every type.
func (s *Server) Count(name string, qtype uint16) int {
	name = canon(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.countLocked(name, qtype)
}

func (s *Server) countLocked(name string, qtype uint16) int {
	n := 0
	for _, q := range s.queries {
		if q.Name == name && (qtype == dns.TypeANY || q.Qtype == qtype) {
			n++
		}
	}
	return n
}

// WaitQueries waits until at least n queries for name and qtype (as for
// Count) have been received, or ctx is done.
func (s *Server) WaitQueries(ctx context.Context, name string, qtype uint16, n int) error {
	name = canon(name)
	for {
		s.mu.Lock()
		got, ch := s.countLocked(name, qtype), s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("dnstest: %d of %d queries for %s %s: %w", got, n, name, dns.TypeToString[qtype], ctx.Err())
		}
	}
}

// ServeDNS answers one query. It implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := canon(q.Name)

	s.mu.Lock()
	s.queries = append(s.queries, Query{Name: name, Qtype: q.Qtype, Net: network})
	close(s.changed)
	s.changed = make(chan struct{})
	fault := s.faults[name]
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if fault == None || fault == Truncate || fault >= WrongID {
		s.answerLocked(m, name, q.Qtype)
	}
	s.mu.Unlock()

	switch fault {
	case NXDomain:
		m.Rcode = dns.RcodeNameError
	case ServFail:
		m.Rcode = dns.RcodeServerFailure
	case Refused:
		m.Rcode = dns.RcodeRefused
	case Drop:
		return
	case Truncate:
		if network == "udp" {
			m.Answer, m.Ns, m.Extra = nil, nil, nil
			m.Truncated = true
		}
	case Garbage:
		// A header claiming one question and five answers, then three
		// bytes: the right ID, and nothing a parser can read.
		b := []byte{byte(req.Id >> 8), byte(req.Id), 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0, 0xff, 0xfe, 0xfd}
		w.Write(b)
		return
	case WrongID:
		m.Id = req.Id + 1
	case WrongType:
		if m.Question[0].Qtype == dns.TypeTXT {
			m.Question[0].Qtype = dns.TypeA
		} else {
			m.Question[0].Qtype = dns.TypeTXT
		}
	case WrongName:
		m.Question[0].Name = "wrong." + name
	}
	if network == "udp" {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// answerLocked fills m with name's records of qtype, following CNAMEs in
// the zone; s.mu must be held.
func (s *Server) answerLocked(m *dns.Msg, name string, qtype uint16) {
	n := s.zone[name]
	if n == nil {
		m.Rcode = dns.RcodeNameError
		return
	}
	seen := map[string]bool{}
	for n != nil && n.cname != "" && qtype != dns.TypeCNAME && !seen[name] {
		seen[name] = true
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: s.hdr(name, dns.TypeCNAME), Target: n.cname})
		name = n.cname
		n = s.zone[name]
	}
	if n == nil {
		return // a dangling alias: the answer holds the CNAME chain only.
	}
	m.Answer = append(m.Answer, s.records(name, qtype)...)
	if qtype == dns.TypeSRV && s.additional {
		for _, r := range n.srv {
			m.Extra = append(m.Extra, s.records(r.Target, dns.TypeA)...)
			m.Extra = append(m.Extra, s.records(r.Target, dns.TypeAAAA)...)
		}
	}
}

// records returns name's own records of qtype; s.mu must be held.
func (s *Server) records(name string, qtype uint16) []dns.RR {
	n := s.zone[name]
	if n == nil {
		return nil
	}
	var out []dns.RR
	switch qtype {
	case dns.TypeA:
		for _, ip := range n.a {
			out = append(out, &dns.A{Hdr: s.hdr(name, qtype), A: ip})
		}
	case dns.TypeAAAA:
		for _, ip := range n.aaaa {
			out = append(out, &dns.AAAA{Hdr: s.hdr(name, qtype), AAAA: ip})
		}
	case dns.TypeSRV:
		for _, r := range n.srv {
			out = append(out, &dns.SRV{Hdr: s.hdr(name, qtype), Priority: r.Priority, Weight: r.Weight, Port: r.Port, Target: r.Target})
		}
	case dns.TypeCNAME:
		if n.cname != "" {
			out = append(out, &dns.CNAME{Hdr: s.hdr(name, qtype), Target: n.cname})
		}
	}
	return out
}

func (s *Server) hdr(name string, qtype uint16) dns.RR_Header {
	ttl, ok := s.ttls[name]
	if !ok {
		ttl = DefaultTTL
	}
	return dns.RR_Header{Name: name, Rrtype: qtype, Class: dns.ClassINET, Ttl: ttl}
}

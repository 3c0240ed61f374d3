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
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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

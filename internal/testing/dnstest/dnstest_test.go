package dnstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ask(t *testing.T, s *Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	r, _, err := c.Exchange(q, s.Addr())
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

func TestRecords(t *testing.T) {
	s := Start(t)
	s.SetA("Web.Test", "127.0.0.2")
	s.SetAAAA("web.test.", "::1")
	s.SetTTL("web.test.", 5*time.Second)
	s.SetCNAME("alias.test.", "web.test.")
	s.SetSRV("_g._tcp.test.", SRV{Target: "web.test", Port: 7946, Priority: 1, Weight: 2})

	for _, network := range []string{"udp", "tcp"} {
		r := ask(t, s, network, "web.test.", dns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.2" || r.Answer[0].Header().Ttl != 5 {
			t.Errorf("%s: A answer %v", network, r.Answer)
		}
	}
	r := ask(t, s, "udp", "alias.test.", dns.TypeAAAA)
	if len(r.Answer) != 2 || r.Answer[0].(*dns.CNAME).Target != "web.test." || r.Answer[1].(*dns.AAAA).AAAA.String() != "::1" {
		t.Errorf("CNAME answer %v", r.Answer)
	}
	if r.Answer[0].Header().Ttl != DefaultTTL {
		t.Errorf("TTL %d, want %d", r.Answer[0].Header().Ttl, DefaultTTL)
	}
	r = ask(t, s, "udp", "_g._tcp.test.", dns.TypeSRV)
	if len(r.Answer) != 1 || len(r.Extra) != 0 {
		t.Errorf("SRV answer %v extra %v", r.Answer, r.Extra)
	}
	s.SetAdditional(true)
	r = ask(t, s, "udp", "_g._tcp.test.", dns.TypeSRV)
	if len(r.Extra) != 2 {
		t.Errorf("SRV extra %v, want A and AAAA", r.Extra)
	}
	if r := ask(t, s, "udp", "web.test.", dns.TypeTXT); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("NODATA answer %v", r)
	}
	s.RemoveA("web.test.", "127.0.0.2")
	s.SetAAAA("web.test.")
	s.SetCNAME("alias.test.", "")
	if r := ask(t, s, "udp", "web.test.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("emptied name: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if s.Count("web.test", dns.TypeANY) != 4 || s.Count("web.test", dns.TypeA) != 3 {
		t.Errorf("queries %v", s.Queries())
	}
}

func TestFaults(t *testing.T) {
	s := Start(t)
	s.SetA("web.test.", "127.0.0.2")
	for _, tc := range []struct {
		f     Fault
		rcode int
	}{{NXDomain, dns.RcodeNameError}, {ServFail, dns.RcodeServerFailure}, {Refused, dns.RcodeRefused}} {
		s.SetFault("web.test.", tc.f)
		if r := ask(t, s, "udp", "web.test.", dns.TypeA); r.Rcode != tc.rcode {
			t.Errorf("%v: rcode %d", tc.f, r.Rcode)
		}
	}
	s.SetFault("web.test.", Truncate)
	if r := ask(t, s, "udp", "web.test.", dns.TypeA); !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("Truncate over UDP: %v", r)
	}
	if r := ask(t, s, "tcp", "web.test.", dns.TypeA); r.Truncated || len(r.Answer) != 1 {
		t.Errorf("Truncate over TCP: %v", r)
	}
	s.SetFault("web.test.", WrongName)
	if r := ask(t, s, "udp", "web.test.", dns.TypeA); r.Question[0].Name != "wrong.web.test." {
		t.Errorf("WrongName: %v", r.Question)
	}
	s.SetFault("web.test.", WrongType)
	if r := ask(t, s, "udp", "web.test.", dns.TypeA); r.Question[0].Qtype != dns.TypeTXT {
		t.Errorf("WrongType: %v", r.Question)
	}
	s.SetFault("web.test.", Garbage)
	c := &dns.Client{Timeout: time.Second}
	q := new(dns.Msg)
	q.SetQuestion("web.test.", dns.TypeA)
	if _, _, err := c.Exchange(q, s.Addr()); err == nil {
		t.Errorf("Garbage parsed")
	}
	s.SetFault("web.test.", Drop)
	c.Timeout = 100 * time.Millisecond
	if _, _, err := c.Exchange(q, s.Addr()); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("Drop: %v", err)
	}
	s.SetFault("web.test.", None)
	ask(t, s, "udp", "web.test.", dns.TypeA)
}

func TestWaitQueriesAndConcurrency(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 20 {
				s.AddA("n.test.", fmt.Sprintf("127.0.%d.%d", i, j+1))
			}
		}()
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: 2 * time.Second}
			for range 5 {
				q := new(dns.Msg)
				q.SetQuestion("n.test.", dns.TypeA)
				if _, _, err := c.Exchange(q, s.Addr()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	if err := s.WaitQueries(ctx, "n.test.", dns.TypeA, 20); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if r := ask(t, s, "tcp", "n.test.", dns.TypeA); len(r.Answer) != 80 {
		t.Errorf("%d records, want 80", len(r.Answer))
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := s.WaitQueries(short, "n.test.", dns.TypeA, 1000); err == nil {
		t.Error("WaitQueries returned nil before enough queries")
	}
}

func TestResolvConf(t *testing.T) {
	s := Start(t)
	s.SetA("web.ns.test.", "127.0.0.2")
	path := s.ResolvConf(t, 2, "ns.test", "test")
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cc.Servers) != 1 || cc.Servers[0] != s.Addr() || cc.Ndots != 2 || strings.Join(cc.Search, ",") != "ns.test,test" {
		t.Fatalf("config %+v", cc)
	}
	if _, _, err := net.SplitHostPort(cc.Servers[0]); err != nil {
		t.Fatal(err)
	}
}

type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestBadArguments(t *testing.T) {
	s := Start(t)
	rec := &recorder{TB: t}
	s.errorf = rec.Errorf
	s.SetA("a.test.", "::1", "nope")
	s.SetAAAA("a.test.", "127.0.0.1")
	s.SetTTL("a.test.", -time.Second)
	if len(rec.errs) != 4 {
		t.Fatalf("errors %q, want 4", rec.errs)
	}
	if Fault(99).String() != "Fault(99)" || Garbage.String() != "Garbage" {
		t.Error("Fault.String")
	}
	s.Close()
	s.Close()
}

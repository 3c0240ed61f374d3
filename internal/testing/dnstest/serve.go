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

	"github.com/miekg/dns"
)

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

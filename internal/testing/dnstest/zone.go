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
	"net"
	"time"

	"github.com/miekg/dns"
)

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

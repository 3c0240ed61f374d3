package seeds

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParse checks that Parse never panics and that what it accepts is
// valid and round-trips through Name.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"static+10.0.0.1:7946,10.0.0.2:7946",
		"dns+web.test:7946",
		"dns6+web.test.:1",
		"dns46+web:65535",
		"dnssrv+_gossip._tcp.web.ns.svc.cluster.local",
		"dnssrvhost+_g._udp.test",
		"dns+web:0",
		"dns+10.0.0.1:1",
		"dnssrv+_a._tcp.x:1",
		"dns+a.test:1 dnssrv+_b._tcp.test static+c:2",
		"exec+printf?arg=%25s&arg=+short&arg=a%20b&port=7946&timeout=2s&column=1",
		"exec+/bin/true?max-output=10&max-lines=1&arg=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		d, err := Parse(spec)
		if err != nil {
			return
		}
		if err := validate(d); err != nil {
			t.Fatalf("Parse(%q) accepted an invalid Discoverer: %v", spec, err)
		}
		n := name(d)
		d2, err := Parse(n)
		if err != nil {
			t.Fatalf("Parse(%q) gave Name %q, which does not parse: %v", spec, n, err)
		}
		if n2 := name(d2); n2 != n {
			t.Fatalf("Parse(%q): Name %q parses to Name %q", spec, n, n2)
		}
	})
}

// fuzzQuery is the query the answers of FuzzDNSAnswer answer.
func fuzzQuery(qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion("web.test.", qtype)
	q.Id = 0x1234
	q.RecursionDesired = true
	q.SetEdns0(udpSize, false)
	return q
}

// handleAnswer runs raw through everything DNS and SRV do with an answer.
func handleAnswer(t *testing.T, raw []byte, q *dns.Msg) {
	msg, sentinel, _ := checkAnswer(raw, q)
	if sentinel != nil {
		if msg != nil {
			t.Fatalf("checkAnswer returned a message and %v", sentinel)
		}
		return
	}
	name := q.Question[0].Name
	switch qt := q.Question[0].Qtype; qt {
	case dns.TypeA, dns.TypeAAAA:
		ips, _, _ := addrsFromAnswer(msg.Answer, name, qt)
		for _, ip := range ips {
			if !ip.IsValid() || ip.IsUnspecified() || (qt == dns.TypeA) != ip.Is4() {
				t.Fatalf("bad %s address %v accepted", dns.TypeToString[qt], ip)
			}
			_ = net.JoinHostPort(ip.String(), "1")
		}
	case dns.TypeSRV:
		srvs, _, _, _ := srvsFromAnswer(msg.Answer, name)
		for _, s := range srvs {
			if s.Port == 0 || s.Target == "." {
				t.Fatalf("bad SRV record %v accepted", s)
			}
			addrsFromSection(msg.Extra, s.Target, []uint16{dns.TypeA, dns.TypeAAAA})
		}
	}
}

// FuzzDNSAnswer feeds arbitrary bytes to the answer handling as the
// answer to an A, AAAA and SRV query: it must never panic nor accept bad
// records.
func FuzzDNSAnswer(f *testing.F) {
	add := func(qtype uint16, build func(m *dns.Msg)) {
		m := new(dns.Msg)
		m.SetReply(fuzzQuery(qtype))
		build(m)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 60}
	}
	add(dns.TypeA, func(m *dns.Msg) {
		m.Answer = []dns.RR{&dns.A{Hdr: hdr("web.test.", dns.TypeA), A: net.IPv4(127, 0, 0, 2)}}
	})
	add(dns.TypeAAAA, func(m *dns.Msg) {
		m.Answer = []dns.RR{
			&dns.CNAME{Hdr: hdr("web.test.", dns.TypeCNAME), Target: "x.test."},
			&dns.AAAA{Hdr: hdr("x.test.", dns.TypeAAAA), AAAA: net.ParseIP("::1")},
		}
	})
	add(dns.TypeSRV, func(m *dns.Msg) {
		m.Answer = []dns.RR{&dns.SRV{Hdr: hdr("web.test.", dns.TypeSRV), Target: "n1.test.", Port: 7946, Priority: 1}}
		m.Extra = []dns.RR{&dns.A{Hdr: hdr("n1.test.", dns.TypeA), A: net.IPv4(127, 0, 0, 3)}}
	})
	add(dns.TypeA, func(m *dns.Msg) { m.Rcode = dns.RcodeNameError })
	add(dns.TypeA, func(m *dns.Msg) { m.Truncated = true })
	f.Add([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0, 0xff})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			q := fuzzQuery(qt)
			handleAnswer(t, raw, q)
			// Again with the right ID, so that the fuzzer gets past
			// the ID check.
			if len(raw) >= 2 {
				b := append([]byte(nil), raw...)
				b[0], b[1] = byte(q.Id>>8), byte(q.Id)
				handleAnswer(t, b, q)
			}
		}
	})
}

package seeds

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

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

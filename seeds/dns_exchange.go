package seeds

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/miekg/dns"
)

// udpSize is the EDNS0 UDP payload size we advertise: the DNS Flag Day
// 2020 value, which avoids IP fragmentation.
const udpSize = 1232

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

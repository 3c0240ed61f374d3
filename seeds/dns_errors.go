package seeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	Server string // the server asked, host:port (or the hosts file that listed Name, see DNS)
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

// ctxSentinel classifies a context's error: a passed deadline is
// ErrTimeout, a cancellation stays itself.
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

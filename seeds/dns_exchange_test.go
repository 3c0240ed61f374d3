package seeds

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dnstest"
	"github.com/miekg/dns"
)

func TestDNSTruncatedAnswerUsesTCP(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetA("web.test.", "127.0.0.2")
	srv.SetFault("web.test.", dnstest.Truncate)
	mustDiscover(t, DNS("web.test", 7946, DNSResolver(srv.Addr())), "127.0.0.2:7946")
	got := srv.Queries()
	want := []dnstest.Query{{Name: "web.test.", Qtype: dns.TypeA, Net: "udp"}, {Name: "web.test.", Qtype: dns.TypeA, Net: "tcp"}}
	if !slices.Equal(got, want) {
		t.Fatalf("queries %v, want %v", got, want)
	}

	// An answer too big for the advertised UDP size is truncated by the
	// server itself.
	var ips, wantAddrs []string
	for i := range 200 {
		ip := fmt.Sprintf("127.0.%d.%d", i/250, 1+i%250)
		ips = append(ips, ip)
	}
	srv.SetA("big.test.", ips...)
	addrs, err := discover(t, DNS("big.test", 80, DNSResolver(srv.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		wantAddrs = append(wantAddrs, ip+":80")
	}
	slices.Sort(wantAddrs)
	slices.Sort(addrs)
	if !slices.Equal(addrs, wantAddrs) {
		t.Fatalf("got %d addresses, want %d", len(addrs), len(wantAddrs))
	}
	if n := srv.Count("big.test.", dns.TypeA); n != 2 {
		t.Fatalf("%d queries for big.test, want UDP then TCP", n)
	}
}

func TestDNSFaults(t *testing.T) {
	srv := dnstest.Start(t)
	for _, tc := range []struct {
		fault    dnstest.Fault
		sentinel error
		text     string
	}{
		{dnstest.NXDomain, ErrNXDomain, "NXDOMAIN"},
		{dnstest.ServFail, ErrServFail, "SERVFAIL"},
		{dnstest.Refused, ErrRcode, "REFUSED"},
		{dnstest.Drop, ErrTimeout, "timed out"},
		{dnstest.Garbage, ErrMalformed, "malformed"},
		{dnstest.WrongID, ErrMalformed, "answer ID"},
		{dnstest.WrongType, ErrMalformed, "answer is for type TXT"},
		{dnstest.WrongName, ErrMalformed, `answer is for name "wrong.web.test."`},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			srv.SetA("web.test.", "127.0.0.2")
			srv.SetFault("web.test.", tc.fault)
			d := DNS("web.test", 7946, DNSResolver(srv.Addr()), DNSTimeout(150*time.Millisecond))
			start := time.Now()
			addrs, err := discover(t, d)
			if addrs != nil {
				t.Errorf("addresses %q with a fault", addrs)
			}
			wantDNSError(t, err, tc.sentinel, "web.test.", "A", srv.Addr())
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestDNSContext(t *testing.T) {
	srv := dnstest.Start(t)
	srv.SetFault("web.test.", dnstest.Drop)
	d := DNS("web.test", 1, DNSResolver(srv.Addr()), DNSTimeout(time.Minute))

	// A context deadline shorter than the timeout wins.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := d.Discover(ctx)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}

	// Cancelling stops a query in flight.
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.Discover(ctx)
		errc <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := srv.WaitQueries(wctx, "web.test.", dns.TypeA, 2); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	case <-wctx.Done():
		t.Fatal("Discover did not return after cancel")
	}
}

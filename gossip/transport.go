package gossip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"
)

// transport is memberlist's NetTransport with dials that end when the
// transport shuts down. memberlist's own dials run to TCPTimeout even after
// Shutdown (its Shutdown does not wait for its goroutines), which would make
// Close block, or leak a goroutine, while a join to a dead peer is pending.
type transport struct {
	*memberlist.NetTransport
	ctx    context.Context
	cancel context.CancelFunc
}

// recorder wraps the transport memberlist uses (the adapter's, or one
// given through Config.Memberlist) and notes when a packet was last sent.
// A probe that memberlist started before Shutdown waits for its ack until
// one probe interval after its ping was sent; Close uses this to wait for
// that goroutine instead of leaking it.
type recorder struct {
	memberlist.Transport
	lastWrite atomic.Int64 // Unix ns
}

// WriteTo sends a packet and notes the time.
func (r *recorder) WriteTo(b []byte, addr string) (time.Time, error) {
	r.lastWrite.Store(time.Now().UnixNano())
	return r.Transport.WriteTo(b, addr)
}

// WriteToAddress sends a packet and notes the time.
func (r *recorder) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	r.lastWrite.Store(time.Now().UnixNano())
	if na, ok := r.Transport.(memberlist.NodeAwareTransport); ok {
		return na.WriteToAddress(b, a)
	}
	return r.Transport.WriteTo(b, a.Addr)
}

// DialAddressTimeout dials through the wrapped transport.
func (r *recorder) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if na, ok := r.Transport.(memberlist.NodeAwareTransport); ok {
		return na.DialAddressTimeout(a, timeout)
	}
	return r.Transport.DialTimeout(a.Addr, timeout)
}

// lastSent returns when the last packet was sent (zero if none).
func (r *recorder) lastSent() time.Time {
	ns := r.lastWrite.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// newTransport binds host:port (port 0 picks a free port, the same for UDP
// and TCP) and returns the transport and the port it bound.
func newTransport(host string, port int, logger *logBridge, labels []metrics.Label) (*transport, int, error) {
	cfg := &memberlist.NetTransportConfig{
		BindAddrs:    []string{host},
		BindPort:     port,
		Logger:       logger.std(),
		MetricLabels: labels,
	}
	// With port 0 the kernel picks a TCP port that may be taken for UDP;
	// memberlist retries the same way.
	tries := 1
	if port == 0 {
		tries = 10
	}
	var (
		nt  *memberlist.NetTransport
		err error
	)
	for range tries {
		if nt, err = memberlist.NewNetTransport(cfg); err == nil {
			break
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("bind %s: %w", net.JoinHostPort(host, fmt.Sprint(port)), err)
	}
	if port == 0 {
		port = nt.GetAutoBindPort()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &transport{NetTransport: nt, ctx: ctx, cancel: cancel}, port, nil
}

// DialTimeout dials addr, giving up at the timeout or at Shutdown.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout dials a.Addr, giving up at the timeout or at Shutdown.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(t.ctx, "tcp", a.Addr)
}

// Shutdown cancels pending dials, then shuts the listeners down.
func (t *transport) Shutdown() error {
	t.cancel()
	return t.NetTransport.Shutdown()
}

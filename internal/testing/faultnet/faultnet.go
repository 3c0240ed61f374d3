// Package faultnet injects network faults between memberlist nodes: it wraps
// each node's memberlist Transport (memberlist.NetTransport, or any
// memberlist.NodeAwareTransport) so that a shared Network can cut the
// traffic between sets of addresses and restore it.
//
// Faults are applied at the sender: a packet to a blocked peer is dropped
// (and reported as sent, as UDP would), and a dial to a blocked peer is
// refused at once. Streams already open are not cut; memberlist's streams
// are short-lived (one push-pull or one fallback probe), so a partition takes
// effect within one exchange. Every node of a test must be wrapped for a
// partition to be symmetric.
//
// It is for tests and benchmarks only.
package faultnet

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrBlocked is returned by dials that the Network refuses.
var ErrBlocked = errors.New("faultnet: blocked")

// Network holds the faults shared by the transports it wraps. The zero
// value is not usable; make one with New. It is safe for concurrent use.
type Network struct {
	mu       sync.RWMutex
	blocked  map[[2]string]bool // ordered pairs from -> to
	isolated map[string]bool    // addresses cut from everyone

	dropped atomic.Int64
	refused atomic.Int64
}

// New returns a Network with no faults.
func New() *Network {
	return &Network{blocked: make(map[[2]string]bool), isolated: make(map[string]bool)}
}

// Partition cuts the traffic, both ways, between every address of a and
// every address of b (host:port, as memberlist advertises them). It adds to
// the faults already set.
func (n *Network) Partition(a, b []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			if x == y {
				continue
			}
			n.blocked[[2]string{x, y}] = true
			n.blocked[[2]string{y, x}] = true
		}
	}
}

// Block cuts the traffic from one address to another, one way only.
func (n *Network) Block(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blocked[[2]string{from, to}] = true
}

// Isolate cuts every address from addr, both ways, as if its machine had
// crashed: nothing it sends arrives, even from goroutines memberlist left
// running after Shutdown (a Join in progress goes on dialling), and
// nothing reaches it.
func (n *Network) Isolate(addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[addr] = true
}

// Heal removes every fault, isolations included.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.blocked)
	clear(n.isolated)
}

// Blocked reports whether traffic from one address to another is cut.
func (n *Network) Blocked(from, to string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.blocked[[2]string{from, to}] || n.isolated[from] || n.isolated[to]
}

// Stats returns how many packets were dropped and dials refused so far.
func (n *Network) Stats() (dropped, refused int64) {
	return n.dropped.Load(), n.refused.Load()
}

// Wrap returns t with the Network's faults applied to what it sends. The
// wrapper learns its own address when memberlist asks for it
// (FinalAdvertiseAddr, during memberlist.Create); until then nothing is
// blocked. A Transport that is not a NodeAwareTransport is adapted.
func (n *Network) Wrap(t memberlist.Transport) *Transport {
	na, ok := t.(memberlist.NodeAwareTransport)
	if !ok {
		na = shim{t}
	}
	return &Transport{inner: na, net: n}
}

// Transport is a memberlist.NodeAwareTransport whose sends obey a Network.
type Transport struct {
	inner memberlist.NodeAwareTransport
	net   *Network
	self  atomic.Pointer[string]
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// Addr returns the address the transport advertises, or "" before
// memberlist asked for it.
func (t *Transport) Addr() string {
	if p := t.self.Load(); p != nil {
		return *p
	}
	return ""
}

func (t *Transport) blocked(to string) bool {
	self := t.Addr()
	return self != "" && t.net.Blocked(self, to)
}

// FinalAdvertiseAddr asks the wrapped transport and remembers the answer
// as this transport's own address.
func (t *Transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	aip, aport, err := t.inner.FinalAdvertiseAddr(ip, port)
	if err == nil {
		s := net.JoinHostPort(aip.String(), fmt.Sprint(aport))
		t.self.Store(&s)
	}
	return aip, aport, err
}

// WriteTo drops the packet when addr is blocked.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress drops the packet when a.Addr is blocked.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.blocked(a.Addr) {
		t.net.dropped.Add(1)
		return time.Now(), nil
	}
	return t.inner.WriteToAddress(b, a)
}

// PacketCh is the wrapped transport's.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.inner.PacketCh() }

// DialTimeout refuses a blocked addr.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout refuses a blocked a.Addr.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.blocked(a.Addr) {
		t.net.refused.Add(1)
		return nil, fmt.Errorf("dial %s: %w", a.Addr, ErrBlocked)
	}
	return t.inner.DialAddressTimeout(a, timeout)
}

// StreamCh is the wrapped transport's.
func (t *Transport) StreamCh() <-chan net.Conn { return t.inner.StreamCh() }

// Shutdown shuts the wrapped transport down.
func (t *Transport) Shutdown() error { return t.inner.Shutdown() }

// shim adapts a plain Transport, as memberlist does internally.
type shim struct{ memberlist.Transport }

func (s shim) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return s.WriteTo(b, a.Addr)
}

func (s shim) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return s.DialTimeout(a.Addr, timeout)
}

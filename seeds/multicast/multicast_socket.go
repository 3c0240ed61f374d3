package multicast

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// This file holds the multicast backend's background work: the sockets,
// the announce loop and the receive loop.

// Start validates the configuration and self, joins the multicast group
// and opens the send socket, so that a bad interface or a port that cannot
// be bound fails the Node's Start. It then announces self every interval and
// listens for announcements in goroutines that stop when ctx ends; wait
// blocks until they have. Start fails while an earlier Start's work still
// runs. A read error after Start stops the work and is returned by every
// later Discover, next to the peers still known.
func (m *multicast) Start(ctx context.Context, self string) (wait func(), err error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := backendkit.CheckAddr(self); err != nil {
		return nil, fmt.Errorf("multicast: self: %w", err)
	}
	if len(self) > 255 {
		return nil, fmt.Errorf("multicast: self address %q is too long", self)
	}
	if !m.running.CompareAndSwap(false, true) {
		return nil, errors.New("multicast: already running (Start called again before the first one's ctx ended)")
	}
	recv, send, group, err := m.open(ctx)
	if err != nil {
		m.running.Store(false)
		return nil, err
	}
	m.mu.Lock()
	m.self, m.readErr = self, nil
	m.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := m.receive(ctx, recv); err != nil {
				m.mu.Lock()
				m.readErr = err
				m.mu.Unlock()
			}
			cancel()
		})
		wg.Go(func() { m.announce(ctx, send, group, self) })
		<-ctx.Done()
		recv.Close() // unblocks receive
		wg.Wait()
		send.Close()
		cancel()
		m.running.Store(false)
	}()
	return func() { <-done }, nil
}

// open joins the group and opens the send socket.
func (m *multicast) open(ctx context.Context) (recv, send *ipv4.PacketConn, group *net.UDPAddr, err error) {
	group, _ = m.groupAddr()
	var ifi *net.Interface
	if m.iface != "" {
		if ifi, err = net.InterfaceByName(m.iface); err != nil {
			return nil, nil, nil, fmt.Errorf("multicast: interface %q: %w", m.iface, err)
		}
	}
	if recv, err = listenMulticast(ctx, ifi, group); err != nil {
		return nil, nil, nil, err
	}
	if send, err = openMulticastSender(ifi, m.hops); err != nil {
		recv.Close()
		return nil, nil, nil, err
	}
	return recv, send, group, nil
}

// listenMulticast opens a UDP socket on group's port, shared with the other
// nodes on the host, and joins group on ifi (nil: the system's choice).
func listenMulticast(ctx context.Context, ifi *net.Interface, group *net.UDPAddr) (*ipv4.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddrControl}
	c, err := lc.ListenPacket(ctx, "udp4", multicastBindAddr(group))
	if err != nil {
		return nil, fmt.Errorf("multicast: listening on %s: %w", group, err)
	}
	p := ipv4.NewPacketConn(c)
	if err := p.JoinGroup(ifi, &net.UDPAddr{IP: group.IP}); err != nil {
		c.Close()
		name := "the default interface"
		if ifi != nil {
			name = "interface " + ifi.Name
		}
		return nil, fmt.Errorf("multicast: joining group %s on %s: %w", group.IP, name, err)
	}
	return p, nil
}

// openMulticastSender opens the socket announcements are sent from.
func openMulticastSender(ifi *net.Interface, hops int) (*ipv4.PacketConn, error) {
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		return nil, fmt.Errorf("multicast: opening the send socket: %w", err)
	}
	p := ipv4.NewPacketConn(c)
	err = p.SetMulticastTTL(hops)
	if err == nil {
		err = p.SetMulticastLoopback(true)
	}
	if err == nil && ifi != nil {
		err = p.SetMulticastInterface(ifi)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("multicast: configuring the send socket: %w", err)
	}
	return p, nil
}

// announce sends self now and then every interval, jittered, until ctx ends.
func (m *multicast) announce(ctx context.Context, send *ipv4.PacketConn, group *net.UDPAddr, self string) {
	backendkit.EveryJittered(ctx, m.interval, func() {
		if _, err := send.WriteTo(m.packet(self), nil, group); err != nil {
			m.sendErrors.Add(1)
		} else {
			m.sent.Add(1)
		}
	})
}

// packet builds a signed announcement of self with a fresh, strictly
// increasing timestamp.
func (m *multicast) packet(self string) []byte {
	m.mu.Lock()
	ts := time.Now().UnixNano()
	if ts <= m.lastTS {
		ts = m.lastTS + 1
	}
	m.lastTS = ts
	m.mu.Unlock()
	var nonce [8]byte
	rand.Read(nonce[:])
	return encodeAnnouncement(announcement{Cluster: m.cluster, Addr: self, Time: ts, Nonce: binary.BigEndian.Uint64(nonce[:])}, m.secret)
}

// receive reads announcements until the socket is closed.
func (m *multicast) receive(ctx context.Context, c *ipv4.PacketConn) error {
	buf := make([]byte, mcMaxPacket+1)
	for {
		n, _, src, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("multicast: reading from the group: %w", err)
		}
		var srcIP net.IP
		if u, ok := src.(*net.UDPAddr); ok {
			srcIP = u.IP
		}
		m.handle(buf[:n], srcIP, time.Now())
	}
}

package vsim

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Transport is one node's memberlist.NodeAwareTransport on a Network.
//
// Packets never block their sender (UDP semantics): they go into an
// unbounded queue at the receiver, drained into PacketCh by one pump
// goroutine. memberlist's own MockTransport hands packets over on
// unbuffered channels with no way out, so a send to a node that stopped
// blocks forever and the bubble panics; and a bounded queue would drop
// packets only because the receiver was not scheduled yet, which virtual
// time must not turn into loss. Streams are net.Pipe pairs, whose
// deadlines are bubble timers.
type Transport struct {
	net  *Network
	ip   net.IP
	addr string
	from *net.UDPAddr

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn

	qmu    sync.Mutex
	queue  []queued
	notify chan struct{} // capacity 1: the queue is not empty

	cpuMu sync.Mutex
	busy  time.Time // the node's virtual CPU is booked until then

	down     atomic.Bool
	started  atomic.Bool   // memberlist asked for StreamCh: it listens
	done     chan struct{} // closed when the node crashes or shuts down
	downOnce sync.Once

	cmu   sync.Mutex
	conns map[*pipeEnd]struct{} // open stream ends, closed on a crash
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// queued is a received packet and when the node's CPU is done with it.
type queued struct {
	p     *memberlist.Packet
	ready time.Time
}

func newTransport(n *Network, ip net.IP) *Transport {
	t := &Transport{
		net:      n,
		ip:       ip,
		addr:     hostPort(ip, Port),
		from:     &net.UDPAddr{IP: ip, Port: Port},
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		conns:    make(map[*pipeEnd]struct{}),
	}
	go t.pump()
	return t
}

// Addr returns the node's host:port.
func (t *Transport) Addr() string { return t.addr }

// pump moves queued packets into PacketCh, each once the node's CPU has
// served it, until the node stops.
func (t *Transport) pump() {
	for {
		t.qmu.Lock()
		var q queued
		if len(t.queue) > 0 {
			q = t.queue[0]
			t.queue[0] = queued{}
			t.queue = t.queue[1:]
		}
		t.qmu.Unlock()
		if q.p == nil {
			select {
			case <-t.notify:
				continue
			case <-t.done:
				return
			}
		}
		t.waitUntil(q.ready)
		select {
		case t.packetCh <- q.p:
		case <-t.done:
			return
		}
	}
}

func (t *Transport) enqueue(p *memberlist.Packet) {
	if t.down.Load() {
		t.net.Dropped.Add(1)
		return
	}
	q := queued{p: p}
	if c := t.net.cpu; !c.IsZero() {
		cost := c.Packet + time.Duration(packetMessages(p.Buf)-1)*c.Message
		q.ready = t.reserve(cost, &t.net.cpuStats.packets)
	}
	t.qmu.Lock()
	t.queue = append(t.queue, q)
	t.qmu.Unlock()
	select {
	case t.notify <- struct{}{}:
	default:
	}
	t.net.Packets.Add(1)
}

// FinalAdvertiseAddr returns the node's simulated address.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, Port, nil
}

// WriteTo sends a packet to addr.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a packet; it never blocks. A packet to an unknown
// address is an error (no route), one lost on the way is not.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	dest := t.net.lookup(a.Addr)
	if dest == nil {
		return now, fmt.Errorf("vsim: no route to %s", a.Addr)
	}
	delay, ok := t.net.route(t.addr, a.Addr)
	if !ok || t.down.Load() {
		t.net.Dropped.Add(1)
		return now, nil
	}
	buf := append([]byte(nil), b...) // memberlist reuses b
	if delay <= 0 {
		dest.enqueue(&memberlist.Packet{Buf: buf, From: t.from, Timestamp: now})
		return now, nil
	}
	time.AfterFunc(delay, func() {
		dest.enqueue(&memberlist.Packet{Buf: buf, From: t.from, Timestamp: time.Now()})
	})
	return now, nil
}

// PacketCh returns the channel of received packets.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// StreamCh returns the channel of accepted streams.
func (t *Transport) StreamCh() <-chan net.Conn {
	t.started.Store(true)
	return t.streamCh
}

// DialTimeout connects a stream to addr.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

var (
	errRefused = errors.New("connection refused")
	errTimeout = errors.New("i/o timeout")
)

// DialAddressTimeout connects a stream: after one round trip, one end of a
// net.Pipe is handed to the destination's StreamCh. A destination that is
// down or behind a partition does not answer: the dial waits for its
// timeout, as a SYN to a vanished host does.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	t.net.Dials.Add(1)
	dest := t.net.lookup(a.Addr)
	if dest == nil || t.down.Load() || (t.net.refuseUnstarted && !dest.started.Load()) {
		return nil, fmt.Errorf("vsim: dial %s: %w", a.Addr, errRefused)
	}
	var expired <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		expired = tm.C
	}
	there, ok := t.net.route(t.addr, a.Addr)
	back, ok2 := t.net.route(a.Addr, t.addr)
	if !ok || !ok2 || dest.down.Load() {
		// Lost SYNs are not retried: the dial simply times out.
		select {
		case <-expired:
		case <-t.done:
		}
		return nil, fmt.Errorf("vsim: dial %s: %w", a.Addr, errTimeout)
	}
	if rtt := there + back; rtt > 0 {
		select {
		case <-time.After(rtt):
		case <-t.done:
			return nil, fmt.Errorf("vsim: dial %s: %w", a.Addr, errRefused)
		}
	}
	// The destination's CPU accepts the stream after what it is busy with.
	if c := t.net.cpu.Stream; c > 0 {
		ready := dest.reserve(c, &t.net.cpuStats.streams)
		if d := time.Until(ready); d > 0 {
			tm := time.NewTimer(d)
			select {
			case <-tm.C:
			case <-dest.done:
			case <-t.done:
			case <-expired:
			}
			tm.Stop()
		}
	}
	local, remote := net.Pipe()
	le, re := t.track(local), dest.track(remote)
	le.peer, re.peer = re, le
	select {
	case dest.streamCh <- re:
		return le, nil
	case <-dest.done:
	case <-t.done:
	case <-expired:
	}
	_ = le.Close()
	_ = re.Close()
	return nil, fmt.Errorf("vsim: dial %s: %w", a.Addr, errTimeout)
}

// pipeEnd is one end of a stream, remembered by its node so that a crash
// closes it (the peer then reads EOF, as after a reset). With a CPU, a
// push-pull state written to it costs the writer CPU.Send per member
// before it goes out, and the reader CPU.Recv per member once all of it
// has arrived (due and dueBytes, set by the writer before the bytes
// flow): the writer's Write returns when the bytes are read, as a TCP
// write returns once they are in the socket buffers, before the reader
// has decoded them.
type pipeEnd struct {
	net.Conn
	t        *Transport
	peer     *pipeEnd
	due      atomic.Int64 // CPU time owed by this end's reader for what arrives
	dueBytes atomic.Int64 // bytes still to read before it is owed
}

// Write charges a push-pull state's encoding before sending it:
// memberlist writes each stream message in one Write.
func (c *pipeEnd) Write(b []byte) (int, error) {
	if cpu := c.t.net.cpu; !cpu.IsZero() && c.peer != nil {
		if n := pushPullMembers(b); n > 0 {
			c.t.waitUntil(c.t.reserve(time.Duration(n)*cpu.Send, &c.t.net.cpuStats.send))
			c.peer.dueBytes.Add(int64(len(b)))
			c.peer.due.Add(int64(time.Duration(n) * cpu.Recv))
		}
	}
	return c.Conn.Write(b)
}

// Read charges the decoding of a push-pull state once all of it arrived.
func (c *pipeEnd) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.due.Load() > 0 && c.dueBytes.Add(-int64(n)) <= 0 {
		if d := time.Duration(c.due.Swap(0)); d > 0 {
			c.t.waitUntil(c.t.reserve(d, &c.t.net.cpuStats.recv))
		}
	}
	return n, err
}

func (c *pipeEnd) Close() error {
	c.t.cmu.Lock()
	delete(c.t.conns, c)
	c.t.cmu.Unlock()
	return c.Conn.Close()
}

// track registers a stream end; on a node that is already down it is
// closed at once.
func (t *Transport) track(c net.Conn) *pipeEnd {
	e := &pipeEnd{Conn: c, t: t}
	t.cmu.Lock()
	if t.conns == nil {
		t.cmu.Unlock()
		_ = c.Close()
		return e
	}
	t.conns[e] = struct{}{}
	t.cmu.Unlock()
	return e
}

// IngestPacket is not supported: the simulator has no real sockets.
func (t *Transport) IngestPacket(net.Conn, net.Addr, time.Time, bool) error {
	return errors.New("vsim: IngestPacket is not supported")
}

// IngestStream hands a stream to memberlist.
func (t *Transport) IngestStream(conn net.Conn) error {
	select {
	case t.streamCh <- conn:
		return nil
	case <-t.done:
		return fmt.Errorf("vsim: %s: %w", t.addr, errRefused)
	}
}

// Crash takes the node off the network at once: nothing in or out, dials
// to it time out, its open streams close. memberlist is not told; a crash
// in the scenarios is Crash followed by a shutdown without a leave.
func (t *Transport) Crash() {
	t.downOnce.Do(func() {
		t.down.Store(true)
		close(t.done)
		t.cmu.Lock()
		conns := t.conns
		t.conns = nil
		t.cmu.Unlock()
		for c := range conns {
			_ = c.Conn.Close()
		}
		t.qmu.Lock()
		t.queue = nil
		t.qmu.Unlock()
	})
}

// Shutdown is memberlist's: it takes the node off the network.
func (t *Transport) Shutdown() error {
	t.Crash()
	return nil
}

// Package vsim simulates gencluster and hand-wired memberlist clusters of
// hundreds to thousands of nodes in virtual time.
//
// Everything runs inside a testing/synctest bubble: the clock advances only
// when every goroutine of the bubble is durably blocked, so memberlist's
// timers (gossip, probes, suspicion) run on virtual time and a 2-core
// machine can run thousands of nodes without CPU starvation turning into
// false failures. Nodes talk over an in-memory network (Network, Transport:
// channels and net.Pipe, no sockets) with per-link latency and loss, and
// gencluster discovers its peers through an in-memory Registry that lists
// nodes as they come up, like a headless Service.
//
// Rules that keep a bubble running (each was a stall or a panic once):
//   - create the Network, every node and every timer inside the bubble;
//   - never block on a mutex or on real I/O while waiting for something
//     (only channel operations, timers and sync.WaitGroup are durable);
//   - a send never blocks its sender (packets queue at the receiver), and a
//     node that stops closes a channel that releases every goroutine that
//     could wait on it;
//   - take wall-clock times outside the bubble (time.Now is virtual inside).
//
// The scenarios (Run) are driven from `go test` in this package; see
// vsim_test.go for the flags.
package vsim

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Port is the gossip port of every simulated node.
const Port = 7946

// Link is how packets travel from one node to another.
type Link struct {
	// Latency is the one-way delay of a packet; a stream pays one round
	// trip (2 × Latency) when it connects and none after.
	Latency time.Duration
	// Jitter adds a uniformly random delay in [0, Jitter) to every packet
	// (and to every stream's connection setup).
	Jitter time.Duration
	// Loss is the probability that a packet is dropped, 0 to 1.
	Loss float64
}

// Validate reports a Link that cannot be simulated.
func (l Link) Validate() error {
	if l.Latency < 0 || l.Jitter < 0 {
		return fmt.Errorf("vsim: link latency %v and jitter %v must not be negative", l.Latency, l.Jitter)
	}
	if l.Loss < 0 || l.Loss > 1 {
		return fmt.Errorf("vsim: link loss %v is not between 0 and 1", l.Loss)
	}
	return nil
}

// Network is the simulated network: every Transport created from it, the
// default Link, per-link overrides and partitions. Create it inside the
// bubble. Its methods are safe for concurrent use.
type Network struct {
	mu      sync.Mutex
	rng     *rand.Rand
	link    Link
	links   map[[2]string]Link // per (from, to) address
	side    map[string]int     // partition side by address; nil: no partition
	nodes   map[string]*Transport
	seq     uint32
	stopped bool
	cpu     CPU // set before the first transport; read-only after
	// refuseUnstarted: dials to a transport whose stream channel nobody
	// has asked for yet (memberlist not created) are refused at once.
	refuseUnstarted bool

	cpuStats cpuCounters

	// Counters, for the report.
	Packets atomic.Int64 // packets delivered
	Dropped atomic.Int64 // packets lost (loss, partition, node down)
	Dials   atomic.Int64 // stream connections attempted
}

// NewNetwork returns a network whose links all behave like def, with its
// random choices (loss, jitter) drawn from seed.
func NewNetwork(def Link, seed uint64) (*Network, error) {
	if err := def.Validate(); err != nil {
		return nil, err
	}
	return &Network{
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		link:  def,
		links: make(map[[2]string]Link),
		nodes: make(map[string]*Transport),
	}, nil
}

// SetCPU makes every node of the network pay c for its work (see CPU);
// call it before the first NewTransport.
func (n *Network) SetCPU(c CPU) error {
	if err := c.Validate(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seq > 0 {
		return fmt.Errorf("vsim: SetCPU after %d transports were created", n.seq)
	}
	n.cpu = c
	return nil
}

// CPUStats returns where the virtual CPU time went so far.
func (n *Network) CPUStats() CPUStats { return n.cpuStats.snapshot() }

// SetLink overrides the link from one address to another (one direction).
func (n *Network) SetLink(from, to string, l Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[[2]string{from, to}] = l
	return nil
}

// Partition cuts the network into sides: packets between addresses of
// different sides are lost and stream connections between them time out,
// as when a switch fails. Addresses in no side can still reach everyone.
// It replaces any earlier partition.
func (n *Network) Partition(sides ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.side = make(map[string]int)
	for i, s := range sides {
		for _, a := range s {
			n.side[a] = i + 1
		}
	}
}

// Heal ends the partition.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.side = nil
}

// NewTransport adds a node with a fresh address (10.x.y.z:Port; never
// reused, so a restarted node has a new one, as a rescheduled pod does).
func (n *Network) NewTransport() (*Transport, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return nil, fmt.Errorf("vsim: network stopped")
	}
	n.seq++
	if n.seq >= 1<<24 {
		return nil, fmt.Errorf("vsim: out of addresses after %d nodes", n.seq-1)
	}
	ip := net.IPv4(10, byte(n.seq>>16), byte(n.seq>>8), byte(n.seq))
	t := newTransport(n, ip)
	n.nodes[t.addr] = t
	return t, nil
}

// Stop shuts every transport down, so that no goroutine of a node stays
// blocked on the network and the bubble can end.
func (n *Network) Stop() {
	n.mu.Lock()
	n.stopped = true
	ts := make([]*Transport, 0, len(n.nodes))
	for _, t := range n.nodes {
		ts = append(ts, t)
	}
	n.mu.Unlock()
	for _, t := range ts {
		t.Crash()
	}
}

func (n *Network) lookup(addr string) *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[addr]
}

// route decides the fate of one packet (or one connection attempt) from
// one address to another: whether it gets through, and after what delay.
func (n *Network) route(from, to string) (delay time.Duration, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.side != nil {
		a, b := n.side[from], n.side[to]
		if a != 0 && b != 0 && a != b {
			return 0, false
		}
	}
	l, found := n.links[[2]string{from, to}]
	if !found {
		l = n.link
	}
	if l.Loss > 0 && n.rng.Float64() < l.Loss {
		return 0, false
	}
	delay = l.Latency
	if l.Jitter > 0 {
		delay += time.Duration(n.rng.Int64N(int64(l.Jitter)))
	}
	return delay, true
}

func hostPort(ip net.IP, port int) string { return net.JoinHostPort(ip.String(), strconv.Itoa(port)) }

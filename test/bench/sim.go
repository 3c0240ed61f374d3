package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// memNet is an in-memory network for memberlist: no sockets, packets are
// handed over through buffered channels (and dropped, as UDP would drop
// them, when a receiver's buffer is full or it is gone) and streams are
// net.Pipe pairs. memberlist's own MockNetwork blocks a sender forever on
// a receiver that has shut down, so it cannot simulate a crash.
type memNet struct {
	mu    sync.RWMutex
	nodes map[string]*memTransport
	seq   int
	pipes []net.Conn // every stream end, closed by closeAll
}

// closeAll closes every stream ever opened, so that no memberlist
// goroutine stays blocked on one after its node shut down.
func (n *memNet) closeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.pipes {
		_ = c.Close()
	}
	n.pipes = nil
}

func newMemNet() *memNet { return &memNet{nodes: make(map[string]*memTransport)} }

func (n *memNet) newTransport() *memTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	ip := net.IPv4(10, byte(n.seq>>16), byte(n.seq>>8), byte(n.seq))
	t := &memTransport{
		net:      n,
		addr:     net.JoinHostPort(ip.String(), strconv.Itoa(Port)),
		packetCh: make(chan *memberlist.Packet, 1024),
		streamCh: make(chan net.Conn, 64),
		done:     make(chan struct{}),
	}
	n.nodes[t.addr] = t
	return t
}

func (n *memNet) get(addr string) *memTransport {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.nodes[addr]
}

type memTransport struct {
	net      *memNet
	addr     string
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}

	mu     sync.Mutex // orders sends on streamCh with Shutdown
	closed bool
}

var _ memberlist.NodeAwareTransport = (*memTransport)(nil)

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

func (t *memTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	host, port, _ := net.SplitHostPort(t.addr)
	p, _ := strconv.Atoi(port)
	return net.ParseIP(host), p, nil
}

func (t *memTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *memTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	dest := t.net.get(a.Addr)
	if dest == nil {
		return now, nil
	}
	p := &memberlist.Packet{Buf: append([]byte(nil), b...), From: memAddr(t.addr), Timestamp: now}
	select {
	case dest.packetCh <- p:
	default: // receiver overloaded: the packet is lost
	}
	return now, nil
}

func (t *memTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

func (t *memTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *memTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	dest := t.net.get(a.Addr)
	if dest == nil {
		return nil, fmt.Errorf("dial %s: connection refused", a.Addr)
	}
	p1, p2 := net.Pipe()
	dest.mu.Lock()
	defer dest.mu.Unlock()
	if !dest.closed {
		select {
		case dest.streamCh <- p1:
			t.net.mu.Lock()
			t.net.pipes = append(t.net.pipes, p1, p2)
			t.net.mu.Unlock()
			return p2, nil
		default: // accept backlog full
		}
	}
	p1.Close()
	p2.Close()
	return nil, fmt.Errorf("dial %s: connection refused", a.Addr)
}

func (t *memTransport) StreamCh() <-chan net.Conn { return t.streamCh }

func (t *memTransport) Shutdown() error {
	t.net.mu.Lock()
	delete(t.net.nodes, t.addr)
	t.net.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	close(t.done)
	for {
		select {
		case c := <-t.streamCh:
			c.Close()
		default:
			return nil
		}
	}
}

// SimProfile is the gossip profile of the simulation: memberlist's LAN
// defaults (gossip every 200ms, probe every second), which is what
// memberlist scales its timers for, but a full-state push-pull every 5s
// (memberlist scales it up with N) instead of 30s: with nodes joining one
// after the other, the last stragglers of the formation learn of a few
// members only at a push-pull.
func SimProfile(mc *memberlist.Config) {
	mc.PushPullInterval = 5 * time.Second
	mc.DeadNodeReclaimTime = time.Second
}

// SimResult is one simulated cluster.
type SimResult struct {
	N int `json:"n"`
	// Formation: node i joined one random earlier node, one after the
	// other; from the first join until every node listed N members. When
	// it did not finish within the timeout, the rest is measured anyway.
	Formed bool          `json:"formed"`
	Form   time.Duration `json:"form_ns"`
	// Converge: one more node joins one random member; from its join until
	// every node lists it (the dissemination of one alive message).
	Converged bool          `json:"converged"`
	Converge  time.Duration `json:"converge_ns"`
	// Detect: one node crashes; until every survivor that listed it
	// (Witnesses of them) reported it failed.
	Witnesses     int           `json:"witnesses"`
	Detected      bool          `json:"detected"`
	Detect        time.Duration `json:"detect_ns"`
	FalseFailures int           `json:"false_failures"`
	Run           int           `json:"run"`
}

// RunSim simulates n raw memberlist nodes on an in-memory network:
// formation, the dissemination of one join, and the detection of one
// crash. gencluster adds nothing to these (it uses memberlist for them),
// so the simulation runs memberlist alone.
//
// tune, when not nil, replaces SimProfile.
func RunSim(ctx context.Context, n, run int, timeout time.Duration, tune func(*memberlist.Config)) (SimResult, error) {
	if tune == nil {
		tune = SimProfile
	}
	r := SimResult{N: n, Run: run}
	mn := newMemNet()
	changed := make(chan struct{}, 1)
	onChange := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	var nodes []*Node
	defer func() {
		var wg sync.WaitGroup
		for _, x := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); x.Close() }()
		}
		wg.Wait()
		mn.closeAll()
	}()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(run)))
	add := func(want int) (*Node, error) {
		tr := mn.newTransport()
		node := &Node{Name: fmt.Sprintf("s%05d", len(nodes)), Addr: tr.addr, Tracker: newTracker(want, onChange)}
		mc := memberlist.DefaultLANConfig()
		mc.Name = node.Name
		mc.LogOutput = io.Discard
		mc.Events = rawEvents{node.Tracker}
		mc.Transport = tr
		tune(mc)
		ml, err := memberlist.Create(mc)
		if err != nil {
			return nil, err
		}
		node.ml = ml
		if len(nodes) > 0 {
			// A push-pull can fail under load; try other peers.
			var err error
			for range 5 {
				peer := nodes[rng.IntN(len(nodes))]
				if _, err = ml.Join([]string{peer.Addr}); err == nil {
					break
				}
			}
			if err != nil {
				_ = ml.Shutdown()
				return nil, err
			}
		}
		nodes = append(nodes, node)
		return node, nil
	}
	wait := func(from time.Time, cond func() bool) bool {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for !cond() {
			if time.Since(from) > timeout || ctx.Err() != nil {
				return false
			}
			select {
			case <-ctx.Done():
			case <-changed:
			case <-tick.C:
			}
		}
		return true
	}

	began := time.Now()
	for range n {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if _, err := add(n); err != nil {
			return r, fmt.Errorf("sim node %d: %w", len(nodes), err)
		}
	}
	r.Formed = wait(began, func() bool { return allSee(nodes, n) })
	r.Form = time.Since(began)
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	// Go on when the formation did not finish: the join and the crash
	// below are measured on whoever knows of them.

	joined := time.Now()
	last, err := add(n + 1)
	if err != nil {
		return r, err
	}
	r.Converged = wait(joined, func() bool {
		for _, x := range nodes {
			if !x.Tracker.Sees(last.Name) {
				return false
			}
		}
		return true
	})
	r.Converge = time.Since(joined)
	if ctx.Err() != nil {
		return r, ctx.Err()
	}

	// The survivors that must report the crash are those that list the
	// victim when it crashes.
	victim := nodes[1+rng.IntN(len(nodes)-1)]
	var survivors []*Node
	for _, x := range nodes {
		if x != victim && x.Tracker.Sees(victim.Name) {
			survivors = append(survivors, x)
		}
	}
	r.Witnesses = len(survivors)
	crashed := time.Now()
	victim.Close()
	r.Detected = wait(crashed, func() bool {
		for _, s := range survivors {
			if s.Tracker.FailedAt(victim.Name).IsZero() {
				return false
			}
		}
		return true
	})
	r.Detect = time.Since(crashed)
	r.FalseFailures = falseFailures(survivors, victim.Name)
	if errors.Is(ctx.Err(), context.Canceled) {
		return r, ctx.Err()
	}
	return r, nil
}

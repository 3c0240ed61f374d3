package vsim

import (
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// rig runs real memberlists on a free-CPU, zero-latency Network in real
// time (no bubble), and a bare client Transport that talks to them in
// memberlist's wire format, so that each calibration benchmark times
// exactly one piece of memberlist's own work.
type rig struct {
	tb     testing.TB
	f      framing
	nw     *Network
	client *Transport
	signal chan struct{} // a user message was handled (the end of a compound)
	seq    uint32
}

func newRig(tb testing.TB, f framing) *rig {
	nw, err := NewNetwork(Link{}, 1)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := nw.NewTransport()
	if err != nil {
		tb.Fatal(err)
	}
	r := &rig{tb: tb, f: f, nw: nw, client: c, signal: make(chan struct{}, 1)}
	tb.Cleanup(nw.Stop)
	return r
}

// signalDelegate tells the rig when memberlist handled a user message.
type signalDelegate struct{ ch chan struct{} }

func (d signalDelegate) NodeMeta(int) []byte { return nil }
func (d signalDelegate) NotifyMsg([]byte) {
	select {
	case d.ch <- struct{}{}:
	default:
	}
}
func (d signalDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d signalDelegate) LocalState(bool) []byte          { return nil }
func (d signalDelegate) MergeRemoteState([]byte, bool)   {}

// node starts a memberlist that does nothing on its own (no probes, no
// gossip, no periodic push-pull) so that only what the rig sends costs.
func (r *rig) node() (*memberlist.Memberlist, string) {
	tr, err := r.nw.NewTransport()
	if err != nil {
		r.tb.Fatal(err)
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = fmt.Sprintf("target-%s", tr.Addr())
	mc.Transport = tr
	mc.LogOutput = io.Discard
	mc.ProbeInterval, mc.GossipInterval, mc.PushPullInterval = time.Hour, time.Hour, 0
	mc.DeadNodeReclaimTime = 5 * time.Second
	mc.EnableCompression = r.f.compress
	mc.SecretKey = r.f.key
	mc.Delegate = signalDelegate{r.signal}
	m, err := memberlist.Create(mc)
	if err != nil {
		r.tb.Fatal(err)
	}
	return m, tr.Addr()
}

// pushPull sends msg as a push-pull to addr and reads the reply until
// memberlist closes the stream, which it does after its merge. It returns
// the reply's size.
func (r *rig) pushPull(addr string, msg []byte) int {
	conn, err := r.client.DialTimeout(addr, 10*time.Second)
	if err != nil {
		r.tb.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write(msg); err != nil {
		r.tb.Fatal(err)
	}
	n, err := io.Copy(io.Discard, conn)
	if err != nil {
		r.tb.Fatal(err)
	}
	if n == 0 {
		r.tb.Fatalf("push-pull to %s: no reply (refused or undecodable)", addr)
	}
	return int(n)
}

// pingPacket is a ping to the node named name, framed.
func (r *rig) pingPacket(name string) []byte {
	r.seq++
	return r.f.packet(pingMsg(r.seq, name, r.client.from))
}

// ping sends a ping packet to addr and waits for its ack.
func (r *rig) ping(addr string, pkt []byte) {
	if _, err := r.client.WriteTo(pkt, addr); err != nil {
		r.tb.Fatal(err)
	}
	select {
	case <-r.client.PacketCh():
	case <-time.After(10 * time.Second):
		r.tb.Fatalf("no ack from %s", addr)
	}
}

// gossipPacket is a compound of the alive messages of members, then a
// user message, framed.
func (r *rig) gossipPacket(members []wirePushNodeState) []byte {
	parts := make([][]byte, 0, len(members)+1)
	for _, m := range members {
		parts = append(parts, aliveMsg(m))
	}
	parts = append(parts, []byte{wireUser, 'x'})
	return r.f.packet(compound(parts))
}

// gossip sends a gossipPacket to addr and waits until memberlist handled
// its user message: it handles queued alive messages first (they have
// the high priority).
func (r *rig) gossip(addr string, pkt []byte) {
	if _, err := r.client.WriteTo(pkt, addr); err != nil {
		r.tb.Fatal(err)
	}
	select {
	case <-r.signal:
	case <-time.After(10 * time.Second):
		r.tb.Fatalf("compound to %s not handled", addr)
	}
}

// cpuClock is the process's CPU time (user and system, every thread:
// memberlist's goroutines and the garbage collector included).
func cpuClock() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meter sums the CPU time of the measured sections of a benchmark.
type meter struct {
	cpu   time.Duration
	ops   int
	bytes int
}

func (m *meter) measure(f func() int) {
	c0 := cpuClock()
	n := f()
	m.cpu += cpuClock() - c0
	m.ops++
	m.bytes += n
}

func (m *meter) report(b *testing.B) {
	b.ReportMetric(float64(m.cpu.Nanoseconds())/float64(max(m.ops, 1)), "cpu-ns/op")
	b.ReportMetric(float64(m.bytes)/float64(max(m.ops, 1)), "B/msg")
}

package vsim

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// CPU is the price list of the virtual CPU: how long a node's one CPU is
// busy with each piece of memberlist's work. Every inbound packet and
// stream is handed to memberlist only after its service time, and a node
// serves one thing at a time in arrival order (FIFO), so a node that
// receives more than it can handle falls behind: its acks come late, its
// push-pulls time out, as on an overloaded machine. The zero CPU charges
// nothing: the free-CPU mode, where all computation is instantaneous.
//
// The figures are measured from memberlist's own code (TestCalibrate in
// calibrate_test.go prints them); the defaults are in cpu_costs.go.
type CPU struct {
	// Packet is the cost of a packet carrying one message: ingest, the
	// message's decode and handling, measured on a ping, whose handling
	// sends an ack. memberlist compresses (and encrypts) every packet it
	// sends, the ack included: charging that work at the receiver of each
	// packet, rather than at its sender, keeps its total.
	Packet time.Duration `json:"packet_ns"`
	// Message is each further message of a compound packet (the alive,
	// suspect and dead messages gossip piggybacks): decode and the
	// handling of a message about a member the node already knows.
	Message time.Duration `json:"message_ns"`
	// Stream is the fixed cost of an inbound stream (a push-pull's
	// accept, header and reply framing), charged to the node that accepts.
	Stream time.Duration `json:"stream_ns"`
	// Send is per member of a push-pull state the node sends: encode
	// (and compression, encryption when the profile has them).
	Send time.Duration `json:"send_per_member_ns"`
	// Recv is per member of a push-pull state the node receives: decode
	// (decompression, decryption) and the merge of a member it already
	// knows.
	Recv time.Duration `json:"recv_per_member_ns"`
	// Learn is the extra work of learning a member the node did not know
	// (memberlist's aliveNode inserts it, queues its alive broadcast and
	// calls the event delegate), whether by push-pull or by gossip. It is
	// charged when the node's membership event for it fires.
	Learn time.Duration `json:"learn_per_member_ns"`
}

// IsZero reports the free-CPU mode.
func (c CPU) IsZero() bool { return c == CPU{} }

// Validate reports a negative cost.
func (c CPU) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"packet", c.Packet}, {"message", c.Message}, {"stream", c.Stream}, {"send", c.Send}, {"recv", c.Recv}, {"learn", c.Learn}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("vsim: CPU cost %s %v must not be negative", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// Defaults is the pseudo-profile that charges each implementation the
// profile of its own default configuration (ProfileOf): gencluster turns
// memberlist's compression off (gossip.Start), the baseline keeps
// memberlist's DefaultLANConfig, which compresses.
const Defaults = "defaults"

// ProfileOf returns the CPU profile a run of impl is charged under the
// profile name asked: name itself, except for Defaults, which is "plain"
// for gencluster and "lzw" for the baseline.
func ProfileOf(name string, impl Impl) string {
	if name != Defaults {
		return name
	}
	if impl == Gencluster {
		return "plain"
	}
	return "lzw"
}

// CPUProfile returns the calibrated costs of a profile by name ("off" is
// the free-CPU mode).
func CPUProfile(name string) (CPU, error) {
	if name == "off" {
		return CPU{}, nil
	}
	c, ok := cpuProfiles[name]
	if !ok {
		names := []string{"off"}
		for n := range cpuProfiles {
			names = append(names, n)
		}
		sort.Strings(names)
		return CPU{}, fmt.Errorf("vsim: CPU profile %q: want one of %s", name, strings.Join(names, ", "))
	}
	return c, nil
}

// CPUStats is where the virtual CPU time of a run went, summed over the
// nodes.
type CPUStats struct {
	Packets  time.Duration `json:"packets_ns"`   // packets (Packet and Message)
	Streams  time.Duration `json:"streams_ns"`   // stream accepts
	PushSend time.Duration `json:"push_send_ns"` // push-pull states sent
	PushRecv time.Duration `json:"push_recv_ns"` // push-pull states received
	Learn    time.Duration `json:"learn_ns"`     // members learned
	// MaxWait is the longest any work waited for its node's CPU.
	MaxWait time.Duration `json:"max_wait_ns"`
}

// cpuCounters are a Network's running CPUStats.
type cpuCounters struct {
	packets, streams, send, recv, learn, maxWait atomic.Int64
}

func (c *cpuCounters) snapshot() CPUStats {
	return CPUStats{
		Packets: time.Duration(c.packets.Load()), Streams: time.Duration(c.streams.Load()),
		PushSend: time.Duration(c.send.Load()), PushRecv: time.Duration(c.recv.Load()),
		Learn: time.Duration(c.learn.Load()), MaxWait: time.Duration(c.maxWait.Load()),
	}
}

func (c *cpuCounters) waited(d time.Duration) {
	for {
		old := c.maxWait.Load()
		if int64(d) <= old || c.maxWait.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// reserve books cost on the node's CPU after whatever it has booked
// already and returns when the work is done. It never blocks: the caller
// waits for the returned time when the work gates a delivery.
func (t *Transport) reserve(cost time.Duration, counter *atomic.Int64) time.Time {
	now := time.Now()
	t.cpuMu.Lock()
	start := t.busy
	if start.Before(now) {
		start = now
	}
	t.busy = start.Add(cost)
	done := t.busy
	t.cpuMu.Unlock()
	counter.Add(int64(cost))
	t.net.cpuStats.waited(start.Sub(now))
	return done
}

// waitUntil sleeps until the virtual instant at, or until the node stops.
func (t *Transport) waitUntil(at time.Time) {
	d := time.Until(at)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-t.done:
	}
}

// Learned charges the node for learning one member (CPU.Learn); the
// harness calls it from the node's membership event.
func (t *Transport) Learned() {
	if c := t.net.cpu.Learn; c > 0 {
		t.reserve(c, &t.net.cpuStats.learn)
	}
}

// memberlist's wire constants (net.go, label.go; part of its protocol).
const (
	wirePushPull = 6
	wireCompound = 7
	wireHasCRC   = 12
	wireHasLabel = 244
)

// stripLabel removes memberlist's optional label header.
func stripLabel(b []byte) []byte {
	if len(b) >= 2 && b[0] == wireHasLabel {
		if n := int(b[1]); len(b) >= 2+n {
			return b[2+n:]
		}
	}
	return b
}

// packetMessages counts the messages a packet carries: the parts of a
// compound, or one. The simulator never compresses or encrypts on the
// wire (see profile), so the header is in the clear.
func packetMessages(b []byte) int {
	b = stripLabel(b)
	if len(b) >= 5 && b[0] == wireHasCRC {
		b = b[5:]
	}
	if len(b) >= 2 && b[0] == wireCompound {
		return max(1, int(b[1]))
	}
	return 1
}

// pushPullMembers returns the number of member states in a stream write
// that is a push-pull message, or 0.
func pushPullMembers(b []byte) int {
	b = stripLabel(b)
	if len(b) < 2 || b[0] != wirePushPull {
		return 0
	}
	var h struct {
		Nodes        int
		UserStateLen int
		Join         bool
	}
	var mh codec.MsgpackHandle
	if err := codec.NewDecoder(bytes.NewReader(b[1:]), &mh).Decode(&h); err != nil || h.Nodes < 0 {
		return 0
	}
	return h.Nodes
}

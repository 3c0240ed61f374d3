package vsim

import (
	"flag"
	"fmt"
	"go/format"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The benchmarks below time memberlist's own work, in process CPU time
// per operation (cpu-ns/op), on real memberlists driven over a free-CPU
// Network with messages in memberlist's wire format (craft_test.go).
// TestCalibrate runs them at several sizes, fits a line (fixed + per
// member, or per message) through each and prints the CPU figures the
// simulator charges:
//
//	go test -count=1 -run '^TestCalibrate$' -v ./vsim -args -calibrate
//
// Run it alone on a quiet machine: the figures are CPU time, but caches,
// frequency scaling and other processes' interference still show.

var (
	flagCalibrate      = flag.Bool("calibrate", false, "TestCalibrate: measure every profile at full size and print cpu_costs.go with the figures (without it: a quick check that the measurement works)")
	flagCalibrateWrite = flag.Bool("calibrate-write", false, "with -calibrate: also write the figures to cpu_costs.go, where the simulator takes its defaults")
)

// calibrated are the framings TestCalibrate measures, by profile name.
var calibrated = []struct {
	name string
	f    framing
}{
	{"plain", framing{}},
	{"lzw", framing{compress: true}},
	{"lzw+aes", framing{compress: true, key: []byte("0123456789abcdef0123456789abcdef")}},
}

// benchSend: a memberlist that knows n members answers a push-pull of
// one member: it encodes (and frames) n member states.
func benchSend(f framing, n int) func(*testing.B) {
	return func(b *testing.B) {
		r := newRig(b, f)
		m, addr := r.node()
		defer func() { _ = m.Shutdown() }()
		r.pushPull(addr, f.pushPullMsg(fakeStates("v", n), false))
		req := f.pushPullMsg(fakeStates("c", 1), false)
		var mt meter
		for b.Loop() {
			mt.measure(func() int { return r.pushPull(addr, req) })
		}
		mt.report(b)
	}
}

// benchRecvKnown: a memberlist that knows the n members receives their
// states again: it decodes and merges n known members, and answers
// with its own n + 1.
func benchRecvKnown(f framing, n int) func(*testing.B) {
	return func(b *testing.B) {
		r := newRig(b, f)
		m, addr := r.node()
		defer func() { _ = m.Shutdown() }()
		req := f.pushPullMsg(fakeStates("v", n), false)
		r.pushPull(addr, req)
		var mt meter
		for b.Loop() {
			mt.measure(func() int { return r.pushPull(addr, req) })
		}
		mt.report(b)
	}
}

// benchRecvNew: a memberlist that just started receives a join's
// push-pull of n members it does not know: it decodes, learns (inserts,
// queues an alive broadcast, calls its delegates) and answers with its
// own single member.
func benchRecvNew(f framing, n int) func(*testing.B) {
	return func(b *testing.B) {
		r := newRig(b, f)
		req := f.pushPullMsg(fakeStates("v", n), true)
		var mt meter
		for b.Loop() {
			b.StopTimer()
			m, addr := r.node()
			b.StartTimer()
			mt.measure(func() int { return r.pushPull(addr, req) })
			b.StopTimer()
			_ = m.Shutdown()
			b.StartTimer()
		}
		mt.report(b)
	}
}

// benchGossip: a memberlist receives a compound packet of k alive
// messages (and the user message that marks its end), about members it
// knows already (fresh false: gossip's duplicates) or does not (true).
func benchGossip(f framing, k int, fresh bool) func(*testing.B) {
	return func(b *testing.B) {
		r := newRig(b, f)
		m, addr := r.node()
		pkt := r.gossipPacket(fakeStates("a", k))
		r.gossip(addr, pkt)
		var mt meter
		for i := 0; b.Loop(); i++ {
			if fresh {
				b.StopTimer()
				if i%256 == 255 { // keep the member list small
					_ = m.Shutdown()
					m, addr = r.node()
				}
				pkt = r.gossipPacket(fakeStates(fmt.Sprintf("n%d-", i), k))
				b.StartTimer()
			}
			mt.measure(func() int { r.gossip(addr, pkt); return 0 })
		}
		_ = m.Shutdown()
		mt.report(b)
	}
}

// benchPing: a ping answered by an ack (no piggybacked broadcasts).
func benchPing(f framing) func(*testing.B) {
	return func(b *testing.B) {
		r := newRig(b, f)
		m, addr := r.node()
		defer func() { _ = m.Shutdown() }()
		pkt := r.pingPacket(m.LocalNode().Name)
		for range 64 { // drain the node's own alive broadcast from its acks
			r.ping(addr, pkt)
		}
		var mt meter
		for b.Loop() {
			mt.measure(func() int { r.ping(addr, pkt); return 0 })
		}
		mt.report(b)
	}
}

func fakeStates(prefix string, n int) []wirePushNodeState {
	s := make([]wirePushNodeState, n)
	for i := range s {
		s[i] = fakeMember(prefix, i)
	}
	return s
}

// BenchmarkPushPull and BenchmarkPacket run the calibration benchmarks
// for `go test -bench`, for every profile, at two sizes.
func BenchmarkPushPull(b *testing.B) {
	for _, p := range calibrated {
		for _, n := range []int{32, 1024} {
			b.Run(fmt.Sprintf("%s/send/n=%d", p.name, n), benchSend(p.f, n))
			b.Run(fmt.Sprintf("%s/recv-known/n=%d", p.name, n), benchRecvKnown(p.f, n))
			b.Run(fmt.Sprintf("%s/recv-new/n=%d", p.name, n), benchRecvNew(p.f, n))
		}
	}
}

func BenchmarkPacket(b *testing.B) {
	for _, p := range calibrated {
		b.Run(p.name+"/ping", benchPing(p.f))
		for _, k := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/gossip-known/k=%d", p.name, k), benchGossip(p.f, k, false))
			b.Run(fmt.Sprintf("%s/gossip-new/k=%d", p.name, k), benchGossip(p.f, k, true))
		}
	}
}

// TestCalibrate measures the CPU figures (see the comment at the top).
// Without -calibrate it measures the plain profile at two sizes briefly
// and checks only what no load can reverse: a bigger push-pull costs
// more, and learning a member costs more than hearing of it again.
func TestCalibrate(t *testing.T) {
	sizes, ks, profiles := []int{64, 512, 2048, 4096}, []int{1, 4, 8, 16}, calibrated
	if !*flagCalibrate {
		if testing.Short() {
			t.Skip("-short: the quick calibration check takes a few seconds")
		}
		sizes, ks, profiles = []int{16, 1024}, []int{1, 16}, calibrated[:1]
		prev := flag.Lookup("test.benchtime").Value.String()
		if err := flag.Set("test.benchtime", "30x"); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = flag.Set("test.benchtime", prev) }()
	}
	load0, when := loadavg(), time.Now().UTC()
	var record, table strings.Builder
	for _, p := range profiles {
		c, fits := calibrate(t, p.f, sizes, ks)
		fmt.Fprintf(&record, "profile %s:\n%s", p.name, fits)
		fmt.Fprintf(&table, "\t%q: {Packet: %s, Message: %s, Stream: %s, Send: %s, Recv: %s, Learn: %s},\n",
			p.name, goDur(c.Packet), goDur(c.Message), goDur(c.Stream), goDur(c.Send), goDur(c.Recv), goDur(c.Learn))
		if !*flagCalibrate && (c.Send <= 0 || c.Recv+c.Learn <= 0) {
			t.Errorf("profile %s: a push-pull of %d members did not cost more than one of %d: %+v", p.name, sizes[1], sizes[0], c)
		}
	}
	host, _ := os.Hostname()
	header := fmt.Sprintf("%s, %s on %s, %d CPUs; load average before %s, after %s", when.Format("2006-01-02 15:04 MST"), runtime.Version(), host, runtime.NumCPU(), load0, loadavg())
	src, err := format.Source([]byte(fmt.Sprintf(costsFile, header+"\n"+record.String(), table.String())))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calibration, %s:\n%s", header, src)
	if *flagCalibrate && *flagCalibrateWrite {
		if err := os.WriteFile("cpu_costs.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote cpu_costs.go")
	}
}

// costsFile is cpu_costs.go, filled with a calibration's record and
// figures.
const costsFile = `package vsim

// Code generated by go test -run '^TestCalibrate$' ./vsim -args -calibrate -calibrate-write; DO NOT EDIT.

import "time"

// Calibration is the record of the run that measured cpuProfiles: when,
// where, the load average, and each benchmark's CPU time per operation
// at each size with the line fitted through them.
const Calibration = %q

// cpuProfiles are the calibrated costs, in nanoseconds, one set per way memberlist can
// frame its messages: plain (EnableCompression false, no keys), lzw
// (memberlist's default compression) and lzw+aes (compression and
// encryption, as with gencluster.WithSecretKey).
var cpuProfiles = map[string]CPU{
%s}
`

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// goDur renders d as Go source, in nanoseconds.
func goDur(d time.Duration) string { return fmt.Sprintf("time.Duration(%d)", max(d, 0).Nanoseconds()) }

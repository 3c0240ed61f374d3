package vsim

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// point is one benchmark's result at one size.
type point struct {
	x     int
	cpu   float64 // ns per op
	bytes float64 // per message sent by memberlist (push-pulls)
}

// line is a least-squares fit cpu = fixed + slope·x.
type line struct{ fixed, slope float64 }

func fit(ps []point) line {
	var n, sx, sy, sxx, sxy float64
	for _, p := range ps {
		x := float64(p.x)
		n++
		sx += x
		sy += p.cpu
		sxx += x * x
		sxy += x * p.cpu
	}
	d := n*sxx - sx*sx
	if n == 0 || d == 0 {
		return line{}
	}
	slope := (n*sxy - sx*sy) / d
	return line{fixed: (sy - slope*sx) / n, slope: slope}
}

func ns(f float64) time.Duration { return time.Duration(max(f, 0)) }

// run measures one benchmark at each x.
func measureAt(t *testing.T, xs []int, bench func(x int) func(*testing.B)) []point {
	var ps []point
	for _, x := range xs {
		r := testing.Benchmark(bench(x))
		if r.N == 0 {
			t.Fatalf("benchmark at %d failed (see its log)", x)
		}
		ps = append(ps, point{x: x, cpu: r.Extra["cpu-ns/op"], bytes: r.Extra["B/msg"]})
	}
	return ps
}

// calibrate measures one framing and derives the CPU figures:
//
//	send(n)       = fixed + Send·n            (n states encoded)
//	recv-known(n) = fixed + (Recv + Send)·n   (n decoded and merged, n + 1 encoded back)
//	recv-new(n)   = fixed + (Recv + Learn)·n  (n decoded and learned, 1 encoded back)
//	ping          = Packet                    (decode, ack encoded, compressed, sent)
//	gossip(k)     = fixed + Message·k         (k alive messages about known members)
//	send(1)       = Stream + Send
//
// Stream is a push-pull of one member each way less one member's Send:
// the fixed part measured directly, which the fits' intercepts, far from
// their points, give too noisily. It also returns the measurements and
// fits, as text.
func calibrate(t *testing.T, f framing, sizes, ks []int) (CPU, string) {
	send := measureAt(t, sizes, func(n int) func(*testing.B) { return benchSend(f, n) })
	known := measureAt(t, sizes, func(n int) func(*testing.B) { return benchRecvKnown(f, n) })
	fresh := measureAt(t, sizes, func(n int) func(*testing.B) { return benchRecvNew(f, n) })
	gk := measureAt(t, ks, func(k int) func(*testing.B) { return benchGossip(f, k, false) })
	gn := measureAt(t, ks, func(k int) func(*testing.B) { return benchGossip(f, k, true) })
	ping := measureAt(t, []int{1}, func(int) func(*testing.B) { return benchPing(f) })
	one := measureAt(t, []int{1}, func(n int) func(*testing.B) { return benchSend(f, n) })

	ls, lk, ln, lg, lgn := fit(send), fit(known), fit(fresh), fit(gk), fit(gn)
	var c CPU
	c.Send = ns(ls.slope)
	c.Recv = ns(lk.slope - ls.slope)
	c.Learn = ns(ln.slope - lk.slope + ls.slope)
	c.Stream = ns(one[0].cpu - ls.slope)
	c.Packet = ns(ping[0].cpu)
	c.Message = ns(lg.slope)

	var b strings.Builder
	row := func(name string, ps []point, l line, unit string) {
		fmt.Fprintf(&b, "  %-11s", name)
		for _, p := range ps {
			fmt.Fprintf(&b, " %s=%d: %.1f µs", unit, p.x, p.cpu/1e3)
			if p.bytes > 0 {
				fmt.Fprintf(&b, " (%.0f B)", p.bytes)
			}
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " fit %.1f µs + %.0f ns × %s\n", l.fixed/1e3, l.slope, unit)
	}
	row("send", send, ls, "n")
	row("recv-known", known, lk, "n")
	row("recv-new", fresh, ln, "n")
	row("gossip-dup", gk, lg, "k")
	row("gossip-new", gn, lgn, "k")
	fmt.Fprintf(&b, "  ping       %.1f µs\n  push-pull of one member each way %.1f µs\n", ping[0].cpu/1e3, one[0].cpu/1e3)
	fmt.Fprintf(&b, "  learning a member by gossip: %v each (gossip-new − gossip-dup slopes), by push-pull: %v (Learn)\n",
		ns(lgn.slope-lg.slope), c.Learn)
	if n := len(send); n > 0 && send[n-1].bytes > 0 {
		fmt.Fprintf(&b, "  a push-pull state is %.0f B per member on the wire\n", send[n-1].bytes/float64(send[n-1].x))
	}
	return c, b.String()
}

package bench

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster"
)

// eventNodes are the members the event benchmarks report joining and
// failing, in turn.
func eventNodes(k int) []*memberlist.Node {
	out := make([]*memberlist.Node, k)
	for i := range out {
		out[i] = &memberlist.Node{
			Name:  fmt.Sprintf("peer-%04d", i),
			Addr:  net.IPv4(10, 0, byte(i>>8), byte(i)),
			Port:  Port,
			State: memberlist.StateAlive,
		}
	}
	return out
}

// notifyLoop calls d's NotifyJoin and NotifyLeave (as a failure) in turn,
// b.N calls in all, as memberlist does under its node lock.
func notifyLoop(b *testing.B, d memberlist.EventDelegate) {
	nodes := eventNodes(1024)
	dead := make([]*memberlist.Node, len(nodes))
	for i, n := range nodes {
		c := *n
		c.State = memberlist.StateDead
		dead[i] = &c
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := (i / 2) % len(nodes)
		if i%2 == 0 {
			d.NotifyJoin(nodes[k])
		} else {
			d.NotifyLeave(dead[k])
		}
	}
	b.StopTimer()
}

// AdapterEvents measures gencluster's event path per memberlist
// callback: the adapter converts the node, and the node's hub queues the
// event for Events(), which a goroutine drains. The callback is the cost
// memberlist pays under its lock.
func AdapterEvents(b *testing.B) {
	var del memberlist.EventDelegate
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := gencluster.Start(ctx,
		gencluster.WithName("bench-adapter"),
		gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithMemberlistConfig(Profile),
		gencluster.WithMemberlistConfig(func(mc *memberlist.Config) { del = mc.Events }),
	)
	if err != nil {
		b.Fatal(err)
	}
	got := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n.Events() {
			got++
		}
	}()
	notifyLoop(b, del)
	_ = n.Close()
	<-done
	b.ReportMetric(float64(got)/float64(b.N), "delivered/op")
}

// ChannelEvents is the baseline: memberlist's own
// ChannelEventDelegate, with a goroutine draining its channel (buffer 16).
// Unlike gencluster's queue it blocks memberlist when the reader lags.
func ChannelEvents(b *testing.B) {
	ch := make(chan memberlist.NodeEvent, 16)
	got := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
			got++
		}
	}()
	notifyLoop(b, &memberlist.ChannelEventDelegate{Ch: ch})
	close(ch)
	<-done
	b.ReportMetric(float64(got)/float64(b.N), "delivered/op")
}

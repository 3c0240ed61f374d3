package bench

import (
	"testing"

	gometrics "github.com/hashicorp/go-metrics"
)

// TestTrafficSinkCounts: the sink counts memberlist's outbound streams,
// their bytes and the gossip bytes, whatever the labels, and nothing
// else; Sub gives what a run added.
func TestTrafficSinkCounts(t *testing.T) {
	s := &trafficSink{}
	labels := []gometrics.Label{{Name: "node", Value: "n1"}}
	s.IncrCounterWithLabels([]string{"memberlist", "tcp", "connect"}, 1, labels)
	s.IncrCounterWithLabels([]string{"memberlist", "tcp", "connect"}, 1, nil)
	s.IncrCounterWithLabels([]string{"memberlist", "tcp", "sent"}, 1500, labels)
	s.IncrCounter([]string{"memberlist", "udp", "sent"}, 300)
	s.IncrCounterWithLabels([]string{"memberlist", "tcp", "accept"}, 1, labels) // inbound: not counted
	s.IncrCounterWithLabels([]string{"memberlist", "udp", "received"}, 300, labels)
	s.IncrCounterWithLabels([]string{"other", "tcp", "connect"}, 1, labels)
	got := Traffic{s.streams.Load(), s.streamBytes.Load(), s.gossipBytes.Load()}
	if want := (Traffic{Streams: 2, StreamBytes: 1500, GossipBytes: 300}); got != want {
		t.Fatalf("counted %+v, want %+v", got, want)
	}
	if d := got.Sub(Traffic{Streams: 1, StreamBytes: 500, GossipBytes: 300}); d != (Traffic{Streams: 1, StreamBytes: 1000}) {
		t.Fatalf("Sub = %+v", d)
	}
}

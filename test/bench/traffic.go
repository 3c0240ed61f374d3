package bench

import (
	"sync"
	"sync/atomic"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
)

// Traffic is what memberlist sent during a run, every node together: the
// TCP streams it opened (joins, push-pulls, fallback pings), the bytes
// written to streams by both ends (a push-pull's state and its reply),
// and the gossip packets' bytes. memberlist reports these through the process-wide go-metrics
// global, so they are counted for both implementations alike.
type Traffic struct {
	Streams     int64 `json:"streams"`
	StreamBytes int64 `json:"stream_bytes"`
	GossipBytes int64 `json:"gossip_bytes"`
}

// Sub returns t minus earlier.
func (t Traffic) Sub(earlier Traffic) Traffic {
	return Traffic{t.Streams - earlier.Streams, t.StreamBytes - earlier.StreamBytes, t.GossipBytes - earlier.GossipBytes}
}

// trafficSink counts memberlist's tcp.connect, tcp.sent and udp.sent.
type trafficSink struct {
	gometrics.BlackholeSink
	streams, streamBytes, gossipBytes atomic.Int64
}

func (s *trafficSink) IncrCounter(key []string, val float32) {
	s.IncrCounterWithLabels(key, val, nil)
}

func (s *trafficSink) IncrCounterWithLabels(key []string, val float32, _ []gometrics.Label) {
	if len(key) != 3 || key[0] != "memberlist" {
		return
	}
	switch key[1] + "." + key[2] {
	case "tcp.connect":
		s.streams.Add(int64(val))
	case "tcp.sent":
		s.streamBytes.Add(int64(val))
	case "udp.sent":
		s.gossipBytes.Add(int64(val))
	}
}

var (
	trafficOnce sync.Once
	traffic     atomic.Pointer[trafficSink]
)

// CountTraffic makes memberlist's metrics count into ReadTraffic for the
// rest of the process (it replaces the go-metrics global: a benchmark
// command's choice, never the library's). Until it is called ReadTraffic
// returns zeros.
func CountTraffic() {
	trafficOnce.Do(func() {
		s := &trafficSink{}
		// No runtime metrics (a goroutine), no prefixes: the keys as
		// memberlist writes them.
		if _, err := gometrics.NewGlobal(&gometrics.Config{TimerGranularity: time.Millisecond, ProfileInterval: time.Second, FilterDefault: true}, s); err == nil {
			traffic.Store(s)
		}
	})
}

// ReadTraffic returns the traffic counted so far (zeros before
// CountTraffic).
func ReadTraffic() Traffic {
	t := traffic.Load()
	if t == nil {
		return Traffic{}
	}
	return Traffic{t.streams.Load(), t.streamBytes.Load(), t.gossipBytes.Load()}
}

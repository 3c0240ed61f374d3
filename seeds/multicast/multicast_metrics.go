package multicast

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// mcCounters counts what a multicast backend has sent and received. Every
// received packet is counted in received and in at most one of the other
// receive counters; a node's own announcements, which come back on the
// loopback, are counted in received only.
type mcCounters struct {
	received     atomic.Uint64 // packets read from the group
	accepted     atomic.Uint64 // announcements that added or refreshed a peer
	malformed    atomic.Uint64 // packets that are not a valid announcement
	badMAC       atomic.Uint64 // missing, unexpected or wrong HMAC
	otherCluster atomic.Uint64 // announcements of another cluster
	stale        atomic.Uint64 // outside the timestamp window, or replayed
	rateLimited  atomic.Uint64 // dropped by the per-source rate limit
	tableFull    atomic.Uint64 // new peers dropped because max peers are known
	sent         atomic.Uint64 // announcements sent
	sendErrors   atomic.Uint64 // announcements that could not be sent
}

// mcStats is a snapshot of mcCounters.
type mcStats struct {
	Received, Accepted, Malformed, BadMAC, OtherCluster uint64
	Stale, RateLimited, TableFull, Sent, SendErrors     uint64
}

// stats returns a snapshot of the counters.
func (c *mcCounters) stats() mcStats {
	return mcStats{
		Received:     c.received.Load(),
		Accepted:     c.accepted.Load(),
		Malformed:    c.malformed.Load(),
		BadMAC:       c.badMAC.Load(),
		OtherCluster: c.otherCluster.Load(),
		Stale:        c.stale.Load(),
		RateLimited:  c.rateLimited.Load(),
		TableFull:    c.tableFull.Load(),
		Sent:         c.sent.Load(),
		SendErrors:   c.sendErrors.Load(),
	}
}

// newMulticastDesc describes gencluster_multicast_packets_total for the
// backend named backend. The Node adds its node label when it registers
// the backend.
func newMulticastDesc(backend string) *prometheus.Desc {
	return prometheus.NewDesc("gencluster_multicast_packets_total",
		"Multicast discovery packets, by result: received, accepted, malformed, bad_mac, other_cluster, stale, rate_limited, table_full (received); sent, send_error (sent).",
		[]string{"result"}, prometheus.Labels{"backend": backend})
}

// Describe sends the one metric description of the backend's counters. It
// makes the backend a prometheus.Collector, which the Node registers on
// its WithMetrics Registerer.
func (m *multicast) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

// Collect sends gencluster_multicast_packets_total, one series per result.
func (m *multicast) Collect(ch chan<- prometheus.Metric) {
	s := m.stats()
	for _, v := range []struct {
		result string
		n      uint64
	}{
		{"received", s.Received}, {"accepted", s.Accepted}, {"malformed", s.Malformed},
		{"bad_mac", s.BadMAC}, {"other_cluster", s.OtherCluster}, {"stale", s.Stale},
		{"rate_limited", s.RateLimited}, {"table_full", s.TableFull},
		{"sent", s.Sent}, {"send_error", s.SendErrors},
	} {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(v.n), v.result)
	}
}

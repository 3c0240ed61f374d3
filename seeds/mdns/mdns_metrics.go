package mdns

import "github.com/prometheus/client_golang/prometheus"

// mdnsResult is what became of one instance a browse heard.
type mdnsResult int

const (
	mdnsAccepted     mdnsResult = iota // a peer
	mdnsSelf                           // this node's own instance
	mdnsOtherService                   // an instance of another service
	mdnsOtherFamily                    // only an address of the other IP family
	mdnsIncomplete                     // no port or no address
	mdnsResults
)

var mdnsResultNames = [mdnsResults]string{"accepted", "self", "other_service", "other_family", "incomplete"}

// newMDNSDesc describes gencluster_mdns_events_total for the backend
// named backend; the Node adds its node label when it registers it.
func newMDNSDesc(backend string) *prometheus.Desc {
	return prometheus.NewDesc("gencluster_mdns_events_total",
		"mDNS discovery events, by result: browse_ok, browse_error (browses); accepted, self, other_service, other_family, incomplete (the instances the browses heard).",
		[]string{"result"}, prometheus.Labels{"backend": backend})
}

// Describe sends the one metric description of the backend's counters,
// which makes the backend a prometheus.Collector: the Node registers it on
// its WithMetrics Registerer.
func (m *mdnsDiscovery) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

// Collect sends gencluster_mdns_events_total, one series per result.
func (m *mdnsDiscovery) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.browseOK.Load()), "browse_ok")
	ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.browseErr.Load()), "browse_error")
	for r, name := range mdnsResultNames {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.answers[r].Load()), name)
	}
}

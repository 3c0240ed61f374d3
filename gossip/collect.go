package gossip

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns what the Node registers for this Gossip: the
// collectors of Config.Metrics, which the go-metrics bridge feeds, and
// gencluster_health_score, read from memberlist at scrape time. Without
// Config.Metrics there are none.
func (g *Gossip) Collectors() []prometheus.Collector {
	if g.metrics == nil {
		return nil
	}
	health := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gencluster_health_score", Help: "memberlist's Lifeguard awareness score: 0 is healthy, higher means this node is slow to answer probes.",
		ConstLabels: prometheus.Labels{"node": g.name},
	}, func() float64 { return float64(g.HealthScore()) })
	return append(slices.Clone(g.metrics.Collectors()), health)
}

package gossip

import (
	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are one Gossip's memberlist metrics as Prometheus collectors,
// fed by the go-metrics bridge (bridge.go) once the Gossip is started with
// them in Config.Metrics. The mapping covers every metric memberlist v0.7.0 emits except
// memberlist.health.score (gencluster_health_score reads it directly);
// keys it does not know are dropped.
type Metrics struct {
	tcpAccepts, tcpConnects          prometheus.Counter
	tcpSent, udpSent, udpReceived    prometheus.Counter
	degradedProbes, degradedTimeouts prometheus.Counter
	messages                         *prometheus.CounterVec
	nodes                            *prometheus.GaugeVec
	localState                       prometheus.Gauge
	broadcastQueue                   prometheus.Gauge
	remoteState                      prometheus.Histogram
	probeDur, gossipDur, pushPullDur prometheus.Histogram
	nameConflicts                    prometheus.Counter
	all                              []prometheus.Collector
}

// NewMetrics returns the collectors of a Gossip, each with the constant
// label node=<node>. Register them yourself (Collectors).
func NewMetrics(node string) *Metrics {
	cl := prometheus.Labels{"node": node}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "gencluster_memberlist_" + name, Help: help, ConstLabels: cl})
	}
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gencluster_memberlist_" + name, Help: help, ConstLabels: cl, Buckets: buckets})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "gencluster_memberlist_" + name, Help: help, ConstLabels: cl})
	}
	m := &Metrics{
		tcpAccepts:       counter("tcp_accepts_total", "TCP connections memberlist accepted (memberlist.tcp.accept)."),
		tcpConnects:      counter("tcp_connects_total", "TCP connections memberlist opened (memberlist.tcp.connect)."),
		tcpSent:          counter("tcp_sent_bytes_total", "Bytes memberlist sent over TCP (memberlist.tcp.sent)."),
		udpSent:          counter("udp_sent_bytes_total", "Bytes memberlist sent over UDP (memberlist.udp.sent)."),
		udpReceived:      counter("udp_received_bytes_total", "Bytes memberlist received over UDP (memberlist.udp.received)."),
		degradedProbes:   counter("degraded_probes_total", "Probes that needed more than the base timeout because this node was degraded (memberlist.degraded.probe)."),
		degradedTimeouts: counter("degraded_timeouts_total", "Suspicion timeouts reached with too few confirmations (memberlist.degraded.timeout)."),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gencluster_memberlist_messages_total", Help: "alive, suspect and dead messages memberlist processed (memberlist.msg.*).", ConstLabels: cl,
		}, []string{"type"}),
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gencluster_memberlist_nodes", Help: "Nodes in memberlist's list by state (alive, suspect, dead, left), as of the last push-pull (memberlist.node.instances).", ConstLabels: cl,
		}, []string{"state"}),
		localState:     gauge("push_pull_local_state_bytes", "Size of the local state sent in the last push-pull (memberlist.size.local)."),
		broadcastQueue: gauge("broadcast_queue_length", "Broadcasts waiting to be gossiped, last sample (memberlist.queue.broadcasts)."),
		remoteState:    hist("push_pull_remote_state_bytes", "Size of the remote state received in push-pulls (memberlist.size.remote).", prometheus.ExponentialBuckets(256, 4, 8)),
		probeDur:       hist("probe_duration_seconds", "Time one failure-detection probe took (memberlist.probeNode).", prometheus.DefBuckets),
		gossipDur:      hist("gossip_duration_seconds", "Time one gossip round took (memberlist.gossip).", prometheus.DefBuckets),
		pushPullDur:    hist("push_pull_duration_seconds", "Time one push-pull state exchange took (memberlist.pushPullNode).", prometheus.DefBuckets),
		nameConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gencluster_name_conflicts_total", ConstLabels: cl,
			Help: "Times this node, after Start, found its name held by a live member that started earlier (it is the claimant; see /healthz).",
		}),
	}
	for _, t := range []string{"alive", "suspect", "dead"} {
		m.messages.WithLabelValues(t)
	}
	m.all = []prometheus.Collector{m.tcpAccepts, m.tcpConnects, m.tcpSent, m.udpSent, m.udpReceived,
		m.degradedProbes, m.degradedTimeouts, m.messages, m.nodes, m.localState, m.broadcastQueue,
		m.remoteState, m.probeDur, m.gossipDur, m.pushPullDur, m.nameConflicts}
	return m
}

// Collectors returns every collector, to register.
func (m *Metrics) Collectors() []prometheus.Collector { return m.all }

// mlKey returns the key's parts after "memberlist", or false.
func mlKey(key []string) (a, b string, ok bool) {
	if len(key) < 2 || key[0] != "memberlist" {
		return "", "", false
	}
	if len(key) > 2 {
		b = key[2]
	}
	return key[1], b, true
}

func labelValue(labels []gometrics.Label, name string) string {
	for _, l := range labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

func (m *Metrics) counter(key []string, val float32, _ []gometrics.Label) {
	a, b, ok := mlKey(key)
	if !ok || val < 0 {
		return
	}
	v := float64(val)
	switch a + "." + b {
	case "tcp.accept":
		m.tcpAccepts.Add(v)
	case "tcp.connect":
		m.tcpConnects.Add(v)
	case "tcp.sent":
		m.tcpSent.Add(v)
	case "udp.sent":
		m.udpSent.Add(v)
	case "udp.received":
		m.udpReceived.Add(v)
	case "degraded.probe":
		m.degradedProbes.Add(v)
	case "degraded.timeout":
		m.degradedTimeouts.Add(v)
	case "msg.alive", "msg.suspect", "msg.dead":
		m.messages.WithLabelValues(b).Add(v)
	}
}

func (m *Metrics) gauge(key []string, val float32, labels []gometrics.Label) {
	a, b, ok := mlKey(key)
	if !ok {
		return
	}
	switch a + "." + b {
	case "node.instances":
		if s := labelValue(labels, "node_state"); s != "" {
			m.nodes.WithLabelValues(s).Set(float64(val))
		}
	case "size.local":
		m.localState.Set(float64(val))
	}
}

// sample handles AddSample and MeasureSince; the bridge's timers are in
// milliseconds.
func (m *Metrics) sample(key []string, val float32, _ []gometrics.Label) {
	a, b, ok := mlKey(key)
	if !ok {
		return
	}
	v := float64(val)
	switch a + "." + b {
	case "queue.broadcasts":
		m.broadcastQueue.Set(v)
	case "size.remote":
		m.remoteState.Observe(v)
	case "probeNode.":
		m.probeDur.Observe(v / 1000)
	case "gossip.":
		m.gossipDur.Observe(v / 1000)
	case "pushPullNode.":
		m.pushPullDur.Observe(v / 1000)
	}
}

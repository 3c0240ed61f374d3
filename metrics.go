package gencluster

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/seeds"
)

// WithMetrics registers the node's Prometheus collectors on reg, and only
// on reg: gencluster touches no global Prometheus registry. Every series
// carries the constant label node=<the node's name>, so several Nodes of
// one process can share one Registerer (their names differ, as they must
// in a cluster anyway). To add labels of your own, pass
// prometheus.WrapRegistererWith(labels, reg). Start fails if a collector
// cannot be registered (say, another running Node with the same name on
// reg); Leave and Close unregister them, so a Node restarted under its old
// name can register again.
//
// Discovery backends with metrics of their own (those that implement
// prometheus.Collector, such as seeds.Multicast's
// gencluster_multicast_packets_total) are registered on reg too, with the
// node label added, and unregistered with the rest.
//
// With the default memberlist Dist, memberlist's own metrics are bridged
// too (gencluster_memberlist_*). memberlist emits them through the
// process-wide hashicorp/go-metrics global; see README.md (Operating a cluster) for what
// the bridge does to that global.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return errors.New("gencluster: WithMetrics: nil Registerer")
		}
		c.registerer = reg
		return nil
	}
}

// nodeMetrics holds one Node's collectors. It is the refresh loop's
// observer. Its methods are safe on a nil receiver (no WithMetrics).
type nodeMetrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	events    *prometheus.CounterVec
	discDur   *prometheus.HistogramVec
	discErrs  *prometheus.CounterVec
	discPeers *prometheus.GaugeVec
	connects  *prometheus.CounterVec
	refresh   prometheus.Histogram

	ml      *memberlistMetrics
	routeID string // go-metrics bridge route; empty when not bridged

	unregisterOnce sync.Once
}

// newNodeMetrics builds, but does not register, the collectors.
func newNodeMetrics(reg prometheus.Registerer, name string) *nodeMetrics {
	cl := prometheus.Labels{"node": name}
	m := &nodeMetrics{
		reg: reg,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gencluster_events_total", Help: "Membership events published, by type (join, update, leave, fail).", ConstLabels: cl,
		}, []string{"type"}),
		discDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gencluster_discovery_duration_seconds", Help: "Time one discovery backend took to answer; the _count is the number of runs.", ConstLabels: cl,
			Buckets: prometheus.DefBuckets,
		}, []string{"backend"}),
		discErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gencluster_discovery_errors_total", Help: "Discovery runs that failed, by backend.", ConstLabels: cl,
		}, []string{"backend"}),
		discPeers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gencluster_discovery_peers", Help: "Addresses the backend returned on its last run.", ConstLabels: cl,
		}, []string{"backend"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gencluster_connect_attempts_total", Help: "Joins of discovered addresses attempted by the refresh loop, by result (ok, error).", ConstLabels: cl,
		}, []string{"result"}),
		refresh: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gencluster_refresh_duration_seconds", Help: "Time one refresh pass (discovery plus joins) took.", ConstLabels: cl,
			Buckets: prometheus.DefBuckets,
		}),
	}
	for _, t := range []EventType{EventJoin, EventUpdate, EventLeave, EventFail} {
		m.events.WithLabelValues(t.String())
	}
	m.connects.WithLabelValues("ok")
	m.connects.WithLabelValues("error")
	m.collectors = []prometheus.Collector{m.events, m.discDur, m.discErrs, m.discPeers, m.connects, m.refresh}
	return m
}

// initMetrics sets up metrics for WithMetrics before the Dist starts: the
// refresh loop's observer and the memberlist bridge's route.
func (n *Node) initMetrics() {
	if n.cfg.registerer == nil {
		return
	}
	m := newNodeMetrics(n.cfg.registerer, n.name)
	for _, d := range n.cfg.seeds {
		for _, b := range seeds.Backends(d) {
			name := seeds.Name(b)
			m.discDur.WithLabelValues(name)
			m.discErrs.WithLabelValues(name)
			m.discPeers.WithLabelValues(name)
			// A backend with metrics of its own is registered with the
			// node label that the node's collectors carry as ConstLabels.
			if c, ok := b.(prometheus.Collector); ok {
				m.collectors = append(m.collectors, prometheus.WrapCollectorWith(prometheus.Labels{"node": n.name}, c))
			}
		}
	}
	if n.cfg.dist == nil {
		m.ml = newMemberlistMetrics(n.name)
		m.collectors = append(m.collectors, m.ml.collectors()...)
		m.routeID = bridge.add(m.ml)
	}
	m.collectors = append(m.collectors,
		&membersCollector{n: n, desc: prometheus.NewDesc("gencluster_members",
			"Live members as this node sees them, by state (alive, suspect).", []string{"state"}, prometheus.Labels{"node": n.name})},
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gencluster_events_coalesced_total", Help: "Events merged into a newer event of the same member because a subscriber was behind.",
			ConstLabels: prometheus.Labels{"node": n.name},
		}, func() float64 { return float64(n.hub.coalesced()) }),
	)
	n.met = m
	n.obs = m
}

// registerMetrics registers the collectors once the Dist runs. On error
// none stays registered.
func (n *Node) registerMetrics() error {
	m := n.met
	if m == nil {
		return nil
	}
	if n.gossip != nil {
		g := n.gossip
		m.collectors = append(m.collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gencluster_health_score", Help: "memberlist's Lifeguard awareness score: 0 is healthy, higher means this node is slow to answer probes.",
			ConstLabels: prometheus.Labels{"node": n.name},
		}, func() float64 { return float64(g.HealthScore()) }))
	}
	for i, c := range m.collectors {
		if err := m.reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				m.reg.Unregister(done)
			}
			m.collectors = nil
			return fmt.Errorf("gencluster: WithMetrics: register node %q: %w", n.name, err)
		}
	}
	return nil
}

// unregister removes the collectors and the bridge route. It runs once.
func (m *nodeMetrics) unregister() {
	if m == nil {
		return
	}
	m.unregisterOnce.Do(func() {
		if m.routeID != "" {
			bridge.remove(m.routeID)
		}
		for _, c := range m.collectors {
			m.reg.Unregister(c)
		}
	})
}

// tuneMemberlist adds the bridge's route label to memberlist's
// MetricLabels. It runs after the WithMemberlistConfig functions.
func (m *nodeMetrics) tuneMemberlist(mc *memberlist.Config) {
	if m == nil || m.routeID == "" {
		return
	}
	bridge.install()
	// Clip: memberlist appends to this slice from several goroutines,
	// which would race on spare capacity.
	mc.MetricLabels = slices.Clip(append(slices.Clone(mc.MetricLabels), gometrics.Label{Name: bridgeLabel, Value: m.routeID}))
}

func (m *nodeMetrics) event(ev Event) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(ev.Type.String()).Inc()
}

func (m *nodeMetrics) discovered(backend string, found int, took time.Duration, err error) {
	m.discDur.WithLabelValues(backend).Observe(took.Seconds())
	m.discPeers.WithLabelValues(backend).Set(float64(found))
	if err != nil {
		m.discErrs.WithLabelValues(backend).Inc()
	}
}

func (m *nodeMetrics) connected(_ string, err error) {
	if err != nil {
		m.connects.WithLabelValues("error").Inc()
		return
	}
	m.connects.WithLabelValues("ok").Inc()
}

func (m *nodeMetrics) refreshed(took time.Duration) { m.refresh.Observe(took.Seconds()) }

// membersCollector counts the live members at scrape time.
type membersCollector struct {
	n    *Node
	desc *prometheus.Desc
}

func (c *membersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *membersCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[State]int{StateAlive: 0, StateSuspect: 0}
	for _, m := range c.n.Members() {
		counts[m.State]++
	}
	for _, s := range []State{StateAlive, StateSuspect} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), s.String())
	}
}

// The go-metrics bridge.
//
// memberlist v0.7.0 emits its metrics only through go-metrics' package
// functions (metrics.IncrCounterWithLabels, ...), which go to one
// process-wide *metrics.Metrics; there is no per-instance sink. So the
// bridge installs, once and only when a Node with WithMetrics and the
// memberlist Dist starts, a global go-metrics instance whose sink routes
// each sample by the bridgeLabel that every such Node adds to memberlist's
// MetricLabels, to that Node's collectors. Samples without a known route
// are dropped. If another go-metrics global was installed before, every
// sample is also forwarded to it (without the route label), so what it
// received before keeps arriving.

// bridgeLabel is the go-metrics label that routes memberlist's samples.
const bridgeLabel = "gencluster_node_id"

// initialGoMetrics is go-metrics' default global (a black hole), to tell
// whether the program installed its own before the bridge.
var initialGoMetrics = gometrics.Default()

var bridge routes

type routes struct {
	once   sync.Once
	nextID atomic.Uint64
	m      sync.Map // route id -> *memberlistMetrics
}

func (r *routes) add(ml *memberlistMetrics) string {
	id := strconv.FormatUint(r.nextID.Add(1), 10)
	r.m.Store(id, ml)
	return id
}

func (r *routes) remove(id string) { r.m.Delete(id) }

func (r *routes) install() {
	r.once.Do(func() {
		s := &routingSink{r: r}
		if prev := gometrics.Default(); prev != initialGoMetrics {
			s.prev = prev
		}
		// No runtime metrics (they would start a goroutine), no host or
		// service prefix: keys reach the sink as memberlist wrote them.
		// Timers in milliseconds, go-metrics' default.
		_, _ = gometrics.NewGlobal(&gometrics.Config{
			TimerGranularity: time.Millisecond,
			ProfileInterval:  time.Second,
			FilterDefault:    true,
		}, s)
	})
}

// routingSink is the bridge's go-metrics sink.
var _ gometrics.PrecisionGaugeMetricSink = (*routingSink)(nil)

type routingSink struct {
	r    *routes
	prev *gometrics.Metrics // the program's own global, if any
}

// route finds the route label. rest is labels without it.
func (s *routingSink) route(labels []gometrics.Label) (ml *memberlistMetrics, rest []gometrics.Label) {
	i := slices.IndexFunc(labels, func(l gometrics.Label) bool { return l.Name == bridgeLabel })
	if i < 0 {
		return nil, labels
	}
	if v, ok := s.r.m.Load(labels[i].Value); ok {
		ml = v.(*memberlistMetrics)
	}
	if s.prev != nil {
		rest = slices.Delete(slices.Clone(labels), i, i+1)
	}
	return ml, rest
}

func (s *routingSink) SetGauge(key []string, val float32) {
	if s.prev != nil {
		s.prev.SetGauge(key, val)
	}
}

func (s *routingSink) SetGaugeWithLabels(key []string, val float32, labels []gometrics.Label) {
	ml, rest := s.route(labels)
	if ml != nil {
		ml.gauge(key, val, labels)
	}
	if s.prev != nil {
		s.prev.SetGaugeWithLabels(key, val, rest)
	}
}

// SetPrecisionGauge and SetPrecisionGaugeWithLabels make the sink a
// PrecisionGaugeMetricSink, so that 64-bit gauges of other libraries still
// reach the program's own instance.
func (s *routingSink) SetPrecisionGauge(key []string, val float64) {
	if s.prev != nil {
		s.prev.SetPrecisionGauge(key, val)
	}
}

func (s *routingSink) SetPrecisionGaugeWithLabels(key []string, val float64, labels []gometrics.Label) {
	if s.prev != nil {
		_, rest := s.route(labels)
		s.prev.SetPrecisionGaugeWithLabels(key, val, rest)
	}
}

func (s *routingSink) EmitKey(key []string, val float32) {
	if s.prev != nil {
		s.prev.EmitKey(key, val)
	}
}

func (s *routingSink) IncrCounter(key []string, val float32) {
	if s.prev != nil {
		s.prev.IncrCounter(key, val)
	}
}

func (s *routingSink) IncrCounterWithLabels(key []string, val float32, labels []gometrics.Label) {
	ml, rest := s.route(labels)
	if ml != nil {
		ml.counter(key, val, labels)
	}
	if s.prev != nil {
		s.prev.IncrCounterWithLabels(key, val, rest)
	}
}

func (s *routingSink) AddSample(key []string, val float32) {
	if s.prev != nil {
		s.prev.AddSample(key, val)
	}
}

func (s *routingSink) AddSampleWithLabels(key []string, val float32, labels []gometrics.Label) {
	ml, rest := s.route(labels)
	if ml != nil {
		ml.sample(key, val, labels)
	}
	if s.prev != nil {
		s.prev.AddSampleWithLabels(key, val, rest)
	}
}

// memberlistMetrics are one Node's memberlist metrics, fed by the bridge.
// The mapping covers every metric memberlist v0.7.0 emits except
// memberlist.health.score (gencluster_health_score reads it directly);
// keys it does not know are dropped.
type memberlistMetrics struct {
	tcpAccepts, tcpConnects          prometheus.Counter
	tcpSent, udpSent, udpReceived    prometheus.Counter
	degradedProbes, degradedTimeouts prometheus.Counter
	messages                         *prometheus.CounterVec
	nodes                            *prometheus.GaugeVec
	localState                       prometheus.Gauge
	broadcastQueue                   prometheus.Gauge
	remoteState                      prometheus.Histogram
	probeDur, gossipDur, pushPullDur prometheus.Histogram
	all                              []prometheus.Collector
}

func newMemberlistMetrics(node string) *memberlistMetrics {
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
	m := &memberlistMetrics{
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
	}
	for _, t := range []string{"alive", "suspect", "dead"} {
		m.messages.WithLabelValues(t)
	}
	m.all = []prometheus.Collector{m.tcpAccepts, m.tcpConnects, m.tcpSent, m.udpSent, m.udpReceived,
		m.degradedProbes, m.degradedTimeouts, m.messages, m.nodes, m.localState, m.broadcastQueue,
		m.remoteState, m.probeDur, m.gossipDur, m.pushPullDur}
	return m
}

func (m *memberlistMetrics) collectors() []prometheus.Collector { return m.all }

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

func (m *memberlistMetrics) counter(key []string, val float32, _ []gometrics.Label) {
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

func (m *memberlistMetrics) gauge(key []string, val float32, labels []gometrics.Label) {
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
func (m *memberlistMetrics) sample(key []string, val float32, _ []gometrics.Label) {
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

// observeEvent sees every event the hub publishes, inside memberlist's
// callback: it only counts it (member changes are logged by logEvents,
// off that path).
func (n *Node) observeEvent(ev Event) {
	n.met.event(ev)
}

package gencluster

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

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
// refresh loop's observer and the node's collectors.
func (n *Node) initMetrics() {
	if n.cfg.registerer == nil {
		return
	}
	m := newNodeMetrics(n.cfg.registerer, n.name)
	for _, b := range n.cfg.backends {
		m.discDur.WithLabelValues(b.Name)
		m.discErrs.WithLabelValues(b.Name)
		m.discPeers.WithLabelValues(b.Name)
		// A backend with metrics of its own is registered with the node
		// label that the node's collectors carry as ConstLabels.
		if b.Collector != nil {
			m.collectors = append(m.collectors, prometheus.WrapCollectorWith(prometheus.Labels{"node": n.name}, b.Collector))
		}
	}
	m.collectors = append(m.collectors,
		&membersCollector{n: n, desc: prometheus.NewDesc("gencluster_members",
			"Live members as this node sees them, by state (alive, draining; memberlist does not expose suspects).", []string{"state"}, prometheus.Labels{"node": n.name})},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gencluster_discovered_not_members", Help: "Discovered addresses that are not live members and whose last join failed.",
			ConstLabels: prometheus.Labels{"node": n.name},
		}, func() float64 { return float64(n.status.NotMembers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gencluster_isolated", Help: "1 while the node is isolated: alone, and discovery has listed addresses it cannot join for 3 refresh intervals.",
			ConstLabels: prometheus.Labels{"node": n.name},
		}, func() float64 {
			if isolated, _ := n.Isolated(); isolated {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gencluster_events_coalesced_total", Help: "Events merged into a newer event of the same member because a subscriber was behind.",
			ConstLabels: prometheus.Labels{"node": n.name},
		}, func() float64 { return float64(n.hub.Coalesced()) }),
	)
	n.met = m
	n.obs = m
}

// collectorDist is a Dist with metrics of its own, labelled node=<name>
// as the node's are (the gossip adapter: memberlist's metrics and health
// score). They are registered and unregistered with the node's. A Dist
// without it adds none.
type collectorDist interface {
	Collectors() []prometheus.Collector
}

// registerMetrics registers the collectors once the Dist runs. On error
// none stays registered.
func (n *Node) registerMetrics() error {
	m := n.met
	if m == nil {
		return nil
	}
	if c, ok := n.dist.(collectorDist); ok {
		m.collectors = append(m.collectors, c.Collectors()...)
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

// unregister removes the collectors. It runs once.
func (m *nodeMetrics) unregister() {
	if m == nil {
		return
	}
	m.unregisterOnce.Do(func() {
		for _, c := range m.collectors {
			m.reg.Unregister(c)
		}
	})
}

func (m *nodeMetrics) event(ev Event) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(ev.Type.String()).Inc()
}

// Discovered counts one backend run.
func (m *nodeMetrics) Discovered(backend string, found int, took time.Duration, err error) {
	m.discDur.WithLabelValues(backend).Observe(took.Seconds())
	m.discPeers.WithLabelValues(backend).Set(float64(found))
	if err != nil {
		m.discErrs.WithLabelValues(backend).Inc()
	}
}

// Connected counts one join attempt.
func (m *nodeMetrics) Connected(_ string, err error) {
	if err != nil {
		m.connects.WithLabelValues("error").Inc()
		return
	}
	m.connects.WithLabelValues("ok").Inc()
}

// Refreshed times one refresh pass.
func (m *nodeMetrics) Refreshed(took time.Duration) { m.refresh.Observe(took.Seconds()) }

// membersCollector counts the live members at scrape time.
type membersCollector struct {
	n    *Node
	desc *prometheus.Desc
}

func (c *membersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reports one series per live state, alive and draining, both
// always present (0 when none), so that a sum over state is the live
// count and an alert on draining needs no absent().
func (c *membersCollector) Collect(ch chan<- prometheus.Metric) {
	count := map[State]int{}
	for _, m := range c.n.Members() {
		count[m.State]++
	}
	for _, s := range []State{StateAlive, StateDraining} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(count[s]), s.String())
	}
}

// observeEvent sees every event the hub publishes, inside memberlist's
// callback: it only counts it (member changes are logged by logEvents,
// off that path).
func (n *Node) observeEvent(ev Event) {
	n.met.event(ev)
}

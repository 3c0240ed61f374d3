package gossip

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
)

// The go-metrics bridge.
//
// memberlist v0.7.0 emits its metrics only through go-metrics' package
// functions (metrics.IncrCounterWithLabels, ...), which go to one
// process-wide *metrics.Metrics; there is no per-instance sink. So the
// bridge installs, once and only when a Gossip with Config.Metrics
// starts, a global go-metrics instance whose sink routes
// each sample by the bridgeLabel that every such Gossip adds to
// memberlist's MetricLabels, to that Gossip's Metrics. Samples without a known route
// are dropped. If another go-metrics global was installed before, every
// sample is also forwarded to it (without the route label), so what it
// received before keeps arriving.

// bridgeLabel is the go-metrics label that routes memberlist's samples.
const bridgeLabel = "gencluster_node_id"

// initialGoMetrics is go-metrics' default global (a black hole), to tell
// whether the program installed its own before the bridge.
var initialGoMetrics = gometrics.Default()

var metricsBridge routes

type routes struct {
	once   sync.Once
	nextID atomic.Uint64
	m      sync.Map // route id -> *Metrics
}

func (r *routes) add(ml *Metrics) string {
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
func (s *routingSink) route(labels []gometrics.Label) (ml *Metrics, rest []gometrics.Label) {
	i := slices.IndexFunc(labels, func(l gometrics.Label) bool { return l.Name == bridgeLabel })
	if i < 0 {
		return nil, labels
	}
	if v, ok := s.r.m.Load(labels[i].Value); ok {
		ml = v.(*Metrics)
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

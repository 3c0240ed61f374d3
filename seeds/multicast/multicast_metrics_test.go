package multicast

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMulticastCollector: the backend is a prometheus.Collector with one
// series per result, labelled with its name, that a pedantic registry and
// promlint accept.
func TestMulticastCollector(t *testing.T) {
	d := New("test")
	c, ok := d.(prometheus.Collector)
	if !ok {
		t.Fatalf("Multicast returned %T, not a prometheus.Collector", d)
	}
	if n := testutil.CollectAndCount(c, "gencluster_multicast_packets_total"); n != 10 {
		t.Errorf("series = %d, want 10", n)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prometheus.WrapCollectorWith(prometheus.Labels{"node": "n"}, c))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, m := range mfs[0].GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		if labels["backend"] != "mcast+test" || labels["node"] != "n" || labels["result"] == "" {
			t.Errorf("labels %v, want backend=mcast+test, node=n and a result", labels)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

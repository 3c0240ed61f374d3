package gossip

import (
	"strings"
	"testing"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBridgeRouting feeds the routing sink directly: samples go to the
// route named by the label, and to the program's own go-metrics instance
// without that label.
func TestBridgeRouting(t *testing.T) {
	inm := gometrics.NewInmemSink(time.Hour, time.Hour)
	prev, err := gometrics.New(&gometrics.Config{FilterDefault: true, TimerGranularity: time.Millisecond}, inm)
	if err != nil {
		t.Fatal(err)
	}
	var r routes
	a, b := NewMetrics("a"), NewMetrics("b")
	ida, idb := r.add(a), r.add(b)
	s := &routingSink{r: &r, prev: prev}
	lbl := func(id string, extra ...gometrics.Label) []gometrics.Label {
		return append([]gometrics.Label{{Name: "user", Value: "x"}, {Name: bridgeLabel, Value: id}}, extra...)
	}
	s.IncrCounterWithLabels([]string{"memberlist", "udp", "sent"}, 100, lbl(ida))
	s.IncrCounterWithLabels([]string{"memberlist", "udp", "sent"}, 7, lbl(idb))
	s.IncrCounterWithLabels([]string{"memberlist", "msg", "dead"}, 1, lbl(idb))
	s.SetGaugeWithLabels([]string{"memberlist", "node", "instances"}, 3, lbl(ida, gometrics.Label{Name: "node_state", Value: "alive"}))
	s.AddSampleWithLabels([]string{"memberlist", "probeNode"}, 250, lbl(ida)) // ms
	s.IncrCounterWithLabels([]string{"memberlist", "udp", "sent"}, 5, lbl("unknown"))
	s.IncrCounterWithLabels([]string{"other", "thing"}, 5, lbl(ida))

	if v := testutil.ToFloat64(a.udpSent); v != 100 {
		t.Errorf("a udp sent = %v", v)
	}
	if v := testutil.ToFloat64(b.udpSent); v != 7 {
		t.Errorf("b udp sent = %v", v)
	}
	if v := testutil.ToFloat64(b.messages.WithLabelValues("dead")); v != 1 {
		t.Errorf("b dead messages = %v", v)
	}
	if v := testutil.ToFloat64(a.nodes.WithLabelValues("alive")); v != 3 {
		t.Errorf("a alive nodes = %v", v)
	}
	r.remove(ida)
	s.IncrCounterWithLabels([]string{"memberlist", "udp", "sent"}, 100, lbl(ida))
	if v := testutil.ToFloat64(a.udpSent); v != 100 {
		t.Errorf("a udp sent after remove = %v, want 100", v)
	}

	// The program's own sink got everything, without the route label.
	var got []string
	for _, iv := range inm.Data() {
		for k, c := range iv.Counters {
			got = append(got, k)
			if strings.Contains(k, bridgeLabel) || !strings.Contains(k, "user=x") {
				t.Errorf("forwarded counter %q (labels %v)", k, c.Labels)
			}
		}
	}
	if len(got) == 0 {
		t.Error("nothing forwarded to the previous go-metrics instance")
	}
}

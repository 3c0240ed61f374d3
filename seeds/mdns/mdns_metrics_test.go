package mdns

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	hmdns "github.com/hashicorp/mdns"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// TestMDNSCollector: every instance a browse hears is counted under one
// result, browses under browse_ok or browse_error, with the backend's name
// as a label, in a form a pedantic registry and promlint accept.
func TestMDNSCollector(t *testing.T) {
	f := &fakeMDNS{answer: func(n int) ([]*hmdns.ServiceEntry, error) {
		if n > 1 {
			return nil, context.DeadlineExceeded
		}
		return []*hmdns.ServiceEntry{
			entry("p1._gencluster._udp.local.", "10.0.0.2", 7946),
			entry("p2._gencluster._udp.local.", "10.0.0.3", 7946),
			entry("me._gencluster._udp.local.", "10.0.0.1", 7946),
			entry("x._http._tcp.local.", "10.0.0.4", 80),
			entry("v6._gencluster._udp.local.", "fd00::1", 7946),
			entry("np._gencluster._udp.local.", "10.0.0.5", 0),
			entry("na._gencluster._udp.local.", "", 7946),
		}, nil
	}}
	d := f.install(New("", BrowseInterval(20*time.Millisecond), QueryTimeout(5*time.Millisecond)))
	stop := startMDNS(t, d, "10.0.0.1:7946")
	testutil.Eventually(t, 5*time.Second, func() bool { return d.browseErr.Load() > 0 }, "a failed browse after the first")
	stop()
	want := `
# HELP gencluster_mdns_events_total mDNS discovery events, by result: browse_ok, browse_error (browses); accepted, self, other_service, other_family, incomplete (the instances the browses heard).
# TYPE gencluster_mdns_events_total counter
gencluster_mdns_events_total{backend="mdns+_gencluster._udp",result="accepted"} 2
gencluster_mdns_events_total{backend="mdns+_gencluster._udp",result="browse_ok"} 1
gencluster_mdns_events_total{backend="mdns+_gencluster._udp",result="incomplete"} 2
gencluster_mdns_events_total{backend="mdns+_gencluster._udp",result="other_family"} 1
gencluster_mdns_events_total{backend="mdns+_gencluster._udp",result="other_service"} 1
gencluster_mdns_events_total{backend="mdns+_gencluster._udp",result="self"} 1
`
	var c prometheus.Collector = d
	errs := d.browseErr.Load()
	if err := promtest.CollectAndCompare(c, strings.NewReader(want+
		`gencluster_mdns_events_total{backend="mdns+_gencluster._udp",result="browse_error"} `+strconv.FormatUint(errs, 10)+"\n")); err != nil {
		t.Error(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prometheus.WrapCollectorWith(prometheus.Labels{"node": "n"}, c))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

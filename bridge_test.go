package gencluster

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// TestBridgeKeepsProgramGlobal checks, in a fresh process (the bridge is
// installed once per process), that a go-metrics global the program
// installed before the first Node keeps receiving memberlist's samples,
// without the route label, while the Prometheus series move too.
func TestBridgeKeepsProgramGlobal(t *testing.T) {
	if os.Getenv("GENCLUSTER_BRIDGE_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBridgeKeepsProgramGlobal$", "-test.count=1")
		cmd.Env = append(os.Environ(), "GENCLUSTER_BRIDGE_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}

	inm := gometrics.NewInmemSink(time.Hour, time.Hour)
	if _, err := gometrics.NewGlobal(&gometrics.Config{ServiceName: "app", FilterDefault: true, TimerGranularity: time.Millisecond}, inm); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	a := startNode(t, append(testOpts(t, "g-0"), WithMetrics(reg))...)
	b := startNode(t, append(testOpts(t, "g-1"), WithSeeds(seeds.Static(a.Addr())))...) // no metrics: no route
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b}, "g-0", "g-1")
	testutil.Eventually(t, 10*time.Second, func() bool {
		v, _ := sample(t, reg, "gencluster_memberlist_udp_sent_bytes_total", "g-0")
		return v > 0
	}, "bridged udp bytes")
	var keys []string
	testutil.Eventually(t, 10*time.Second, func() bool {
		keys = keys[:0]
		for _, iv := range inm.Data() {
			iv.RLock()
			for k := range iv.Counters {
				keys = append(keys, k)
			}
			iv.RUnlock()
		}
		for _, k := range keys {
			if strings.HasPrefix(k, "app.memberlist.udp.sent") {
				return true
			}
		}
		return false
	}, "the program's sink to get memberlist samples")
	for _, k := range keys {
		if strings.Contains(k, "gencluster_node_id") /* gossip.bridgeLabel */ {
			t.Errorf("route label reached the program's sink: %q", k)
		}
	}
}

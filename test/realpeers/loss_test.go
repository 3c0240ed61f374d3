//go:build realpeers

package realpeers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// lossNodes is the cluster size of the packet loss test.
	lossNodes = 8
	// lossHold is how long each loss rate is applied.
	lossHold = 60 * time.Second
	// lossSample is how often every node's /members is read meanwhile.
	lossSample = 250 * time.Millisecond
)

// lossFigures is what one loss phase measured.
type lossFigures struct {
	failEvents  int // fail events logged by any node (every node is alive: each is a false failure)
	events      int // events of any type logged by any node
	minMembers  int // the fewest live members any node listed in any sample
	samples     int // samples taken (one sample reads every node)
	wholeSample int // samples in which every node listed every node
	maxHealth   float64
	dropped     int     // packets the rules dropped
	dropRatio   float64 // and the fraction of node-to-node packets that is
}

// setLoss adds (or removes, with add false) a rule in every host's
// network namespace that drops each packet arriving from another node
// with probability p: a loss of p on every directed link (each packet
// crosses one INPUT chain). Traffic from the gateway (the test's HTTP
// reads) is not dropped. A second rule after it, with no target, counts
// the packets that got through, so that dropRatio can tell the loss
// really applied.
func setLoss(lab *netLab, p float64, add bool) {
	match := []string{"INPUT", "-i", "eth0", "!", "-s", lab.gateway4()}
	drop := append(slices.Clone(match), "-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(p, 'f', 2, 64), "-j", "DROP")
	for _, h := range lab.hosts {
		if add {
			h.run(append([]string{"iptables", "-I"}, match...)...)
			h.run(append([]string{"iptables", "-I"}, drop...)...)
		} else {
			h.run(append([]string{"iptables", "-D"}, drop...)...)
			h.run(append([]string{"iptables", "-D"}, match...)...)
		}
	}
}

// dropRatio returns the packets the loss rules dropped and the fraction
// of the packets from other nodes that they dropped, over every host.
func dropRatio(t *testing.T, lab *netLab) (int, float64) {
	t.Helper()
	var dropped, passed int
	for _, h := range lab.hosts {
		for _, line := range strings.Split(h.run("iptables", "-L", "INPUT", "-n", "-v", "-x"), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || !strings.Contains(line, "eth0") {
				continue
			}
			n, err := strconv.Atoi(f[0])
			if err != nil {
				continue
			}
			if strings.Contains(line, "statistic") {
				dropped += n
			} else {
				passed += n
			}
		}
	}
	if dropped+passed == 0 {
		t.Fatal("the loss rules saw no packet")
	}
	return dropped, float64(dropped) / float64(dropped+passed)
}

// lossPhase applies the loss rate p for lossHold and measures.
func lossPhase(t *testing.T, lab *netLab, nodes []*labNode, p float64) lossFigures {
	t.Helper()
	before := map[string]int{}
	for _, n := range nodes {
		evs, err := n.events()
		if err != nil {
			t.Fatal(err)
		}
		before[n.name] = len(evs)
	}
	f := lossFigures{minMembers: len(nodes)}
	setLoss(lab, p, true)
	removed := false
	defer func() {
		if !removed {
			setLoss(lab, p, false)
		}
	}()
	for end := time.Now().Add(lossHold); time.Now().Before(end); time.Sleep(lossSample) {
		whole := true
		for _, n := range nodes {
			ms, err := n.memberNames()
			if err != nil {
				t.Fatalf("during %.0f%% loss: %v", p*100, err)
			}
			f.minMembers = min(f.minMembers, len(ms))
			whole = whole && len(ms) == len(nodes)
		}
		f.samples++
		if whole {
			f.wholeSample++
		}
		if f.samples%8 == 0 {
			for _, n := range nodes {
				if v, err := n.metricSum("gencluster_health_score", ""); err == nil {
					f.maxHealth = max(f.maxHealth, v)
				}
			}
		}
	}
	f.dropped, f.dropRatio = dropRatio(t, lab)
	setLoss(lab, p, false)
	removed = true
	for _, n := range nodes {
		evs, err := n.events()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs[min(before[n.name], len(evs)):] {
			f.events++
			if e.Type == "fail" {
				f.failEvents++
				t.Logf("%.0f%% loss: %s logged a (false) failure of %s at %s", p*100, n.name, e.Member.Name, e.Time.Format(time.StampMilli))
			}
		}
	}
	return f
}

// TestLoss: an 8-node cluster (memberlist's LAN timers, the production
// defaults: the node program without -fast), each node in its own network
// namespace, gets 5% then 20% random packet loss on every link for 60s
// each (iptables statistic match; this kernel has no netem). Every node
// is alive all along, so every fail event is a false failure. At 5% there
// must be none; at 20% (Lifeguard's local health and suspicion timeouts
// at work) the cluster must stay whole too: no fail event, and every node
// listing all 8 in every sample.
func TestLoss(t *testing.T) {
	checkLeaks(t)
	requireTools(t, "iptables")
	lab := newNetLab(t, true, false)
	hosts := lab.addHosts(lossNodes)
	nodes := startNodes(t, hosts, nodeConf{seeds: staticSeeds(hosts)})
	waitWhole(t, "the cluster forms", clusterTimeout, nodes)
	for _, p := range []float64{0.05, 0.20} {
		f := lossPhase(t, lab, nodes, p)
		pct := fmt.Sprintf("loss_%02.0fpct", p*100)
		figure(t, pct+"_hold", lossHold)
		figure(t, pct+"_false_failures", f.failEvents)
		figure(t, pct+"_events", f.events)
		figure(t, pct+"_min_members_seen", f.minMembers)
		figure(t, pct+"_samples", f.samples)
		figure(t, pct+"_whole_samples", f.wholeSample)
		figure(t, pct+"_max_health_score", f.maxHealth)
		figure(t, pct+"_packets_dropped", f.dropped)
		figure(t, pct+"_measured_drop_ratio", f.dropRatio)
		if f.dropRatio < p/2 || f.dropRatio > p*1.5 {
			t.Errorf("%.0f%% loss: the rules dropped %.1f%% of the packets between nodes", p*100, f.dropRatio*100)
		}
		if f.failEvents > 0 || f.minMembers < len(nodes) {
			t.Errorf("%.0f%% loss for %v: %d false failures, fewest members seen %d of %d; want none and %d",
				p*100, lossHold, f.failEvents, f.minMembers, len(nodes), len(nodes))
		}
		// Whole again before the next phase (or the end).
		heal := waitWhole(t, fmt.Sprintf("whole after %.0f%% loss", p*100), clusterTimeout, nodes)
		figure(t, pct+"_whole_after_loss", heal)
	}
}

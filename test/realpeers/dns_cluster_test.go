//go:build realpeers

package realpeers

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// dnsClusterNodes is the size of the DNS-seeded clusters.
const dnsClusterNodes = 4

// clusterTimeout bounds the formation of a small cluster.
const clusterTimeout = 40 * time.Second

// resolvConfFor is a resolv.conf naming unbound on the lab gateway, in the
// "[ip]:port" form package seeds reads (glibc has no port syntax; the
// node program never uses glibc's resolver).
func resolvConfFor(ips []string, port int) string {
	var b strings.Builder
	for _, ip := range ips {
		fmt.Fprintf(&b, "nameserver %s\n", net.JoinHostPort(ip, strconv.Itoa(port)))
	}
	return b.String()
}

// checkAddrs checks that every node lists every member at the address
// want gives for its name.
func checkAddrs(t *testing.T, nodes []*labNode, want map[string]string) {
	t.Helper()
	for _, o := range nodes {
		ms, err := o.members()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Addr != want[m.Name] {
				t.Errorf("%s lists %s at %s, want %s", o.name, m.Name, m.Addr, want[m.Name])
			}
		}
	}
}

// metricSum returns the sum of the samples of metric in n's /metrics
// whose line contains match.
func (n *labNode) metricSum(metric, match string) (float64, error) {
	b, err := n.get("/metrics")
	if err != nil {
		return 0, err
	}
	v, err := dockertest.SumSamples(bytes.NewReader(b), metric, match)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", n.name, err)
	}
	return v, nil
}

// dnsRefresh is the DNS clusters' refresh interval: short, so that
// refreshJoins sees a few passes quickly.
const dnsRefresh = "1s"

// refreshJoins watches the nodes' refresh loops, once the cluster is
// whole, until every node has run two more discovery passes, and returns
// the successful joins they made meanwhile per second (all nodes
// together). A whole cluster has nothing to join; but a dual-stack node's
// other-family address is never a member's address, so it is joined
// again, and again (see docs/realpeers.md).
func refreshJoins(t *testing.T, nodes []*labNode) float64 {
	t.Helper()
	sum := func(metric, match string) float64 {
		var total float64
		for _, n := range nodes {
			v, err := n.metricSum(metric, match)
			if err != nil {
				t.Fatal(err)
			}
			total += v
		}
		return total
	}
	joins0 := sum("gencluster_connect_attempts_total", `result="ok"`)
	passes0 := map[string]float64{}
	for _, n := range nodes {
		passes0[n.name], _ = n.metricSum("gencluster_refresh_duration_seconds_count", "")
	}
	took := labWait(t, "two more discovery passes on every node", 30*time.Second, 100*time.Millisecond, func() error {
		for _, n := range nodes {
			v, err := n.metricSum("gencluster_refresh_duration_seconds_count", "")
			if err != nil {
				return err
			}
			if v < passes0[n.name]+2 {
				return fmt.Errorf("%s: %v passes, want %v", n.name, v, passes0[n.name]+2)
			}
		}
		return nil
	})
	joins := sum("gencluster_connect_attempts_total", `result="ok"`) - joins0
	return joins / took.Seconds()
}

// TestDNSClusterIPv6: four node processes, each in a network namespace
// with only an IPv6 address, seeded only with dns6+gossip6.rp.test:7946,
// which unbound (on the lab gateway, over IPv6) resolves through bind9
// (authoritative, one AAAA record per node). They form one cluster, each
// member at its IPv6 address.
func TestDNSClusterIPv6(t *testing.T) {
	checkLeaks(t)
	lab := newNetLab(t, false, true)
	hosts := lab.addHosts(dnsClusterNodes)
	var zone strings.Builder
	want := map[string]string{}
	for _, h := range hosts {
		fmt.Fprintf(&zone, "gossip6 AAAA %s\n", h.ip6)
		want[h.name] = fmt.Sprintf("[%s]:%d", h.ip6, gossipPort)
	}
	d := startDNSLab(t, dnsZones{zones: map[string]string{"rp.test": zone.String()}}, lab.gateway6())
	for _, h := range hosts {
		h.setResolvConf(resolvConfFor([]string{lab.gateway6()}, d.unboundPort))
	}
	nodeBinary(t) // built before the clock starts
	start := time.Now()
	nodes := startNodes(t, hosts, nodeConf{seeds: fmt.Sprintf("dns6+gossip6.rp.test:%d", gossipPort), refresh: dnsRefresh, fast: true})
	took := waitWhole(t, "the IPv6 cluster forms", clusterTimeout, nodes)
	checkAddrs(t, nodes, want)
	for _, n := range nodes {
		v, err := n.metricSum("gencluster_discovery_peers", `backend="dns6+`)
		if err != nil || v != dnsClusterNodes {
			t.Errorf("%s: gencluster_discovery_peers{backend=dns6+...} = %v (err %v), want %d", n.name, v, err, dnsClusterNodes)
		}
	}
	var clients []string
	for _, h := range hosts {
		clients = append(clients, h.ip6)
	}
	d.checkAskedUnbound("gossip6.rp.test. AAAA", clients)
	figure(t, "dns_ipv6_cluster_nodes", len(nodes))
	figure(t, "dns_ipv6_cluster_converge", took)
	figure(t, "dns_ipv6_cluster_first_start_to_converged", time.Since(start))
	figure(t, "dns_ipv6_cluster_refresh_joins_per_s_when_whole", refreshJoins(t, nodes))
}

// TestDNSClusterDualStack: four nodes with an IPv4 and an IPv6 address
// each, listening on both ([::]:7946), two advertising their IPv4 address
// and two their IPv6 one, seeded only with dns46+gossip46.rp.test:7946
// (an A and an AAAA record per node, through unbound over IPv4). The
// discovery returns both addresses of every node, and the nodes form one
// cluster, each member at the address it advertises.
func TestDNSClusterDualStack(t *testing.T) {
	checkLeaks(t)
	lab := newNetLab(t, true, true)
	hosts := lab.addHosts(dnsClusterNodes)
	var zone strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&zone, "gossip46 A %s\ngossip46 AAAA %s\n", h.ip4, h.ip6)
	}
	d := startDNSLab(t, dnsZones{zones: map[string]string{"rp.test": zone.String()}}, lab.gateway4(), lab.gateway6())
	want := map[string]string{}
	var nodes []*labNode
	nodeBinary(t)
	start := time.Now()
	for i, h := range hosts {
		h.setResolvConf(resolvConfFor([]string{lab.gateway4()}, d.unboundPort))
		adv := fmt.Sprintf("%s:%d", h.ip4, gossipPort)
		if i%2 == 1 {
			adv = fmt.Sprintf("[%s]:%d", h.ip6, gossipPort)
		}
		want[h.name] = adv
		nodes = append(nodes, startNode(t, h, nodeConf{
			seeds: fmt.Sprintf("dns46+gossip46.rp.test:%d", gossipPort),
			bind:  fmt.Sprintf("[::]:%d", gossipPort), advertise: adv, refresh: dnsRefresh, fast: true,
		}))
	}
	took := waitWhole(t, "the dual-stack cluster forms", clusterTimeout, nodes)
	checkAddrs(t, nodes, want)
	for _, n := range nodes {
		v, err := n.metricSum("gencluster_discovery_peers", `backend="dns46+`)
		if err != nil || v != 2*dnsClusterNodes {
			t.Errorf("%s: gencluster_discovery_peers{backend=dns46+...} = %v (err %v), want %d (an A and an AAAA per node)", n.name, v, err, 2*dnsClusterNodes)
		}
	}
	var clients []string
	for _, h := range hosts {
		clients = append(clients, h.ip4)
	}
	d.checkAskedUnbound("gossip46.rp.test. AAAA", clients)
	d.checkAskedUnbound("gossip46.rp.test. A", clients)
	figure(t, "dns_dualstack_cluster_nodes", len(nodes))
	figure(t, "dns_dualstack_cluster_converge", took)
	figure(t, "dns_dualstack_cluster_first_start_to_converged", time.Since(start))
	// Known bug, printed, not asserted: the refresh loop keeps joining
	// each node's other-family address (never a member's address).
	figure(t, "dns_dualstack_cluster_refresh_joins_per_s_when_whole", refreshJoins(t, nodes))
}

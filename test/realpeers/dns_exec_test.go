//go:build realpeers

package realpeers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/seeds"
)

// digSpec is the exec+ spec that asks named at server (IPv4) and port for
// name's A records with dig +short, one address per line.
func digSpec(server string, port int, name string) string {
	return fmt.Sprintf("exec+dig?arg=+short&arg=+tries=1&arg=+time=2&arg=-p&arg=%d&arg=@%s&arg=%s&arg=A&port=%d", port, server, name, gossipPort)
}

// TestDNSExecDig runs seeds.Exec with the real dig against the real bind9
// of the DNS lab: the zone's addresses, an empty answer, and a server
// that does not answer, past the exec timeout.
func TestDNSExecDig(t *testing.T) {
	checkLeaks(t)
	requireTools(t, "dig")
	d := startDNSLab(t, dnsZones{zones: map[string]string{"rp.test": "peers A 192.0.2.1\npeers A 192.0.2.2\npeers A 192.0.2.3\n"}})
	disc, err := seeds.Parse(digSpec("127.0.0.1", d.bindPort, "peers.rp.test"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := disc.Discover(ctx)
	slices.Sort(got)
	want := []string{"192.0.2.1:7946", "192.0.2.2:7946", "192.0.2.3:7946"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%s: %v, %v; want %v", disc, got, err, want)
	}

	// A name without records: dig prints nothing and exits 0.
	disc, err = seeds.Parse(digSpec("127.0.0.1", d.bindPort, "nothing.rp.test"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := disc.Discover(ctx); err != nil || len(got) != 0 {
		t.Fatalf("no records: %v, %v", got, err)
	}

	// A server that reads the query and never answers: dig would wait
	// 2s, the exec timeout is 500ms.
	mute, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	disc, err = seeds.Parse(digSpec("127.0.0.1", mute.LocalAddr().(*net.UDPAddr).Port, "peers.rp.test") + "&timeout=500ms")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = disc.Discover(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "exec dig +short") || !strings.Contains(err.Error(), "timed out after 500ms") {
		t.Fatalf("dead server: %v, want the exec timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("dead server: Discover took %v", took)
	}

	// dig's own failure: an unknown option makes it exit 1.
	_, err = seeds.Exec("dig", []string{"+nosuchoption", "peers.rp.test"}, seeds.ExecDefaultPort(gossipPort)).Discover(ctx)
	if err == nil || !strings.Contains(err.Error(), "exec dig +nosuchoption peers.rp.test: exit status 1 (stderr:") {
		t.Fatalf("bad dig option: %v", err)
	}
	t.Logf("bad dig option: %v", err)
}

// TestDNSExecCluster: four node processes in network namespaces of their
// own, seeded only by exec+dig against bind9 on the lab gateway (one A
// record per node), form one cluster.
func TestDNSExecCluster(t *testing.T) {
	checkLeaks(t)
	requireTools(t, "dig")
	lab := newNetLab(t, true, false)
	hosts := lab.addHosts(dnsClusterNodes)
	var zone strings.Builder
	want := map[string]string{}
	for _, h := range hosts {
		fmt.Fprintf(&zone, "peers A %s\n", h.ip4)
		want[h.name] = fmt.Sprintf("%s:%d", h.ip4, gossipPort)
	}
	d := startDNSLab(t, dnsZones{zones: map[string]string{"rp.test": zone.String()}}, lab.gateway4())
	spec := digSpec(lab.gateway4(), d.bindPort, "peers.rp.test")
	nodeBinary(t)
	start := time.Now()
	nodes := startNodes(t, hosts, nodeConf{seeds: spec, refresh: dnsRefresh, fast: true})
	took := waitWhole(t, "the exec-seeded cluster forms", clusterTimeout, nodes)
	checkAddrs(t, nodes, want)
	for _, n := range nodes {
		v, err := n.metricSum("gencluster_discovery_peers", `backend="exec+dig?`)
		if err != nil || v != dnsClusterNodes {
			t.Errorf("%s: gencluster_discovery_peers{backend=exec+dig...} = %v (err %v), want %d", n.name, v, err, dnsClusterNodes)
		}
	}
	figure(t, "exec_dig_cluster_converge", took)
	figure(t, "exec_dig_cluster_first_start_to_converged", time.Since(start))
}

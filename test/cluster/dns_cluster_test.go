package cluster

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/miekg/dns"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/dnstest"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// TestDNSCluster is a cluster whose only configuration is one DNS name,
// served by a real DNS server on loopback. Nodes run on 127.0.0.2..6 with
// one port, as pods behind a headless Service do, and the zone lists each
// node once it has started (a Service adds a pod when it is ready).
func TestDNSCluster(t *testing.T) {
	srv := dnstest.Start(t)
	const name = "gossip.cluster.test"
	port := testutil.FreePort(t, aliases...)
	ip := func(i int) string { return "127.0.0." + strconv.Itoa(i) }
	shortDeadGossip := gencluster.WithMemberlistConfig(func(c *memberlist.Config) { c.GossipToTheDeadTime = 300 * time.Millisecond })

	var nodes []*gencluster.Node
	for i := 2; i <= 6; i++ {
		n := startNode(t, append(testOpts(t, "dns-"+strconv.Itoa(i)),
			gencluster.WithBindAddr(net.JoinHostPort(ip(i), strconv.Itoa(port))),
			gencluster.WithSeeds(seeds.DNS(name, port, seeds.DNSResolver(srv.Addr()), seeds.DNSTimeout(time.Second))),
			shortDeadGossip,
		)...)
		srv.AddA(name, ip(i))
		nodes = append(nodes, n)
	}
	testutil.WaitMembers(t, 15*time.Second, nodes, "dns-2", "dns-3", "dns-4", "dns-5", "dns-6")

	// Remove dns-6 from the zone and crash it: the others see it fail and
	// never join its address again, though they keep refreshing.
	srv.RemoveA(name, ip(6))
	nodes[4].Close()
	testutil.WaitMembers(t, 15*time.Second, nodes[:4], "dns-2", "dns-3", "dns-4", "dns-5")

	// Start a fresh lone node on the old address: discovery no longer
	// lists it, so nobody may pull it back in.
	lone := startNode(t, append(testOpts(t, "dns-6-again"),
		gencluster.WithBindAddr(net.JoinHostPort(ip(6), strconv.Itoa(port))), shortDeadGossip)...)
	before := srv.Count(name, dns.TypeA)
	testutil.Eventually(t, 10*time.Second, func() bool { return srv.Count(name, dns.TypeA) >= before+5 }, "five more DNS refreshes")
	if got := testutil.Names(lone.Members()); !slices.Equal(got, []string{"dns-6-again"}) {
		t.Errorf("the removed address was joined again: %v", got)
	}
	for _, n := range nodes[:4] {
		if got := testutil.Names(n.Members()); !slices.Equal(got, []string{"dns-2", "dns-3", "dns-4", "dns-5"}) {
			t.Errorf("%s sees %v", n.Name(), got)
		}
	}

	// Put it back in the zone: the refresh loop joins it.
	srv.AddA(name, ip(6))
	testutil.WaitMembers(t, 15*time.Second, append(nodes[:4:4], lone), "dns-2", "dns-3", "dns-4", "dns-5", "dns-6-again")
}

// TestDNSClusterFromEnv: nodes configured from GENCLUSTER_* variables,
// with the DNS backend reading a resolv.conf (search domain, ndots) as a
// pod's does.
func TestDNSClusterFromEnv(t *testing.T) {
	srv := dnstest.Start(t)
	const name = "env.cluster.test"
	port := testutil.FreePort(t, aliases...)
	conf := srv.ResolvConf(t, 1)
	var nodes []*gencluster.Node
	for i := 2; i <= 4; i++ {
		t.Setenv(gencluster.EnvName, "env-"+strconv.Itoa(i))
		t.Setenv(gencluster.EnvBindAddr, "127.0.0."+strconv.Itoa(i)+":"+strconv.Itoa(port))
		t.Setenv(gencluster.EnvRefreshInterval, "200ms")
		opts, err := gencluster.FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		// GENCLUSTER_SEEDS uses /etc/resolv.conf; point this test's
		// backend at the test server's resolv.conf instead.
		d := seeds.DNS(name, port, seeds.DNSResolvConf(conf))
		n := startNode(t, append(opts, gencluster.WithMemberlistConfig(testutil.FastGossip), gencluster.WithRetryBackoff(50*time.Millisecond), gencluster.WithSeeds(d))...)
		srv.AddA(name, "127.0.0."+strconv.Itoa(i))
		nodes = append(nodes, n)
	}
	testutil.WaitMembers(t, 15*time.Second, nodes, "env-2", "env-3", "env-4")
}

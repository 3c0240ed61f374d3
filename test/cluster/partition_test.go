package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/faultnet"
	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// TestPartitionHeals splits a 4-node cluster in two until each half has
// declared the other failed, then heals the network: the refresh loop,
// which keeps re-joining discovered peers that are not live, must make
// the cluster whole again within a refresh interval plus a few gossip
// rounds. memberlist alone never re-joins a peer it declared dead.
func TestPartitionHeals(t *testing.T) {
	nodes, network, addrs := partitionCluster(t, 300*time.Millisecond)
	network.Partition(addrs[:2], addrs[2:])
	start := time.Now()
	testutil.WaitMembers(t, 20*time.Second, nodes[:2], "p-0", "p-1")
	testutil.WaitMembers(t, 20*time.Second, nodes[2:], "p-2", "p-3")
	t.Logf("measured: both halves declared the other failed after %v", time.Since(start).Round(time.Millisecond))

	holdPartition()
	network.Heal()
	healed := time.Now()
	// One refresh interval, plus the backoff cap (also the interval), plus
	// a few gossip rounds: 5s is generous on a loaded 2-core machine.
	testutil.WaitMembers(t, 5*time.Second, nodes, "p-0", "p-1", "p-2", "p-3")
	t.Logf("measured: whole again %v after the heal (refresh interval 300ms)", time.Since(healed).Round(time.Millisecond))
	leaveAll(nodes)
}

// TestPartitionStaysSplitWithoutRefresh is the control: with the refresh
// disabled (gen_cluster's infinity) the same heal leaves the cluster split,
// which shows that the refresh loop, not memberlist, heals it above.
func TestPartitionStaysSplitWithoutRefresh(t *testing.T) {
	nodes, network, addrs := partitionCluster(t, 0)
	network.Partition(addrs[:2], addrs[2:])
	testutil.WaitMembers(t, 20*time.Second, nodes[:2], "p-0", "p-1")
	testutil.WaitMembers(t, 20*time.Second, nodes[2:], "p-2", "p-3")
	holdPartition()
	network.Heal()
	// Watch for a bounded window (several times what the refresh loop
	// needed above): memberlist on its own must not merge the halves.
	end := time.Now().Add(2 * time.Second)
	for time.Now().Before(end) {
		for _, n := range nodes {
			if len(n.Members()) != 2 {
				t.Fatalf("%s sees %v without the refresh loop: memberlist healed on its own", n.Name(), testutil.Names(n.Members()))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	leaveAll(nodes)
}

// deadGossip is how long memberlist keeps gossiping to members it declared
// dead (GossipToTheDeadTime). Within that window it may merge the halves
// itself when the network heals; a real partition (or a restart) outlasts
// it, so the tests hold the partition longer.
const deadGossip = 500 * time.Millisecond

// holdPartition keeps the network split past deadGossip: a bounded hold,
// the scenario's own duration, not a wait for a condition.
func holdPartition() { time.Sleep(deadGossip + 500*time.Millisecond) }

func leaveAll(nodes []*gencluster.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range nodes {
		n.Leave(ctx)
	}
}

// partitionCluster starts 4 nodes whose transports obey one faultnet
// Network, all discovering each other, and waits until they converge.
func partitionCluster(t *testing.T, refresh time.Duration) ([]*gencluster.Node, *faultnet.Network, []string) {
	network := faultnet.New()
	var addrs []string
	disc := &testutil.Seeds{}
	var nodes []*gencluster.Node
	for _, name := range []string{"p-0", "p-1", "p-2", "p-3"} {
		wrap := gencluster.WithMemberlistConfig(func(mc *memberlist.Config) {
			nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0})
			if err != nil {
				t.Fatalf("transport for %s: %v", name, err)
			}
			mc.BindPort = nt.GetAutoBindPort()
			mc.AdvertisePort = mc.BindPort
			mc.Transport = network.Wrap(nt)
			mc.GossipToTheDeadTime = deadGossip
		})
		n := startNode(t, append(testOpts(t, name), wrap, gencluster.WithSeeds(disc), gencluster.WithRefreshInterval(refresh))...)
		nodes = append(nodes, n)
		addrs = append(addrs, n.Addr())
		disc.Set(nil, slices.Clone(addrs)...)
	}
	testutil.WaitMembers(t, 10*time.Second, nodes, "p-0", "p-1", "p-2", "p-3")
	return nodes, network, addrs
}

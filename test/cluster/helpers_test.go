package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testOpts are the options every test node gets: loopback, a free port,
// fast timers, a short refresh.
func testOpts(t testing.TB, name string) []gencluster.Option {
	return []gencluster.Option{
		gencluster.WithName(name),
		gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithMemberlistConfig(testutil.FastGossip),
		gencluster.WithRefreshInterval(200 * time.Millisecond),
		gencluster.WithRetryBackoff(50 * time.Millisecond),
	}
}

// startNode starts a node and stops it (Close) when the test ends.
func startNode(t testing.TB, opts ...gencluster.Option) *gencluster.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := gencluster.Start(ctx, opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// startCluster starts k nodes named prefix-0..k-1, each seeded with the
// first node's address.
func startCluster(t testing.TB, prefix string, k int, extra ...gencluster.Option) []*gencluster.Node {
	t.Helper()
	first := startNode(t, append(testOpts(t, prefix+"-0"), extra...)...)
	nodes := []*gencluster.Node{first}
	for i := 1; i < k; i++ {
		opts := append(testOpts(t, fmt.Sprintf("%s-%d", prefix, i)), gencluster.WithSeeds(seeds.Static(first.Addr())))
		nodes = append(nodes, startNode(t, append(opts, extra...)...))
	}
	return nodes
}

// aliases are the loopback aliases the tests bind.
var aliases = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"}

package gencluster

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testOpts are the options every in-process test node gets: loopback, a
// free port, fast timers, a short refresh and logs to t when -v.
func testOpts(t testing.TB, name string) []Option {
	return []Option{
		WithName(name),
		WithBindAddr("127.0.0.1:0"),
		WithMemberlistConfig(testutil.FastGossip),
		WithRefreshInterval(200 * time.Millisecond),
		WithRetryBackoff(50 * time.Millisecond),
	}
}

// startNode starts a node and stops it (Close) when the test ends.
func startNode(t testing.TB, opts ...Option) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Start(ctx, opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// startCluster starts k nodes named prefix-0..k-1, each seeded with the
// first node's address.
func startCluster(t testing.TB, prefix string, k int, extra ...Option) []*Node {
	t.Helper()
	first := startNode(t, append(testOpts(t, prefix+"-0"), extra...)...)
	nodes := []*Node{first}
	for i := 1; i < k; i++ {
		opts := append(testOpts(t, fmt.Sprintf("%s-%d", prefix, i)), WithSeeds(seeds.Static(first.Addr())))
		nodes = append(nodes, startNode(t, append(opts, extra...)...))
	}
	return nodes
}

// key returns an n-byte key of b.
func key(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

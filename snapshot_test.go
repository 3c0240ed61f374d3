package gencluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/snapshot"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// nothing is discovery that finds nobody: DNS not serving yet, the API
// server down.
var nothing = seeds.Func(func(context.Context) ([]string, error) { return nil, nil })

// fixedAddrs returns k loopback addresses 127.0.77.1.. on one port free on
// all of them, so that restarted nodes come back where their peers'
// snapshots say they were.
func fixedAddrs(t *testing.T, k int) []string {
	t.Helper()
	var ips []string
	for i := 1; i <= k; i++ {
		ips = append(ips, "127.0.77."+strconv.Itoa(i))
	}
	port := strconv.Itoa(testutil.FreePort(t, ips...))
	var addrs []string
	for _, ip := range ips {
		addrs = append(addrs, net.JoinHostPort(ip, port))
	}
	return addrs
}

// closeAll closes the nodes concurrently.
func closeAll(t *testing.T, nodes []*Node) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.Close() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("closing %s: %v", nodes[i].Name(), err)
		}
	}
}

// snapNode starts a node with a snapshot at path. Its timers are
// Tolerant: with FastGossip's 100ms probe timeout, 8 nodes on a loaded
// 2-core machine under -race declared each other failed over and over,
// and the cluster did not settle within the wait.
func snapNode(t *testing.T, name, addr, path string, extra ...Option) *Node {
	t.Helper()
	opts := append(testOpts(t, name), WithBindAddr(addr), WithSeeds(nothing), WithSnapshot(path), WithMemberlistConfig(testutil.Tolerant))
	return startNode(t, append(opts, extra...)...)
}

// TestSnapshotReformsAfterFullOutage: eight nodes form a cluster, all
// stop abruptly (a power cut), and come back with discovery that finds
// nothing: the snapshots alone re-form the whole cluster.
func TestSnapshotReformsAfterFullOutage(t *testing.T) {
	const k = 8
	dir := t.TempDir()
	addrs := fixedAddrs(t, k)
	var all []string
	for i := range k {
		all = append(all, fmt.Sprintf("snap-%d", i))
	}
	path := func(i int) string { return filepath.Join(dir, all[i]+".snap") }

	// First life: seeded by the first node, as discovery would.
	start := time.Now()
	var nodes []*Node
	for i := range k {
		opts := []Option{}
		if i > 0 {
			opts = append(opts, WithSeeds(seeds.Static(addrs[0])))
		}
		nodes = append(nodes, snapNode(t, all[i], addrs[i], path(i), opts...))
	}
	testutil.WaitMembers(t, 20*time.Second, nodes, all...)
	formFirst := time.Since(start)
	// Every snapshot holds the seven others (the rate limit delays the
	// write by up to a second).
	testutil.Eventually(t, 10*time.Second, func() bool {
		for i := range k {
			f, err := snapshot.Read(path(i))
			if err != nil || len(f.Members) != k-1 {
				return false
			}
		}
		return true
	}, "every snapshot lists the 7 others")
	closeAll(t, nodes) // at once, as a power cut

	// Second life: nothing to discover, a node at a time.
	start = time.Now()
	nodes = nodes[:0]
	for i := range k {
		nodes = append(nodes, snapNode(t, all[i], addrs[i], path(i)))
	}
	testutil.WaitMembers(t, 30*time.Second, nodes, all...)
	reform := time.Since(start)
	closeAll(t, nodes)
	t.Logf("measured: %d nodes, from the first start to all seeing all: seeded by a static address %v, from snapshots alone %v (ratio %.2f)",
		k, formFirst.Round(time.Millisecond), reform.Round(time.Millisecond), reform.Seconds()/formFirst.Seconds())
}

// TestSnapshotNeverRejoinsLeftMembers: a member that left gracefully is
// removed from the others' snapshots; when they come back, they do not
// join it even though it runs at its old address.
func TestSnapshotNeverRejoinsLeftMembers(t *testing.T) {
	dir := t.TempDir()
	addrs := fixedAddrs(t, 3)
	a := snapNode(t, "left-a", addrs[0], filepath.Join(dir, "a"))
	b := snapNode(t, "left-b", addrs[1], filepath.Join(dir, "b"), WithSeeds(seeds.Static(addrs[0])))
	c := snapNode(t, "left-c", addrs[2], filepath.Join(dir, "c"), WithSeeds(seeds.Static(addrs[0])))
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b, c}, "left-a", "left-b", "left-c")
	if err := c.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b}, "left-a", "left-b")
	a.Close()
	b.Close()
	for _, p := range []string{"a", "b"} {
		f, err := snapshot.Read(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Members) != 1 || f.Members[0].Name == "left-c" {
			t.Fatalf("snapshot %s after c left: %+v, want the other remaining node only", p, f.Members)
		}
	}
	// c runs again at its old address, with no snapshot and no seeds.
	c2 := startNode(t, append(testOpts(t, "left-c"), WithBindAddr(addrs[2]))...)
	a2 := snapNode(t, "left-a", addrs[0], filepath.Join(dir, "a"))
	b2 := snapNode(t, "left-b", addrs[1], filepath.Join(dir, "b"))
	testutil.WaitMembers(t, 10*time.Second, []*Node{a2, b2}, "left-a", "left-b")
	// Many refresh intervals (200ms) and retry backoffs: c stays out.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, n := range []*Node{a2, b2, c2} {
			if ns := testutil.Names(n.Members()); slices.Contains(ns, "left-c") == (n != c2) || n == c2 && len(ns) != 1 {
				t.Fatalf("%s sees %v: the left member was rejoined", n.Name(), ns)
			}
		}
	}
}

// TestSnapshotBadFiles: damaged snapshots are ignored with a warning and
// the node starts; files that are not snapshots, or of another cluster,
// stop Start with an error naming the path, and are left as they were.
func TestSnapshotBadFiles(t *testing.T) {
	dir := t.TempDir()
	good, err := snapshot.Encode(snapshot.File{Cluster: "prod", Members: []snapshot.Member{
		{Name: "x", Addr: "127.0.0.1:1", State: snapshot.Alive, Since: time.Now()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		b    []byte
		warn string
	}{
		{"truncated", good[:len(good)-7], "truncated"},
		{"corrupted", []byte(strings.Replace(string(good), "127.0.0.1:1", "127.0.0.9:1", 1)), "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := testutil.NewRecordHandler()
			p := write(tc.name, tc.b)
			n := startNode(t, append(testOpts(t, "bad-"+tc.name), WithSnapshot(p), WithLabel("prod"), WithLogger(slog.New(h)))...)
			attrs, ok := h.Find(slog.LevelWarn, "ignoring the snapshot (it is overwritten at the first membership change)", map[string]string{"path": p})
			if !ok || !strings.Contains(attrs["err"], tc.warn) {
				t.Fatalf("no warning naming %s and %q (got %v)", p, tc.warn, attrs)
			}
			if len(n.Members()) != 1 {
				t.Fatalf("members %v", n.Members())
			}
		})
	}
	for _, tc := range []struct {
		name string
		path string
		opts []Option
		want string
	}{
		{"foreign file", write("config.yaml", []byte("seeds: [a, b]\n")), nil, "refusing to overwrite"},
		{"zeroed", write("zeroed", make([]byte, 64)), nil, "not a gencluster snapshot"},
		{"other cluster", write("other", good), []Option{WithLabel("staging")}, `cluster label "prod", this node's label is "staging"`},
		{"no label", write("nolabel", good), nil, `this node's label is ""`},
		{"missing directory", filepath.Join(dir, "no", "s"), nil, "cannot create"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			opts := append(testOpts(t, "bad"), WithSnapshot(tc.path))
			n, err := Start(context.Background(), append(opts, tc.opts...)...)
			if err == nil {
				n.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("Start: %v, want an error naming %s and %q", err, tc.path, tc.want)
			}
			if after, _ := os.ReadFile(tc.path); string(after) != string(before) {
				t.Fatal("the file was changed")
			}
		})
	}
	if err := WithSnapshot(" ")(&config{}); err == nil {
		t.Error("WithSnapshot accepted a blank path")
	}
}

package cluster

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// quietWindow is how long a negative test ("cannot join") watches: several
// refresh intervals (200ms, so several join attempts), probe intervals
// (200ms) and suspicion timeouts of the test timers.
const quietWindow = 1200 * time.Millisecond

func key(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// watch subscribes to every node after the cluster formed; any event on
// it is a change of the cluster's view.
type watch struct {
	nodes []*gencluster.Node
	want  []string
	logs  []*testutil.EventLog
}

func watchCluster(t *testing.T, nodes []*gencluster.Node, want ...string) *watch {
	t.Helper()
	testutil.WaitMembers(t, 10*time.Second, nodes, want...)
	w := &watch{nodes: nodes, want: slices.Sorted(slices.Values(want))}
	for _, n := range nodes {
		snap, evs, cancel := n.Subscribe()
		t.Cleanup(cancel)
		if got := testutil.Names(snap); !slices.Equal(got, w.want) {
			t.Fatalf("%s: snapshot %v, want %v", n.Name(), got, w.want)
		}
		w.logs = append(w.logs, testutil.Collect(evs))
	}
	return w
}

// check fails when a node's members differ from the original view (names
// and addresses) or a node saw any event.
func (w *watch) check(t *testing.T, addrs map[string]string) {
	t.Helper()
	for i, n := range w.nodes {
		ms := n.Members()
		if got := testutil.Names(ms); !slices.Equal(got, w.want) {
			t.Fatalf("%s: members %v, want %v", n.Name(), got, w.want)
		}
		for _, m := range ms {
			if a, ok := addrs[m.Name]; ok && m.Addr != a {
				t.Fatalf("%s: member %s at %s, want %s", n.Name(), m.Name, m.Addr, a)
			}
		}
		if evs := w.logs[i].All(); len(evs) > 0 {
			t.Fatalf("%s: events %v, want none", n.Name(), evs)
		}
	}
}

// hold checks the view for d.
func (w *watch) hold(t *testing.T, d time.Duration, addrs map[string]string) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		w.check(t, addrs)
	}
	w.check(t, addrs)
}

func addrsOf(nodes ...*gencluster.Node) map[string]string {
	m := make(map[string]string)
	for _, n := range nodes {
		m[n.Name()] = n.Addr()
	}
	return m
}

// TestOutsidersCannotJoinOrInject: nodes without the key, with another key,
// or with another label (or none) point their seeds at an encrypted,
// labelled cluster. None gets in, none is seen, the cluster's view and
// event streams stay untouched, and the outsiders learn nothing of it.
func TestOutsidersCannotJoinOrInject(t *testing.T) {
	k := key(1, 32)
	secure := []gencluster.Option{gencluster.WithSecretKey(k), gencluster.WithLabel("prod")}
	cluster := startCluster(t, "sec", 2, secure...)
	w := watchCluster(t, cluster, "sec-0", "sec-1")
	seed := gencluster.WithSeeds(seeds.Static(cluster[0].Addr(), cluster[1].Addr()))

	var outsiders []*gencluster.Node
	for name, extra := range map[string][]gencluster.Option{
		"nokey":      {gencluster.WithLabel("prod")},
		"wrongkey":   {gencluster.WithSecretKey(key(2, 32)), gencluster.WithLabel("prod")},
		"shortkey":   {gencluster.WithSecretKey(k[:16]), gencluster.WithLabel("prod")},
		"otherlabel": {gencluster.WithSecretKey(k), gencluster.WithLabel("staging")},
		"nolabel":    {gencluster.WithSecretKey(k)},
		"plain":      nil,
	} {
		outsiders = append(outsiders, startNode(t, append(append(testOpts(t, "out-"+name), seed), extra...)...))
	}
	w.hold(t, quietWindow, addrsOf(cluster...))
	for _, o := range outsiders {
		if got := testutil.Names(o.Members()); !slices.Equal(got, []string{o.Name()}) {
			t.Errorf("%s sees %v, want only itself", o.Name(), got)
		}
	}

	// Control: with the key and the label a node does join.
	in := startNode(t, append(append(testOpts(t, "sec-2"), seed), secure...)...)
	testutil.WaitMembers(t, 10*time.Second, append(cluster, in), "sec-0", "sec-1", "sec-2")
}

// TestLabelsKeepClustersApart: two clusters with different labels and
// seeds that point across never merge.
func TestLabelsKeepClustersApart(t *testing.T) {
	a := startCluster(t, "la", 2, gencluster.WithLabel("cluster-a"))
	wa := watchCluster(t, a, "la-0", "la-1")
	// Every node of b has a seed in a.
	b := startCluster(t, "lb", 2, gencluster.WithLabel("cluster-b"), gencluster.WithSeeds(seeds.Static(a[0].Addr())))
	wb := watchCluster(t, b, "lb-0", "lb-1")
	wa.check(t, nil)
	// And a new node of a has a seed in b, listed first.
	a2 := startNode(t, append(testOpts(t, "la-2"), gencluster.WithLabel("cluster-a"), gencluster.WithSeeds(seeds.Static(b[1].Addr(), a[0].Addr())))...)
	wa = watchCluster(t, append(a, a2), "la-0", "la-1", "la-2")
	for end := time.Now().Add(quietWindow); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		wa.check(t, nil)
		wb.check(t, nil)
	}
}

// TestAllowedCIDRsRefuseOtherAddresses: a cluster on 127.0.0.3 and
// 127.0.0.4 that allows only those does not take a node from 127.0.0.2,
// and says so; a node from an allowed address (another port on
// 127.0.0.4) does join, so the refusal is the filter's doing.
func TestAllowedCIDRsRefuseOtherAddresses(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t, aliases...))
	allow := gencluster.WithAllowedCIDRs("127.0.0.3/32", "127.0.0.4/32")
	recs := testutil.NewRecordHandler()
	var cluster []*gencluster.Node
	for _, ip := range []string{"127.0.0.3", "127.0.0.4"} {
		cluster = append(cluster, startNode(t, append(testOpts(t, "cidr-"+ip), allow, gencluster.WithLogger(slog.New(recs)),
			gencluster.WithBindAddr(net.JoinHostPort(ip, port)), gencluster.WithSeeds(seeds.Static("127.0.0.3:"+port)))...))
	}
	w := watchCluster(t, cluster, "cidr-127.0.0.3", "cidr-127.0.0.4")
	startNode(t, append(testOpts(t, "cidr-127.0.0.2"), gencluster.WithBindAddr("127.0.0.2:"+port),
		gencluster.WithSeeds(seeds.Static("127.0.0.3:"+port, "127.0.0.4:"+port)))...)
	w.hold(t, quietWindow, addrsOf(cluster...))
	// The outsider's joins reached the cluster and the filter refused it.
	// (The filter is one-way: the outsider may have read the member list
	// over TCP, see docs/security.md, What is not protected; it is not a
	// member.)
	refused := false
	for _, r := range recs.Records() {
		refused = refused || (strings.Contains(r.Message, "Rejected node cidr-127.0.0.2") && r.Level == slog.LevelWarn)
	}
	if !refused {
		t.Error("no cluster node logged that it rejected cidr-127.0.0.2")
	}
	// Control: a node from an allowed address joins.
	in := startNode(t, append(testOpts(t, "cidr-in"), allow, gencluster.WithBindAddr("127.0.0.4:0"), gencluster.WithSeeds(seeds.Static("127.0.0.3:"+port)))...)
	testutil.WaitMembers(t, 10*time.Second, append(cluster, in), "cidr-127.0.0.3", "cidr-127.0.0.4", "cidr-in")
}

// TestLiveNameCannotBeStolen: a second node that takes the name of a live
// member from another address is refused: its Start fails with
// ErrNameConflict naming the member's address, the cluster keeps the
// original's address, and logs the conflict with the claimant's address.
// (TestRestartSameNameNewAddress is the other half: once the old node is
// failed, the name is free.)
func TestLiveNameCannotBeStolen(t *testing.T) {
	recs := testutil.NewRecordHandler()
	first := startNode(t, append(testOpts(t, "nm-0"), gencluster.WithLogger(slog.New(recs)))...)
	second := startNode(t, append(testOpts(t, "nm-1"), gencluster.WithSeeds(seeds.Static(first.Addr())))...)
	cluster := []*gencluster.Node{first, second}
	w := watchCluster(t, cluster, "nm-0", "nm-1")
	orig := addrsOf(cluster...)

	port := strconv.Itoa(testutil.FreePort(t, "127.0.0.2"))
	_, err := startThief(t, append(testOpts(t, "nm-1"), gencluster.WithBindAddr("127.0.0.2:"+port), gencluster.WithSeeds(seeds.Static(first.Addr())),
		gencluster.WithMemberlistConfig(testutil.Tolerant))...) // its pings of the member wait longer on a loaded host
	if !errors.Is(err, gencluster.ErrNameConflict) || !strings.Contains(err.Error(), second.Addr()) {
		t.Fatalf("thief's Start: %v, want ErrNameConflict naming %s", err, second.Addr())
	}
	var attrs map[string]string
	testutil.Eventually(t, 10*time.Second, func() bool {
		var ok bool
		attrs, ok = recs.Find(slog.LevelWarn, "name conflict: another node claims a live member's name; keeping the member", nil)
		return ok
	}, "the conflict to be logged")
	if attrs["peer"] != "nm-1" || attrs["addr"] != "127.0.0.2:"+port || attrs["member_addr"] != second.Addr() {
		t.Errorf("conflict logged with %v, want peer nm-1 addr 127.0.0.2:%s member_addr %s", attrs, port, second.Addr())
	}
	w.hold(t, quietWindow, orig)
}

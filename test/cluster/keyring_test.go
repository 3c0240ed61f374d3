package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// TestKeyRotation rotates the key of a running 3-node cluster through the
// three documented steps (KeyManager's Install, Use, Remove), with gossip
// going on, and checks that no node falls out at any point, that traffic
// under the new key flows, and that a node with only the old key cannot
// join afterwards.
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := key(0xA1, 32), key(0xB2, 16)
	// Tolerant timers: the test asserts that no member is ever reported
	// gone, and FastGossip's 100ms probe timeout is missed on a loaded
	// machine with no key operation going on at all (a false failure seen
	// in the step "before").
	nodes := startCluster(t, "rot", 3, gencluster.WithSecretKey(oldKey), gencluster.WithLabel("rot"), gencluster.WithMemberlistConfig(testutil.Tolerant))
	all := []string{"rot-0", "rot-1", "rot-2"}
	testutil.WaitMembers(t, 10*time.Second, nodes, all...)
	var logs []*testutil.EventLog
	watch := func(n *gencluster.Node) {
		_, evs, cancel := n.Subscribe()
		t.Cleanup(cancel)
		logs = append(logs, testutil.Collect(evs))
	}
	for _, n := range nodes {
		watch(n)
	}
	noneGone := func(step string) {
		t.Helper()
		for i, l := range logs {
			for _, ev := range l.All() {
				if ev.Type == gencluster.EventFail || ev.Type == gencluster.EventLeave {
					t.Fatalf("%s: %s saw %v", step, nodes[i].Name(), ev)
				}
			}
		}
		for _, n := range nodes {
			if got := testutil.Names(n.Members()); !slices.Equal(got, all) {
				t.Fatalf("%s: %s sees %v", step, n.Name(), got)
			}
		}
	}
	// gossipRound makes every node gossip a metadata change and waits
	// until every other node has it: proof that what each node now
	// encrypts, the others decrypt.
	round := 0
	gossipRound := func(step string) {
		t.Helper()
		round++
		val := fmt.Sprint(round)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, n := range nodes {
			if err := n.UpdateMeta(ctx, map[string]string{"round": val}); err != nil {
				t.Fatalf("%s: UpdateMeta: %v", step, err)
			}
		}
		testutil.Eventually(t, 10*time.Second, func() bool {
			for _, n := range nodes {
				for _, m := range n.Members() {
					if m.Meta["round"] != val {
						return false
					}
				}
			}
			return true
		}, step+": every node to see round "+val)
		noneGone(step)
	}
	// step runs a cluster-wide operation from one node (another at each
	// step), which every node acknowledges, and checks every node's keys.
	coordinator := 0
	step := func(name string, op func(*gencluster.KeyManager, context.Context) (gencluster.KeyResponse, error), wantKeys ...[]byte) {
		t.Helper()
		coord := nodes[coordinator%len(nodes)]
		coordinator++
		// Generous: at load 12 a member answered after more than 5s
		// (while FastGossip timers had it falsely suspected).
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		res, err := op(coord.KeyManager(), ctx)
		if err != nil || len(res.Acked()) != len(nodes) {
			t.Fatalf("%s from %s: %v, acked by %v of %d", name, coord.Name(), err, res.Acked(), len(nodes))
		}
		noneGone(name)
		for _, n := range nodes {
			if got := ownKeys(t, n); !slices.Equal(got, fingerprints(wantKeys...)) {
				t.Fatalf("%s: %s has keys %v, want %v", name, n.Name(), got, fingerprints(wantKeys...))
			}
		}
		gossipRound(name)
	}

	gossipRound("before")
	step("1 Install", func(k *gencluster.KeyManager, ctx context.Context) (gencluster.KeyResponse, error) {
		return k.Install(ctx, newKey)
	}, oldKey, newKey)
	// A node that starts in the middle of the rotation has both keys, the
	// one the cluster encrypts with first; it joins, then follows the
	// remaining steps with the others.
	mid := startNode(t, append(testOpts(t, "rot-mid"), gencluster.WithKeyring(oldKey, newKey), gencluster.WithLabel("rot"),
		gencluster.WithSeeds(seeds.Static(nodes[0].Addr())), gencluster.WithMemberlistConfig(testutil.Tolerant))...)
	all = append(all, "rot-mid")
	testutil.WaitMembers(t, 10*time.Second, append(nodes, mid), all...)
	nodes = append(nodes, mid)
	watch(mid)
	gossipRound("1 mid")
	step("2 Use", func(k *gencluster.KeyManager, ctx context.Context) (gencluster.KeyResponse, error) {
		return k.Use(ctx, newKey)
	}, newKey, oldKey)
	step("3 Remove", func(k *gencluster.KeyManager, ctx context.Context) (gencluster.KeyResponse, error) {
		return k.Remove(ctx, oldKey)
	}, newKey)
	// A few probe intervals and a suspicion timeout (2s to 4s with the
	// Tolerant timers) with the new key only.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		noneGone("after")
	}

	// A node that only has the old key is refused; one started with the
	// new key joins.
	seed := gencluster.WithSeeds(seeds.Static(nodes[0].Addr(), nodes[1].Addr()))
	stale := startNode(t, append(testOpts(t, "rot-stale"), seed, gencluster.WithSecretKey(oldKey), gencluster.WithLabel("rot"))...)
	for end := time.Now().Add(quietWindow); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		noneGone("stale join")
		for _, l := range logs {
			if l.Has(gencluster.EventJoin, "rot-stale") {
				t.Fatal("the node with the old key joined")
			}
		}
	}
	if got := testutil.Names(stale.Members()); !slices.Equal(got, []string{"rot-stale"}) {
		t.Errorf("the node with the old key sees %v", got)
	}
	fresh := startNode(t, append(testOpts(t, "rot-3"), seed, gencluster.WithSecretKey(newKey), gencluster.WithLabel("rot"))...)
	testutil.WaitMembers(t, 10*time.Second, append(nodes, fresh), append(all, "rot-3")...)
}

// TestKeyManagerErrors: the refusals and the idempotence of the key
// operations, on a node alone.
func TestKeyManagerErrors(t *testing.T) {
	k1, k2, k3 := key(1, 16), key(2, 24), key(3, 32)
	n := startNode(t, append(testOpts(t, "kr"), gencluster.WithKeyring(k1, k2))...)
	km := n.KeyManager()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got := ownKeys(t, n); !slices.Equal(got, fingerprints(k1, k2)) {
		t.Fatalf("keys %v, want k1 k2", got)
	}
	if _, err := km.Remove(ctx, k1); !errors.Is(err, gencluster.ErrRemoveRefused) || !errors.Is(err, gencluster.ErrRemovePrimaryKey) || !strings.Contains(err.Error(), "remove") {
		t.Errorf("Remove(primary) = %v", err)
	}
	if _, err := km.Use(ctx, k3); !errors.Is(err, gencluster.ErrUseRefused) || !strings.Contains(err.Error(), "use") {
		t.Errorf("Use(not installed) = %v", err)
	}
	if _, err := km.Install(ctx, make([]byte, 17)); err == nil || !strings.Contains(err.Error(), "17 bytes") {
		t.Errorf("Install(17 bytes) = %v", err)
	}
	// Idempotent: installing twice, removing what is not there.
	for range 2 {
		if _, err := km.Install(ctx, k3); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := km.Remove(ctx, key(4, 16)); err != nil {
		t.Errorf("Remove(absent) = %v", err)
	}
	// Removing a key from the middle keeps the order of the others.
	if _, err := km.Remove(ctx, k2); err != nil {
		t.Fatal(err)
	}
	if got := ownKeys(t, n); !slices.Equal(got, fingerprints(k1, k3)) {
		t.Fatalf("after Remove(k2): keys %v, want k1 k3", got)
	}
	// The caller's buffer is copied.
	buf := key(5, 16)
	if _, err := km.Install(ctx, buf); err != nil {
		t.Fatal(err)
	}
	buf[0] = 0
	if got := ownKeys(t, n); len(got) != 3 || got[2] != gencluster.KeyFingerprint(key(5, 16)) {
		t.Errorf("Install kept the caller's buffer: keys %v", got)
	}

	plain := startNode(t, testOpts(t, "kr-plain")...)
	pk := plain.KeyManager()
	for name, f := range map[string]func() (gencluster.KeyResponse, error){
		"install": func() (gencluster.KeyResponse, error) { return pk.Install(ctx, k1) },
		"use":     func() (gencluster.KeyResponse, error) { return pk.Use(ctx, k1) },
		"remove":  func() (gencluster.KeyResponse, error) { return pk.Remove(ctx, k1) },
		"list":    func() (gencluster.KeyResponse, error) { return pk.List(ctx) },
	} {
		if _, err := f(); !errors.Is(err, gencluster.ErrNoKeyring) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "WithSecretKey") {
			t.Errorf("%s without a keyring = %v", name, err)
		}
	}
}

// TestKeyringNotSharedBetweenNodes: one Option value starting two nodes
// gives each its own keyring; rotating one does not touch the other.
func TestKeyringNotSharedBetweenNodes(t *testing.T) {
	secret := gencluster.WithSecretKey(key(9, 16))
	a := startNode(t, append(testOpts(t, "share-a"), secret)...)
	b := startNode(t, append(testOpts(t, "share-b"), secret)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.KeyManager().Install(ctx, key(8, 16)); err != nil {
		t.Fatal(err)
	}
	if ka, kb := ownKeys(t, a), ownKeys(t, b); len(ka) != 2 || len(kb) != 1 {
		t.Fatalf("a has %d keys, b %d: want 2 and 1", len(ka), len(kb))
	}
}

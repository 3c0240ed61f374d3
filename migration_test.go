package gencluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// TestKeyringMigrationWithoutDowntime moves a running plaintext cluster to
// encryption (memberlist#59): a plaintext node and WithKeyringMigration
// nodes form one cluster (step 1 changes nothing on the wire); Encrypt
// switches them all at once with no fail or leave event; afterwards a
// node that refuses plaintext (WithSecretKey, step 3) joins, which it
// could not do before the switch.
func TestKeyringMigrationWithoutDowntime(t *testing.T) {
	key := keyBytes(5)
	// Each cluster operation gets its own generous deadline: one shared
	// bound for the whole test ran out on a loaded machine before its
	// last steps began, which failed them with a timeout that said
	// nothing about the library.
	opCtx := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	// Step 1 on a running plaintext cluster: a plain node and migrating
	// nodes are one cluster.
	plain := startNode(t, append(testOpts(t, "mig-plain"), WithMemberlistConfig(testutil.Tolerant))...)
	var nodes []*Node
	var logs []*testutil.EventLog
	for _, name := range []string{"mig-0", "mig-1", "mig-2", "mig-3"} {
		n := startNode(t, append(testOpts(t, name), WithKeyringMigration(key), WithSeeds(seeds.Static(plain.Addr())), WithMemberlistConfig(testutil.Tolerant))...)
		nodes, logs = append(nodes, n), append(logs, testutil.Collect(n.Events()))
	}
	testutil.WaitMembers(t, 10*time.Second, append(slices.Clone(nodes), plain), "mig-plain", "mig-0", "mig-1", "mig-2", "mig-3")
	if fps, plaintext := ownKeys(t, nodes[0]); !plaintext || !slices.Equal(fps, []string{KeyFingerprint(key)}) {
		t.Fatal("a migrating node reports keys in use before Encrypt")
	}
	if _, err := nodes[0].KeyManager().Install(opCtx(), keyBytes(6)); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("install before Encrypt: %v, want ErrNoKeyring", err)
	}
	// Not every member migrates yet: Encrypt is refused, nothing changes.
	// The plain member never answers, so the check waits out this bound;
	// the migrating members must answer within it.
	short, cancelShort := context.WithTimeout(context.Background(), 5*time.Second)
	res, err := nodes[1].KeyManager().Encrypt(short)
	cancelShort()
	if !errors.Is(err, ErrEncryptRefused) || !slices.Equal(res.NotAcked(), []string{"mig-plain"}) {
		t.Fatalf("encrypt with a plaintext member: %v, not acked %v; want ErrEncryptRefused naming mig-plain", err, res.NotAcked())
	}
	for _, m := range res.Members {
		if m.Name != "mig-plain" && !m.Plaintext {
			t.Fatalf("%s reports it encrypts after a refused Encrypt", m.Name)
		}
	}
	// The plain node is restarted with the key: here it leaves for good.
	if err := plain.Leave(opCtx()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitMembers(t, 10*time.Second, nodes, "mig-0", "mig-1", "mig-2", "mig-3")
	// A node that refuses plaintext cannot join yet.
	strict := startNode(t, append(testOpts(t, "mig-strict"), WithSecretKey(key), WithRefreshInterval(0))...)
	if err := strict.dist.Connect(opCtx(), nodes[0].Addr()); err == nil {
		t.Fatal("a node refusing plaintext joined the cluster before Encrypt")
	}

	// Step 2: switch.
	marks := make([]int, len(logs))
	for i, l := range logs {
		marks[i] = len(l.All())
	}
	res, err = nodes[2].KeyManager().Encrypt(opCtx())
	if err != nil || len(res.Acked()) != 4 {
		t.Fatalf("encrypt: %v, %+v", err, res)
	}
	for _, n := range nodes {
		if !hasKeys(t, n, key) {
			t.Fatalf("%s does not encrypt with the key after Encrypt", n.Name())
		}
	}
	// Encrypted gossip now: the strict node joins and everyone sees it.
	if err := strict.dist.Connect(opCtx(), nodes[0].Addr()); err != nil {
		t.Fatalf("the node refusing plaintext cannot join after Encrypt: %v", err)
	}
	testutil.WaitMembers(t, 10*time.Second, append(slices.Clone(nodes), strict), "mig-0", "mig-1", "mig-2", "mig-3", "mig-strict")
	// Key operations work on the encrypted cluster.
	if res, err = nodes[3].KeyManager().Install(opCtx(), keyBytes(6)); err != nil || len(res.Acked()) != 5 {
		t.Fatalf("install after Encrypt: %v, %+v", err, res)
	}
	// Encrypt again is a no-op.
	if _, err := nodes[0].KeyManager().Encrypt(opCtx()); err != nil {
		t.Fatalf("second Encrypt: %v", err)
	}
	for i, l := range logs {
		for _, ev := range l.All()[marks[i]:] {
			if ev.Type == EventFail || ev.Type == EventLeave {
				t.Errorf("%s reported %v of %s during the switch", nodes[i].Name(), ev.Type, ev.Member.Name)
			}
		}
	}
}

func TestKeyringMigrationRefusesOtherKeys(t *testing.T) {
	a := startNode(t, append(testOpts(t, "mk-a"), WithKeyringMigration(keyBytes(1)))...)
	b := startNode(t, append(testOpts(t, "mk-b"), WithKeyringMigration(keyBytes(2)), WithSeeds(seeds.Static(a.Addr())))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b}, "mk-a", "mk-b")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := a.KeyManager().Encrypt(ctx); !errors.Is(err, ErrEncryptRefused) {
		t.Fatalf("encrypt with a member holding another key: %v", err)
	}
	if _, plaintext := ownKeys(t, a); !plaintext {
		t.Fatal("a refused Encrypt turned encryption on")
	}
	if _, plaintext := ownKeys(t, b); !plaintext {
		t.Fatal("a refused Encrypt turned encryption on")
	}
}

func TestKeyringOptionsExclusive(t *testing.T) {
	for _, opts := range [][]Option{
		{WithSecretKey(keyBytes(1)), WithKeyringMigration(keyBytes(1))},
		{WithKeyringMigration(keyBytes(1)), WithKeyring(keyBytes(1))},
		{WithSecretKey(keyBytes(1)), WithSecretKey(keyBytes(2))},
	} {
		if _, err := newConfig(opts); err == nil {
			t.Errorf("two keyring options accepted")
		}
	}
	if _, err := newConfig([]Option{WithKeyringMigration(keyBytes(1)[:7])}); err == nil {
		t.Error("7-byte migration key accepted")
	}
}

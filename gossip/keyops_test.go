package gossip

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/joinfail"
	"github.com/gencluster/gencluster/internal/keyproto"
	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// keyed starts n gossips with keys, joined.
func keyed(t *testing.T, n int, keys ...[]byte) []*Gossip {
	t.Helper()
	var gs []*Gossip
	for i := range n {
		cfg := Config{Name: string(rune('a' + i)), BindAddr: "127.0.0.1:0", Security: Security{Keys: keys}, Memberlist: fast}
		g, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		if i > 0 {
			if err := g.Connect(context.Background(), gs[0].Addr()); err != nil {
				t.Fatal(err)
			}
		}
		gs = append(gs, g)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, g := range gs {
			if len(g.Members()) != n {
				return false
			}
		}
		return true
	}, "all members")
	return gs
}

func statuses(rs []keyproto.Reply) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Name+"="+r.Status.String())
	}
	return strings.Join(s, " ")
}

func TestClusterKeyRotation(t *testing.T) {
	gs := keyed(t, 3, k(1))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Use before install: refused, nothing changed.
	rs, err := gs[1].ClusterKeyOp(ctx, keyproto.Use, k(2))
	if !errors.Is(err, keyproto.ErrUseRefused) || len(rs) != 3 {
		t.Fatalf("use of a key nobody has: %v (%s)", err, statuses(rs))
	}
	if rs, err = gs[1].ClusterKeyOp(ctx, keyproto.Install, k(2)); err != nil || rs[0].Name != "b" {
		t.Fatalf("install: %v (%s)", err, statuses(rs))
	}
	for _, g := range gs {
		if !hasKey(g, k(2)) {
			t.Fatalf("%s lacks the installed key", g.name)
		}
	}
	// One member loses the key: use is refused and names it.
	if err := gs[2].removeKey(k(2)); err != nil {
		t.Fatal(err)
	}
	rs, err = gs[0].ClusterKeyOp(ctx, keyproto.Use, k(2))
	if !errors.Is(err, keyproto.ErrUseRefused) || !strings.Contains(err.Error(), "c: does not have the key") {
		t.Fatalf("use with c lacking the key: %v (%s)", err, statuses(rs))
	}
	if keyproto.Fingerprint(gs[0].lockedKeys()[0]) != keyproto.Fingerprint(k(1)) {
		t.Fatal("a refused use changed the primary key")
	}
	if _, err := gs[0].ClusterKeyOp(ctx, keyproto.Install, k(2)); err != nil {
		t.Fatal(err)
	}
	if rs, err = gs[0].ClusterKeyOp(ctx, keyproto.Use, k(2)); err != nil {
		t.Fatalf("use: %v (%s)", err, statuses(rs))
	}
	// The old key is nobody's primary now; the new one is everybody's.
	if rs, err = gs[0].ClusterKeyOp(ctx, keyproto.Remove, k(2)); !errors.Is(err, keyproto.ErrRemoveRefused) || !errors.Is(err, keyproto.ErrRemovePrimaryKey) {
		t.Fatalf("remove of the primary key: %v (%s)", err, statuses(rs))
	}
	if rs, err = gs[2].ClusterKeyOp(ctx, keyproto.Remove, k(1)); err != nil {
		t.Fatalf("remove: %v (%s)", err, statuses(rs))
	}
	rs, err = gs[2].ClusterKeyOp(ctx, keyproto.List, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !slices.Equal(r.Keys, []string{keyproto.Fingerprint(k(2))}) {
			t.Fatalf("%s lists %v, want only the new key", r.Name, r.Keys)
		}
	}
	for _, g := range gs {
		if len(g.Members()) != 3 {
			t.Fatalf("%s sees %d members after the rotation", g.name, len(g.Members()))
		}
	}
}

func TestClusterKeyOpWithoutKeyring(t *testing.T) {
	g := start(t, "plain", nil)
	if _, err := g.ClusterKeyOp(context.Background(), keyproto.List, nil); !errors.Is(err, keyproto.ErrNoKeyring) {
		t.Fatalf("list without keys: %v", err)
	}
	if _, err := g.ClusterKeyOp(context.Background(), keyproto.Install, k(1)[:3]); err == nil || !strings.Contains(err.Error(), "3 bytes") {
		t.Fatalf("install of a 3-byte key: %v", err)
	}
}

// TestJoinBehindKeyHint: a node whose only key the cluster still accepts,
// but no longer encrypts with, is told why its join fails: a key mismatch,
// with advice (for a node alone, which it is) that names the rotation.
func TestJoinBehindKeyHint(t *testing.T) {
	cluster := keyed(t, 1, k(2), k(1)) // "a": encrypts with 2, accepts 1
	behind, err := Start(Config{Name: "z", BindAddr: "127.0.0.1:0", Security: Security{Keys: [][]byte{k(1)}}, Memberlist: fast})
	if err != nil {
		t.Fatal(err)
	}
	defer behind.Close()
	err = behind.Connect(context.Background(), cluster[0].Addr())
	var je *joinfail.Error
	if !errors.As(err, &je) || je.Kind != joinfail.KeyMismatch || !strings.Contains(je.Kind.Advice(true), "rotated while this node was away") {
		t.Fatalf("join of a node that missed the rotation: %v, want a key mismatch with the hint", err)
	}
}

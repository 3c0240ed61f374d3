package gencluster

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func keyBytes(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func hasKeys(n *Node, want ...[]byte) bool {
	return slices.EqualFunc(n.Keys(), want, bytes.Equal)
}

// TestKeyStatusMatchesGossip: the root's statuses are the gossip layer's,
// converted by value.
func TestKeyStatusMatchesGossip(t *testing.T) {
	for _, s := range []KeyStatus{KeyAcked, KeyRefused, KeyUnreachable, KeyTimeout} {
		if s.String() == "" || strings.HasPrefix(s.String(), "KeyStatus(") {
			t.Errorf("status %d has no name: %q", s, s.String())
		}
	}
	if KeyAcked.String() != "acked" || KeyTimeout.String() != "timeout" || KeyUnreachable.String() != "unreachable" || KeyRefused.String() != "refused" {
		t.Error("root and gossip statuses are out of step")
	}
	r := KeyringResult{Members: []KeyMemberResult{{Name: "a", Status: KeyAcked}, {Name: "b", Status: KeyTimeout}}}
	if !slices.Equal(r.Acked(), []string{"a"}) || !slices.Equal(r.NotAcked(), []string{"b"}) {
		t.Errorf("Acked %v NotAcked %v", r.Acked(), r.NotAcked())
	}
}

func TestKeyringWithoutKeys(t *testing.T) {
	n := startNode(t, testOpts(t, "nokeys")...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := n.Keyring().List(ctx); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("list without keys: %v", err)
	}
	n.Close()
	if _, err := n.Keyring().List(ctx); !errors.Is(err, ErrStopped) {
		t.Fatalf("list on a stopped node: %v, want ErrStopped", err)
	}
}

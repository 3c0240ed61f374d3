package gencluster

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

func keyBytes(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// ownKeys is n's own entry of KeyManager().List: its key fingerprints,
// primary first, and whether it does not encrypt with them yet. A node
// without keys has none.
func ownKeys(t *testing.T, n *Node) (fingerprints []string, plaintext bool) {
	t.Helper()
	// Only the node's own entry is read, and it is there whatever the
	// others answer by the deadline (they are KeyTimeout then): a short
	// deadline keeps a peer that cannot open the request (another key)
	// from costing the test the whole wait.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := n.KeyManager().List(ctx)
	if errors.Is(err, ErrNoKeyring) {
		return nil, false
	}
	if len(res.Members) == 0 || res.Members[0].Name != n.Name() {
		t.Fatalf("%s: List did not report the node itself first: %v, %+v", n.Name(), err, res)
	}
	return res.Members[0].Keys, res.Members[0].Plaintext
}

// hasKeys: n encrypts with exactly want, primary first.
func hasKeys(t *testing.T, n *Node, want ...[]byte) bool {
	t.Helper()
	fps, plaintext := ownKeys(t, n)
	var wantFps []string
	for _, k := range want {
		wantFps = append(wantFps, KeyFingerprint(k))
	}
	return !plaintext && slices.Equal(fps, wantFps)
}

// TestKeyStatusNames: the statuses have their names, and a response
// sorts its members by them.
func TestKeyStatusNames(t *testing.T) {
	for _, s := range []KeyStatus{KeyAcked, KeyRefused, KeyUnreachable, KeyTimeout} {
		if s.String() == "" || strings.HasPrefix(s.String(), "KeyStatus(") {
			t.Errorf("status %d has no name: %q", s, s.String())
		}
	}
	if KeyAcked.String() != "acked" || KeyTimeout.String() != "timeout" || KeyUnreachable.String() != "unreachable" || KeyRefused.String() != "refused" {
		t.Error("statuses misnamed")
	}
	r := KeyResponse{Members: []KeyReply{{Name: "a", Status: KeyAcked}, {Name: "b", Status: KeyTimeout}}}
	if !slices.Equal(r.Acked(), []string{"a"}) || !slices.Equal(r.NotAcked(), []string{"b"}) {
		t.Errorf("Acked %v NotAcked %v", r.Acked(), r.NotAcked())
	}
}

func TestKeyManagerWithoutKeys(t *testing.T) {
	n := startNode(t, testOpts(t, "nokeys")...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, f := range map[string]func() (KeyResponse, error){
		"list":    func() (KeyResponse, error) { return n.KeyManager().List(ctx) },
		"install": func() (KeyResponse, error) { return n.KeyManager().Install(ctx, keyBytes(1)) },
		"encrypt": func() (KeyResponse, error) { return n.KeyManager().Encrypt(ctx) },
	} {
		if _, err := f(); !errors.Is(err, ErrNoKeyring) || !strings.Contains(err.Error(), "WithSecretKey") {
			t.Errorf("%s without keys: %v, want ErrNoKeyring naming WithSecretKey", name, err)
		}
	}
	n.Close()
	if _, err := n.KeyManager().List(ctx); !errors.Is(err, ErrStopped) {
		t.Fatalf("list on a stopped node: %v, want ErrStopped", err)
	}
}

// TestKeyManagerOnAnotherDist: a Dist without key operations (one given
// with WithDist owns its transport and keys) makes every operation
// ErrNoKeyring, and has nobody behind.
func TestKeyManagerOnAnotherDist(t *testing.T) {
	n := startFake(t, testutil.NewDist("10.0.0.1:7946"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := n.KeyManager().Install(ctx, keyBytes(1)); !errors.Is(err, ErrNoKeyring) || !strings.Contains(err.Error(), "WithDist") {
		t.Errorf("install on a Dist without keys: %v, want ErrNoKeyring naming WithDist", err)
	}
	if b := n.KeyManager().Behind(); b != nil {
		t.Errorf("Behind = %v, want nil", b)
	}
}

package gossip

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/keyproto"
)

func ringOf(t *testing.T, keys ...[]byte) *Gossip {
	t.Helper()
	kr, err := memberlist.NewKeyring(keys[1:], keys[0])
	if err != nil {
		t.Fatal(err)
	}
	return &Gossip{keyring: kr}
}

func k(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }

// lockedKeys is keys, under the lock.
func (g *Gossip) lockedKeys() [][]byte {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	return g.keys()
}

func hasKey(g *Gossip, key []byte) bool {
	return slices.ContainsFunc(g.lockedKeys(), func(x []byte) bool { return bytes.Equal(x, key) })
}

func TestKeyringOps(t *testing.T) {
	g := ringOf(t, k(1), k(2), k(3), k(4))
	if err := g.removeKey(k(2)); err != nil {
		t.Fatal(err)
	}
	if got := g.lockedKeys(); !slices.EqualFunc(got, [][]byte{k(1), k(3), k(4)}, bytes.Equal) {
		t.Fatalf("keys %x", got)
	}
	if err := g.removeKey(k(1)); !errors.Is(err, keyproto.ErrRemovePrimaryKey) {
		t.Fatalf("remove primary: %v", err)
	}
	if err := g.useKey(k(9)); !errors.Is(err, errKeyNotInstalled) {
		t.Fatalf("use absent: %v", err)
	}
	if err := g.installKey(k(5)[:5]); err == nil {
		t.Fatal("5-byte key installed")
	}
	if err := (&Gossip{}).installKey(k(1)); !errors.Is(err, keyproto.ErrNoKeyring) {
		t.Fatalf("no keyring: %v", err)
	}
	empty, _ := memberlist.NewKeyring(nil, nil)
	if err := (&Gossip{keyring: empty}).installKey(k(1)); !errors.Is(err, keyproto.ErrNoKeyring) {
		t.Fatalf("empty keyring (encryption off) must not be turned on: %v", err)
	}
}

// TestKeyringOpsDoNotRaceWithDecryption reads the keyring the way
// memberlist's packet and stream handlers do (GetKeys, then read every key
// without the lock) while keys are installed, made primary and removed.
// Under -race this fails if an operation writes to a key slice a reader
// may hold, as memberlist's own Keyring.RemoveKey of a middle key does.
func TestKeyringOpsDoNotRaceWithDecryption(t *testing.T) {
	g := ringOf(t, k(1), k(2), k(3))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := 0
				for _, key := range g.keyring.GetKeys() {
					n += len(key) + int(key[0])
				}
				_ = n
				_ = g.keyring.GetPrimaryKey()
			}
		}()
	}
	for i := range 300 {
		b := byte(10 + i%50)
		if err := g.installKey(k(b)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := g.useKey(k(b)); err != nil {
				t.Fatal(err)
			}
		}
		keys := g.lockedKeys()
		if len(keys) > 3 {
			// Remove a middle key (never the primary).
			if err := g.removeKey(keys[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
}

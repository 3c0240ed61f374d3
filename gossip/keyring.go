package gossip

import (
	"bytes"
	"errors"
	"slices"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/keyproto"
)

// The keyring's changes: package keyproto decides when (keyops.go), and
// these make them on memberlist's keyring, which memberlist's packet and
// stream handlers read at the same time.

// errKeyNotInstalled: use of a key that is not in the keyring.
var errKeyNotInstalled = errors.New("key is not installed in the keyring")

// ring returns the keyring in use, or ErrNoKeyring when there is none or
// it is empty (encryption off).
func (g *Gossip) ring() (*memberlist.Keyring, error) {
	if g.keyring == nil || len(g.keyring.GetKeys()) == 0 {
		return nil, keyproto.ErrNoKeyring
	}
	return g.keyring, nil
}

// keys returns a copy of this node's keys, the primary (encrypting) key
// first, or nil when encryption is not enabled. The caller holds keyMu.
func (g *Gossip) keys() [][]byte {
	if g.keyring == nil {
		return nil
	}
	return cloneKeys(g.keyring.GetKeys())
}

func cloneKeys(keys [][]byte) [][]byte {
	if len(keys) == 0 {
		return nil
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = bytes.Clone(k)
	}
	return out
}

// installKey adds key to this node's keyring, so that it decrypts messages
// encrypted with it; it does not encrypt with it (see useKey). Installing
// a key that is already there does nothing.
func (g *Gossip) installKey(key []byte) error {
	if err := keyproto.ValidateKey(key); err != nil {
		return err
	}
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	kr, err := g.ring()
	if err != nil {
		return err
	}
	if slices.ContainsFunc(kr.GetKeys(), func(k []byte) bool { return bytes.Equal(k, key) }) {
		return nil
	}
	fresh(kr)
	return kr.AddKey(bytes.Clone(key))
}

// useKey makes an installed key the primary key: this node encrypts every
// message with it from now on. Every peer must have it installed first.
func (g *Gossip) useKey(key []byte) error {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	kr, err := g.ring()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(kr.GetKeys(), func(k []byte) bool { return bytes.Equal(k, key) }) {
		return errKeyNotInstalled
	}
	return kr.UseKey(key)
}

// removeKey removes a key from this node's keyring: messages encrypted with
// it are dropped from now on. The primary key cannot be removed. Removing a
// key that is not installed does nothing, so a rotation can be re-run.
func (g *Gossip) removeKey(key []byte) error {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	kr, err := g.ring()
	if err != nil {
		return err
	}
	keys := cloneKeys(kr.GetKeys())
	i := slices.IndexFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) })
	switch {
	case i < 0:
		return nil
	case i == 0:
		return keyproto.ErrRemovePrimaryKey
	}
	// memberlist's Keyring.RemoveKey shifts the later keys down inside
	// the slice that GetKeys handed to the goroutines decrypting packets
	// at that moment: a data race. Removing the last key writes nothing,
	// so remove from the end down to key, then put the later keys back
	// (AddKey appends to a fresh copy, see fresh). The later keys are
	// missing for microseconds: a packet encrypted with one of them in
	// that window is dropped, which gossip tolerates.
	tail := keys[i+1:]
	for j := len(keys) - 1; j >= i; j-- {
		if err := kr.RemoveKey(keys[j]); err != nil {
			return err
		}
	}
	if len(tail) > 0 {
		fresh(kr)
	}
	for _, k := range tail {
		if err := kr.AddKey(k); err != nil {
			return err
		}
	}
	return nil
}

// fresh makes the keyring copy its key slice (UseKey of the primary key
// rebuilds it), so that the next AddKey appends to memory no decrypting
// goroutine holds: AddKey appends in place when there is capacity.
func fresh(kr *memberlist.Keyring) {
	_ = kr.UseKey(kr.GetPrimaryKey())
}

// enableEncryption moves the pending migration keys into the keyring: from
// now on this node encrypts (GossipVerifyOutgoing is on) and still accepts
// plaintext (GossipVerifyIncoming is off until a restart with the key).
// It is a no-op when the keyring already has keys.
func (g *Gossip) enableEncryption(k *keyOps) error {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	if g.keyring == nil {
		return keyproto.ErrNoKeyring
	}
	if len(g.keyring.GetKeys()) > 0 {
		return nil
	}
	if len(k.pending) == 0 {
		return errors.New("not migrating: no pending keys (WithKeyringMigration)")
	}
	for i, key := range k.pending {
		if i > 0 {
			fresh(g.keyring)
		}
		if err := g.keyring.AddKey(bytes.Clone(key)); err != nil {
			return err
		}
	}
	k.pending = nil
	g.logger.Info("gossip encryption turned on (migration)")
	return nil
}

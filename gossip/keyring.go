package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/memberlist"
)

// Errors of the keyring operations. None of them, nor any other error of
// this package, contains key material.
var (
	// ErrNoKeyring: the node was started without gossip encryption, so
	// there is no keyring to change. Encryption cannot be turned on (or
	// off) on a running node: it would cut the node off from its peers.
	ErrNoKeyring = errors.New("gossip encryption is not enabled (no keyring)")
	// ErrKeyNotInstalled: UseKey of a key that is not in the keyring.
	ErrKeyNotInstalled = errors.New("key is not installed in the keyring")
	// ErrRemovePrimaryKey: RemoveKey of the key that encrypts outgoing
	// messages. Make another key primary first.
	ErrRemovePrimaryKey = errors.New("cannot remove the primary key (make another key primary with UseKey first)")
)

// ValidateKey checks that key can be an AES key: 16, 24 or 32 bytes (AES-128,
// AES-192, AES-256). The error names the length, never the key.
func ValidateKey(key []byte) error {
	switch len(key) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("key is %d bytes, want 16, 24 or 32 (AES-128, AES-192 or AES-256)", len(key))
}

// ring returns the keyring in use, or ErrNoKeyring when there is none or
// it is empty (encryption off).
func (g *Gossip) ring() (*memberlist.Keyring, error) {
	if g.keyring == nil || len(g.keyring.GetKeys()) == 0 {
		return nil, ErrNoKeyring
	}
	return g.keyring, nil
}

// Keys returns a copy of this node's keys, the primary (encrypting) key
// first, or nil when encryption is not enabled.
func (g *Gossip) Keys() [][]byte {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
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

// InstallKey adds key to this node's keyring, so that it decrypts messages
// encrypted with it; it does not encrypt with it (see UseKey). Installing
// a key that is already there does nothing.
func (g *Gossip) InstallKey(key []byte) error {
	if err := ValidateKey(key); err != nil {
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

// UseKey makes an installed key the primary key: this node encrypts every
// message with it from now on. Every peer must have it installed first.
func (g *Gossip) UseKey(key []byte) error {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	kr, err := g.ring()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(kr.GetKeys(), func(k []byte) bool { return bytes.Equal(k, key) }) {
		return ErrKeyNotInstalled
	}
	return kr.UseKey(key)
}

// RemoveKey removes a key from this node's keyring: messages encrypted with
// it are dropped from now on. The primary key cannot be removed. Removing a
// key that is not installed does nothing, so a rotation can be re-run.
func (g *Gossip) RemoveKey(key []byte) error {
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
		return ErrRemovePrimaryKey
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

package gencluster

import (
	"errors"
	"fmt"

	"github.com/gencluster/gencluster/gossip"
)

// Errors of the key rotation methods; test for them with errors.Is. No
// error of gencluster contains key material.
var (
	// ErrNoKeyring: the node was started without WithSecretKey or
	// WithKeyring. Encryption cannot be turned on or off on a running node.
	ErrNoKeyring = gossip.ErrNoKeyring
	// ErrKeyNotInstalled: UseKey of a key that InstallKey did not add.
	ErrKeyNotInstalled = gossip.ErrKeyNotInstalled
	// ErrRemovePrimaryKey: RemoveKey of the key in use.
	ErrRemovePrimaryKey = gossip.ErrRemovePrimaryKey
)

// Keys returns a copy of this node's gossip keys, the primary key (the one
// that encrypts) first; nil when the node has no encryption.
//
// Key rotation: the keyring is per node. InstallKey, UseKey and RemoveKey
// change this node's keys only, at once, and send nothing. The usual way
// to rotate the key of a running cluster is Keyring, from any one node,
// which runs each step on every member and checks it (docs/keys.md). With
// these local methods, run each step on every node before starting the
// next:
//
//  1. InstallKey(new) on every node: all nodes decrypt both keys.
//  2. UseKey(new) on every node: all nodes encrypt with the new key (a node
//     still on the old key is understood, since every node has both).
//  3. RemoveKey(old) on every node: the old key is no longer accepted.
//
// Members never fall out during the rotation. A node started during it
// needs WithKeyring with the key the cluster encrypts with as primary and
// the other key too. Nodes that missed step 1 drop out of the cluster at
// step 2, and nodes that only have the old key cannot join after step 3.
func (n *Node) Keys() [][]byte {
	g, ok := n.dist.(localKeyDist)
	if !ok {
		return nil
	}
	return g.Keys()
}

// localKeyDist is a Dist with a keyring of its own (the gossip adapter).
type localKeyDist interface {
	Keys() [][]byte
	InstallKey([]byte) error
	UseKey([]byte) error
	RemoveKey([]byte) error
}

// InstallKey adds key (16, 24 or 32 bytes) to this node's keyring: the node
// then accepts messages encrypted with it, but still encrypts with its
// primary key. Installing a key twice does nothing. It is step 1 of a
// rotation; see Keys for the procedure.
func (n *Node) InstallKey(key []byte) error {
	return n.keyOp("InstallKey", key, localKeyDist.InstallKey)
}

// UseKey makes an installed key this node's primary key: it encrypts every
// message with it from now on. Every other node must have installed it
// first, or they drop this node's messages and declare it failed. It is
// step 2 of a rotation; see Keys. A key that is not installed is
// ErrKeyNotInstalled.
func (n *Node) UseKey(key []byte) error {
	return n.keyOp("UseKey", key, localKeyDist.UseKey)
}

// RemoveKey removes key from this node's keyring: messages encrypted with
// it are dropped from now on. Removing the primary key is
// ErrRemovePrimaryKey; removing a key that is not installed does nothing.
// It is step 3 of a rotation; see Keys.
func (n *Node) RemoveKey(key []byte) error {
	return n.keyOp("RemoveKey", key, localKeyDist.RemoveKey)
}

func (n *Node) keyOp(op string, key []byte, f func(localKeyDist, []byte) error) error {
	g, ok := n.dist.(localKeyDist)
	if !ok {
		return fmt.Errorf("gencluster: %s: the Dist given with WithDist owns its transport and keys: %w", op, ErrNoKeyring)
	}
	if err := n.stopped(op); err != nil {
		return err
	}
	if err := f(g, key); err != nil {
		if errors.Is(err, ErrNoKeyring) {
			return fmt.Errorf("gencluster: %s: %w; start the node with WithSecretKey or WithKeyring", op, err)
		}
		return fmt.Errorf("gencluster: %s: %w", op, err)
	}
	n.logger.Info("gossip keyring changed", "op", op, "keys", len(g.Keys()))
	return nil
}

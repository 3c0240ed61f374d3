package gencluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/gencluster/gencluster/internal/keyproto"
)

// Errors of the key operations (Node.KeyManager); test with errors.Is. The
// result says which members and why. No error of gencluster contains key
// material.
var (
	// ErrNoKeyring: the node was started without WithSecretKey,
	// WithKeyring or WithKeyringMigration (or with WithDist, whose Dist
	// owns its keys). Encryption cannot be turned on or off on a running
	// node.
	ErrNoKeyring = keyproto.ErrNoKeyring
	// ErrNotAcknowledged: the operation (a key operation, or Node.Drain)
	// was sent but not every member acknowledged it; the response names
	// them.
	ErrNotAcknowledged = keyproto.ErrNotAcknowledged
	// ErrUseRefused: Use changed nothing, because not every live member
	// reported having the key installed.
	ErrUseRefused = keyproto.ErrUseRefused
	// ErrRemoveRefused: Remove changed nothing, because the key is the
	// primary key of a live member (also ErrRemovePrimaryKey when it is
	// this node's), or a live member did not answer.
	ErrRemoveRefused = keyproto.ErrRemoveRefused
	// ErrRemovePrimaryKey: Remove of this node's primary key (with
	// ErrRemoveRefused).
	ErrRemovePrimaryKey = keyproto.ErrRemovePrimaryKey
	// ErrEncryptRefused: Encrypt changed nothing, because not every live
	// member was started with WithKeyringMigration and the same keys.
	ErrEncryptRefused = keyproto.ErrEncryptRefused
)

// KeyOpWindow is how far a key request's time may be from a member's
// clock: members drop requests outside it, and remember request IDs for
// twice as long, so that a recorded request cannot be replayed. Members
// need no closer clocks than that.
const KeyOpWindow = keyproto.Window

// KeyStatus is one member's outcome of a key operation: KeyAcked,
// KeyRefused, KeyUnreachable or KeyTimeout. Its String is the lower-case
// name: acked, refused, unreachable, timeout.
type KeyStatus = keyproto.Status

// The outcomes.
const (
	// KeyAcked: the member did it (or had nothing to do).
	KeyAcked = keyproto.Acked
	// KeyRefused: the member answered with an error, or a safety rule
	// refused the operation because of this member (Err says which).
	KeyRefused = keyproto.Refused
	// KeyUnreachable: the request could not be sent to the member.
	KeyUnreachable = keyproto.Unreachable
	// KeyTimeout: the member did not answer before the context ended.
	KeyTimeout = keyproto.Timeout
)

// KeyReply is one member's reply to a key operation.
type KeyReply struct {
	Name   string
	Addr   string
	Status KeyStatus
	// Err says why Status is not KeyAcked; empty when it is.
	Err string
	// Keys are the member's key fingerprints (KeyFingerprint), primary
	// first, as the member reported them; nil when it did not answer.
	Keys []string
	// Plaintext: the member holds its keys for a migration
	// (WithKeyringMigration) and does not encrypt yet.
	Plaintext bool
}

// KeyResponse is the outcome of a key operation: one reply per live
// member asked, this node first, then by name.
type KeyResponse struct {
	// Op is the operation: list, install, use, remove or encrypt.
	Op      string
	Members []KeyReply
}

// Acked returns the names of the members that acknowledged.
func (r KeyResponse) Acked() []string { return r.names(true) }

// NotAcked returns the names of the members that did not acknowledge
// (refused, unreachable or timed out).
func (r KeyResponse) NotAcked() []string { return r.names(false) }

func (r KeyResponse) names(acked bool) []string {
	var out []string
	for _, m := range r.Members {
		if (m.Status == KeyAcked) == acked {
			out = append(out, m.Name)
		}
	}
	return out
}

// KeyFingerprint names a key without revealing it: the first 8 bytes of
// its SHA-256, in hex. Listings report fingerprints, never keys; compare
// them with KeyFingerprint of the keys you hold.
func KeyFingerprint(key []byte) string { return keyproto.Fingerprint(key) }

// KeyManager runs key operations on every live member of the cluster at
// once; see Node.KeyManager.
type KeyManager struct{ n *Node }

// keyDist is what a Dist that carries key operations implements (the
// memberlist adapter does). Without it, every operation is ErrNoKeyring.
type keyDist interface {
	ClusterKeyOp(ctx context.Context, op keyproto.Op, key []byte) ([]keyproto.Reply, error)
	Behind() map[string]int
}

// KeyManager returns the node's key operations, named as serf names them.
// Each asks every live member (this node included) and returns one reply
// per member, acknowledged or not, and why. The requests travel over
// memberlist's own encrypted channel (TCP user messages), sealed once more
// with a key of the keyring; a member accepts only requests that open with
// one of its keys, come from a live member of its view, are at most
// KeyOpWindow from its clock, and were not seen before (no replay).
//
// The operations never leave the cluster unable to talk: Use is refused
// until every live member reports having the key, and Remove is refused
// while the key is any live member's primary key (or a live member does
// not answer). Members that were sent an Install, Use or Remove and did
// not answer are re-sent it, in order, while they are members, until they
// answer (Behind lists them). Each operation is idempotent: re-run it
// when a response is incomplete.
//
// A rotation is Install(new), Use(new), Remove(old); see docs/keys.md.
func (n *Node) KeyManager() *KeyManager { return &KeyManager{n: n} }

// List reports every live member's key fingerprints, primary first; the
// first reply is this node's own.
func (k *KeyManager) List(ctx context.Context) (KeyResponse, error) {
	return k.do(ctx, keyproto.List, nil)
}

// Install adds key (16, 24 or 32 bytes) to every live member's keyring:
// they accept messages encrypted with it, and still encrypt with their
// primary key. Installing a key twice does nothing.
func (k *KeyManager) Install(ctx context.Context, key []byte) (KeyResponse, error) {
	return k.do(ctx, keyproto.Install, key)
}

// Use makes key every live member's primary key, once every live member
// reports having it installed (otherwise ErrUseRefused, and nothing
// changed).
func (k *KeyManager) Use(ctx context.Context, key []byte) (KeyResponse, error) {
	return k.do(ctx, keyproto.Use, key)
}

// Remove removes key from every live member's keyring, unless it is a live
// member's primary key or a live member does not answer the check
// (ErrRemoveRefused, and nothing changed). Removing a key that is not
// installed does nothing.
func (k *KeyManager) Remove(ctx context.Context, key []byte) (KeyResponse, error) {
	return k.do(ctx, keyproto.Remove, key)
}

// Encrypt completes a migration from plaintext gossip: when every live
// member was started with WithKeyringMigration and the same keys, every
// member starts encrypting with them (this node last). Otherwise it is
// ErrEncryptRefused and nothing changed. A nil error means every member
// reported, after the switch, that it encrypts; a member that acknowledged
// the switch but still reports plaintext is KeyRefused in the response
// (and the error is ErrNotAcknowledged). See WithKeyringMigration.
func (k *KeyManager) Encrypt(ctx context.Context) (KeyResponse, error) {
	return k.do(ctx, keyproto.Encrypt, nil)
}

// Behind returns the members that missed an Install, Use or Remove this
// node coordinated and have not acknowledged it since, with how many
// operations each missed. This node re-sends them while they are
// members; a member listed here for long is partitioned, or cannot be
// reached at all (see docs/keys.md).
func (k *KeyManager) Behind() map[string]int {
	if kd, ok := k.n.dist.(keyDist); ok {
		return kd.Behind()
	}
	return nil
}

func (k *KeyManager) do(ctx context.Context, op keyproto.Op, key []byte) (KeyResponse, error) {
	res := KeyResponse{Op: op.String()}
	kd, ok := k.n.dist.(keyDist)
	if !ok {
		return res, fmt.Errorf("gencluster: KeyManager %s: the Dist given with WithDist owns its transport and keys: %w", op, ErrNoKeyring)
	}
	if err := k.n.stopped("KeyManager " + op.String()); err != nil {
		return res, err
	}
	replies, err := kd.ClusterKeyOp(ctx, op, key)
	for _, r := range replies {
		res.Members = append(res.Members, KeyReply(r))
	}
	if err != nil {
		if errors.Is(err, ErrNoKeyring) {
			err = fmt.Errorf("%w; start the node with WithSecretKey, WithKeyring or WithKeyringMigration", err)
		}
		k.n.logger.Warn("cluster key operation incomplete", "op", op.String(), "acked", len(res.Acked()), "members", len(res.Members), "err", err)
		return res, fmt.Errorf("gencluster: KeyManager %s: %w", op, err)
	}
	k.n.logger.Info("cluster key operation done", "op", op.String(), "members", len(res.Members))
	return res, nil
}

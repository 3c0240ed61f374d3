package gencluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/gencluster/gencluster/gossip"
)

// Errors of the cluster-wide key operations (Node.Keyring); test with
// errors.Is. The result says which members and why.
var (
	// ErrNotAcknowledged: the operation was sent but not every member
	// acknowledged it.
	ErrNotAcknowledged = gossip.ErrNotAcknowledged
	// ErrUseRefused: Use changed nothing, because not every live member
	// reported having the key installed.
	ErrUseRefused = gossip.ErrUseRefused
	// ErrRemoveRefused: Remove changed nothing, because the key is the
	// primary key of a live member (also ErrRemovePrimaryKey when it is
	// this node's), or a live member did not answer.
	ErrRemoveRefused = gossip.ErrRemoveRefused
	// ErrEncryptRefused: Encrypt changed nothing, because not every live
	// member was started with WithKeyringMigration and the same keys.
	ErrEncryptRefused = gossip.ErrEncryptRefused
)

// KeyStatus is one member's outcome of a cluster-wide key operation.
type KeyStatus int

// The outcomes.
const (
	// KeyAcked: the member did it (or had nothing to do).
	KeyAcked KeyStatus = iota + 1
	// KeyRefused: the member answered with an error, or a safety rule
	// refused the operation because of this member (Err says which).
	KeyRefused
	// KeyUnreachable: the request could not be sent to the member.
	KeyUnreachable
	// KeyTimeout: the member did not answer before the context ended.
	KeyTimeout
)

// String is the outcome's lower-case name: acked, refused, unreachable,
// timeout.
func (s KeyStatus) String() string { return gossip.KeyStatus(s).String() }

// KeyMemberResult is one member's reply to a cluster-wide key operation.
type KeyMemberResult struct {
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

// KeyringResult is the outcome of a cluster-wide key operation: one entry
// per live member asked, this node first, then by name.
type KeyringResult struct {
	// Op is the operation: list, install, use, remove or encrypt.
	Op      string
	Members []KeyMemberResult
}

// Acked returns the names of the members that acknowledged.
func (r KeyringResult) Acked() []string { return r.names(true) }

// NotAcked returns the names of the members that did not acknowledge
// (refused, unreachable or timed out).
func (r KeyringResult) NotAcked() []string { return r.names(false) }

func (r KeyringResult) names(acked bool) []string {
	var out []string
	for _, m := range r.Members {
		if (m.Status == KeyAcked) == acked {
			out = append(out, m.Name)
		}
	}
	return out
}

// KeyFingerprint names a key without revealing it: the first 8 bytes of
// its SHA-256, in hex. Cluster-wide listings report fingerprints, never
// keys; compare them with KeyFingerprint of the keys you hold.
func KeyFingerprint(key []byte) string { return gossip.KeyFingerprint(key) }

// ClusterKeyring runs key operations on every live member of the cluster
// at once; see Node.Keyring.
type ClusterKeyring struct{ n *Node }

// Keyring returns the node's cluster-wide key operations: each asks every
// live member (this node included) and returns one result per member,
// acknowledged or not, and why. The requests travel over memberlist's own
// encrypted channel (TCP user messages), sealed once more with a key of
// the keyring; a member accepts only requests that open with one of its
// keys, come from a live member of its view, are at most
// gossip.KeyOpWindow (one minute) from its clock, and were not seen before
// (no replay). Members do not need synchronised clocks beyond that.
//
// The operations never leave the cluster unable to talk: Use is refused
// until every live member reports having the key, and Remove is refused
// while the key is any live member's primary key (or a live member does
// not answer). Members that were sent an Install, Use or Remove and did
// not answer are re-sent it, in order, while they are members, until they
// answer (Behind lists them). Each operation is idempotent: re-run it
// when a result is incomplete.
//
// A cluster-wide rotation is Install(new), Use(new), Remove(old); see
// docs/keys.md. The local operations (Node.InstallKey, UseKey, RemoveKey,
// Keys) change this node only.
func (n *Node) Keyring() *ClusterKeyring { return &ClusterKeyring{n: n} }

// List reports every live member's key fingerprints, primary first.
func (k *ClusterKeyring) List(ctx context.Context) (KeyringResult, error) {
	return k.do(ctx, gossip.KeyList, nil)
}

// Install adds key (16, 24 or 32 bytes) to every live member's keyring:
// they accept messages encrypted with it, and still encrypt with their
// primary key.
func (k *ClusterKeyring) Install(ctx context.Context, key []byte) (KeyringResult, error) {
	return k.do(ctx, gossip.KeyInstall, key)
}

// Use makes key every live member's primary key, once every live member
// reports having it installed (otherwise ErrUseRefused, and nothing
// changed).
func (k *ClusterKeyring) Use(ctx context.Context, key []byte) (KeyringResult, error) {
	return k.do(ctx, gossip.KeyUse, key)
}

// Remove removes key from every live member's keyring, unless it is a live
// member's primary key or a live member does not answer the check
// (ErrRemoveRefused, and nothing changed).
func (k *ClusterKeyring) Remove(ctx context.Context, key []byte) (KeyringResult, error) {
	return k.do(ctx, gossip.KeyRemove, key)
}

// Encrypt completes a migration from plaintext gossip: when every live
// member was started with WithKeyringMigration and the same keys, every
// member starts encrypting with them (this node last). Otherwise it is
// ErrEncryptRefused and nothing changed. A nil error means every member
// reported, after the switch, that it encrypts; a member that acknowledged
// the switch but still reports plaintext is KeyRefused in the result (and
// the error is ErrNotAcknowledged). See WithKeyringMigration.
func (k *ClusterKeyring) Encrypt(ctx context.Context) (KeyringResult, error) {
	return k.do(ctx, gossip.KeyEncrypt, nil)
}

// Behind returns the members that missed an Install, Use or Remove this
// node coordinated and have not acknowledged it since, with how many
// operations each missed. This node re-sends them while they are
// members; a member listed here for long is partitioned, or cannot be
// reached at all (see docs/keys.md).
func (k *ClusterKeyring) Behind() map[string]int {
	g, ok := k.n.dist.(clusterKeyDist)
	if !ok {
		return nil
	}
	return g.Behind()
}

// clusterKeyDist is a Dist that runs cluster-wide key operations (the
// gossip adapter).
type clusterKeyDist interface {
	ClusterKeyOp(ctx context.Context, op gossip.KeyOp, key []byte) ([]gossip.KeyReply, error)
	Behind() map[string]int
}

func (k *ClusterKeyring) do(ctx context.Context, op gossip.KeyOp, key []byte) (KeyringResult, error) {
	res := KeyringResult{Op: op.String()}
	g, ok := k.n.dist.(clusterKeyDist)
	if !ok {
		return res, fmt.Errorf("gencluster: Keyring %s: the Dist given with WithDist owns its transport and keys: %w", op, ErrNoKeyring)
	}
	if err := k.n.stopped("Keyring " + op.String()); err != nil {
		return res, err
	}
	replies, err := g.ClusterKeyOp(ctx, op, key)
	for _, r := range replies {
		res.Members = append(res.Members, KeyMemberResult{
			Name: r.Name, Addr: r.Addr, Status: KeyStatus(r.Status), Err: r.Err, Keys: r.Keys, Plaintext: r.Plaintext,
		})
	}
	if err != nil {
		if errors.Is(err, ErrNoKeyring) {
			err = fmt.Errorf("%w; start the node with WithSecretKey, WithKeyring or WithKeyringMigration", err)
		}
		k.n.logger.Warn("cluster key operation incomplete", "op", op.String(), "acked", len(res.Acked()), "members", len(res.Members), "err", err)
		return res, fmt.Errorf("gencluster: Keyring %s: %w", op, err)
	}
	k.n.logger.Info("cluster key operation done", "op", op.String(), "members", len(res.Members))
	return res, nil
}

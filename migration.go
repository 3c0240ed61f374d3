package gencluster

import (
	"slices"

	"github.com/hashicorp/memberlist"
)

// WithKeyringMigration starts a node that holds keys but still gossips in
// plaintext, to move a running plaintext cluster to encryption without
// downtime (memberlist issue #59). The node:
//
//   - sends plaintext and accepts plaintext, so it talks with the
//     cluster's plaintext nodes as before;
//   - once Node.Keyring().Encrypt has run, encrypts everything with primary
//     (AES-GCM, as WithSecretKey) and decrypts with primary or others, and
//     still accepts plaintext from nodes that have not switched yet
//     (memberlist's GossipVerifyIncoming off).
//
// The procedure, on a running cluster (docs/keys.md):
//
//  1. Restart each node in turn with WithKeyringMigration(key): nothing
//     changes on the wire, the members stay.
//  2. Node.Keyring().Encrypt(ctx) on any one node: it checks that every
//     live member holds the same pending keys (ErrEncryptRefused otherwise,
//     and nothing changes) and then switches them all at once; no member
//     falls out.
//  3. Restart each node in turn with WithSecretKey(key) (or WithKeyring):
//     plaintext is refused from then on. Until this step, a node that
//     knows no key can still inject plaintext gossip: do not stay in step
//     2.
//
// The keys must be 16, 24 or 32 bytes and distinct. It excludes
// WithSecretKey and WithKeyring. The cluster-wide Install, Use and Remove
// work once encryption is on (after step 2).
func WithKeyringMigration(primary []byte, others ...[]byte) Option {
	return keyOption("WithKeyringMigration", primary, others, func(c *config, all [][]byte) {
		c.pendingKeys = slices.Clone(all)
		c.tuneMemberlist = append(c.tuneMemberlist, func(mc *memberlist.Config) {
			// An empty keyring: encryption is off (memberlist checks
			// for keys on every message) until Encrypt adds the pending
			// keys to it, under its lock. The two verify flags cannot
			// change on a running memberlist (they are read without a
			// lock), so they are set now for the encrypted phase:
			// encrypt what is sent, accept plaintext too.
			useKeyring(mc, nil, false)
		})
	})
}

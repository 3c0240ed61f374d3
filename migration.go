package gencluster

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/gossip"
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
	all := make([][]byte, 0, 1+len(others))
	for _, k := range append([][]byte{primary}, others...) {
		all = append(all, bytes.Clone(k))
	}
	const opt = "WithKeyringMigration"
	return func(c *config) error {
		if err := c.setKeyringOpt(opt); err != nil {
			return err
		}
		if err := checkKeys(opt, all); err != nil {
			return err
		}
		c.memberlistOnly = append(c.memberlistOnly, opt)
		c.pendingKeys = slices.Clone(all)
		c.tuneMemberlist = append(c.tuneMemberlist, func(mc *memberlist.Config) {
			// An empty keyring: encryption is off (memberlist checks
			// for keys on every message) until Encrypt adds the pending
			// keys to it, under its lock. The two verify flags cannot
			// change on a running memberlist (they are read without a
			// lock), so they are set now for the encrypted phase:
			// encrypt what is sent, accept plaintext too.
			kr, err := memberlist.NewKeyring(nil, nil)
			if err != nil {
				panic("gencluster: empty keyring: " + err.Error()) // unreachable
			}
			mc.Keyring = kr
			mc.SecretKey = nil
			mc.GossipVerifyIncoming = false
			mc.GossipVerifyOutgoing = true
		})
		return nil
	}
}

// checkKeys checks that every key can be an AES key and none is given
// twice; the errors name the option and the key's position, never the key.
func checkKeys(opt string, all [][]byte) error {
	var errs []error
	for i, k := range all {
		what := "primary key"
		if i > 0 {
			what = fmt.Sprintf("key %d", i)
		}
		if err := gossip.ValidateKey(k); err != nil {
			errs = append(errs, fmt.Errorf("gencluster: %s: %s: %w", opt, what, err))
			continue
		}
		if j := slices.IndexFunc(all[:i], func(o []byte) bool { return bytes.Equal(o, k) }); j >= 0 {
			errs = append(errs, fmt.Errorf("gencluster: %s: %s is the same as %s", opt, what, keyName(j)))
		}
	}
	return errors.Join(errs...)
}

// setKeyringOpt records which keyring option configures the node: a
// second one would silently override the first.
func (c *config) setKeyringOpt(opt string) error {
	if c.keyringOpt != "" {
		return fmt.Errorf("gencluster: %s: the keys are already set by %s; give one of WithSecretKey, WithKeyring, WithKeyringMigration", opt, c.keyringOpt)
	}
	c.keyringOpt = opt
	return nil
}

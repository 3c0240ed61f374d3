package gencluster

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/gencluster/gencluster/internal/keyproto"
)

// WithSecretKey encrypts and authenticates all gossip, UDP and TCP, with
// AES-GCM under key, which must be 16, 24 or 32 bytes (AES-128, -192,
// -256); every node of the cluster needs the same key. Messages that are
// not encrypted with a key this node has are dropped. It is
// WithKeyring(key).
func WithSecretKey(key []byte) Option {
	return withKeyring("WithSecretKey", key, nil)
}

// WithKeyring is WithSecretKey with more than one key: the node encrypts
// with primary and decrypts with primary or any of others. Use it to start
// a node in the middle of a key rotation (see Node.KeyManager). Every key
// must be 16, 24 or 32 bytes, and no key may be given twice.
func WithKeyring(primary []byte, others ...[]byte) Option {
	return withKeyring("WithKeyring", primary, others)
}

func withKeyring(opt string, primary []byte, others [][]byte) Option {
	return keyOption(opt, primary, others, func(c *config, all [][]byte) { c.keys = all })
}

// WithKeyringMigration starts a node that holds keys but still gossips in
// plaintext, to move a running plaintext cluster to encryption without
// downtime (memberlist issue #59). The node:
//
//   - sends plaintext and accepts plaintext, so it talks with the
//     cluster's plaintext nodes as before;
//   - once Node.KeyManager().Encrypt has run, encrypts everything with primary
//     (AES-GCM, as WithSecretKey) and decrypts with primary or others, and
//     still accepts plaintext from nodes that have not switched yet
//     (memberlist's GossipVerifyIncoming off).
//
// The procedure, on a running cluster (docs/keys.md):
//
//  1. Restart each node in turn with WithKeyringMigration(key): nothing
//     changes on the wire, the members stay.
//  2. Node.KeyManager().Encrypt(ctx) on any one node: it checks that every
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
	return keyOption("WithKeyringMigration", primary, others, func(c *config, all [][]byte) { c.pendingKeys = all })
}

// keyOption is what WithSecretKey, WithKeyring and WithKeyringMigration
// share: it copies the keys now (the caller may reuse its buffers), and
// when applied refuses a second key option and bad keys, marks opt as one
// that needs memberlist, and lets set configure c with the checked keys
// (primary first). Each Start makes a new keyring of them: the key
// operations change a keyring in place, and two nodes must not share one.
func keyOption(opt string, primary []byte, others [][]byte, set func(c *config, all [][]byte)) Option {
	all := make([][]byte, 0, 1+len(others))
	for _, k := range append([][]byte{primary}, others...) {
		all = append(all, bytes.Clone(k))
	}
	return func(c *config) error {
		if err := c.setKeyringOpt(opt); err != nil {
			return err
		}
		if err := checkKeys(opt, all); err != nil {
			return err
		}
		c.memberlistOnly = append(c.memberlistOnly, opt)
		set(c, all)
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
		if err := keyproto.ValidateKey(k); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", opt, what, err))
			continue
		}
		if j := slices.IndexFunc(all[:i], func(o []byte) bool { return bytes.Equal(o, k) }); j >= 0 {
			errs = append(errs, fmt.Errorf("%s: %s is the same as %s", opt, what, keyName(j)))
		}
	}
	return errors.Join(errs...)
}

// setKeyringOpt records which keyring option configures the node: a
// second one would silently override the first.
func (c *config) setKeyringOpt(opt string) error {
	if c.keyringOpt != "" {
		return fmt.Errorf("%s: the keys are already set by %s; give one of WithSecretKey, WithKeyring, WithKeyringMigration", opt, c.keyringOpt)
	}
	c.keyringOpt = opt
	return nil
}

// keyName names the key at position i of a key option, for errors.
func keyName(i int) string {
	if i == 0 {
		return "the primary key"
	}
	return fmt.Sprintf("key %d", i)
}

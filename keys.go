package gencluster

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/gossip"
)

// keyOption is what WithSecretKey, WithKeyring and WithKeyringMigration
// share: it copies the keys now (the caller may reuse its buffers), and
// when applied refuses a second key option and bad keys, marks opt as one
// that needs memberlist, and lets set configure c with the checked keys
// (primary first).
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

// useKeyring gives mc a new keyring holding keys (primary first; none:
// encryption stays off until keys are added) and makes it encrypt what it
// sends; verifyIncoming makes it refuse plaintext. The keyring is new per
// Start: the rotation methods change a keyring in place, and two nodes
// must not share one.
func useKeyring(mc *memberlist.Config, keys [][]byte, verifyIncoming bool) {
	var (
		kr  *memberlist.Keyring
		err error
	)
	if len(keys) == 0 {
		kr, err = memberlist.NewKeyring(nil, nil)
	} else {
		kr, err = memberlist.NewKeyring(slices.Clone(keys[1:]), keys[0])
	}
	if err != nil {
		panic("gencluster: keys were validated: " + err.Error()) // unreachable
	}
	mc.Keyring = kr
	mc.SecretKey = nil
	mc.GossipVerifyIncoming = verifyIncoming
	mc.GossipVerifyOutgoing = true
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

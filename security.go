package gencluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/gossip"
)

// Security options. They configure memberlist (see README.md, Security): they
// do not apply with WithDist. Like WithMemberlistConfig, they are applied in
// order, so a later WithMemberlistConfig may still change what they set.

// MaxLabelSize is the longest label WithLabel accepts, in bytes
// (memberlist.LabelMaxSize).
const MaxLabelSize = memberlist.LabelMaxSize

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
// a node in the middle of a key rotation (see Node.InstallKey). Every key
// must be 16, 24 or 32 bytes, and no key may be given twice.
func WithKeyring(primary []byte, others ...[]byte) Option {
	return withKeyring("WithKeyring", primary, others)
}

func withKeyring(opt string, primary []byte, others [][]byte) Option {
	// Copy now: the caller may reuse its buffers.
	all := make([][]byte, 0, 1+len(others))
	for _, k := range append([][]byte{primary}, others...) {
		all = append(all, bytes.Clone(k))
	}
	return func(c *config) error {
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
		if err := errors.Join(errs...); err != nil {
			return err
		}
		c.tuneMemberlist = append(c.tuneMemberlist, func(mc *memberlist.Config) {
			// A new Keyring per Start: a keyring is changed in place by
			// the rotation methods, and must not be shared by two nodes.
			kr, err := memberlist.NewKeyring(slices.Clone(all[1:]), all[0])
			if err != nil {
				panic("gencluster: keys were validated: " + err.Error()) // unreachable
			}
			mc.Keyring = kr
			mc.SecretKey = nil
			mc.GossipVerifyIncoming = true
			mc.GossipVerifyOutgoing = true
		})
		return nil
	}
}

func keyName(i int) string {
	if i == 0 {
		return "the primary key"
	}
	return fmt.Sprintf("key %d", i)
}

// WithLabel sets the cluster's label: every packet and stream carries it,
// and a node drops those with another label (or none), so clusters with
// different labels never merge, even when a seed points across. With
// WithSecretKey the label is also authenticated data of the encryption.
// It is at most MaxLabelSize (255) bytes; every node of the cluster needs
// the same label. Default: no label.
func WithLabel(label string) Option {
	return func(c *config) error {
		if label == "" {
			return errors.New("gencluster: WithLabel: empty label (omit WithLabel for no label)")
		}
		if len(label) > MaxLabelSize {
			return fmt.Errorf("gencluster: WithLabel: label is %d bytes, over memberlist's limit of %d", len(label), MaxLabelSize)
		}
		c.label = label
		c.tuneMemberlist = append(c.tuneMemberlist, func(mc *memberlist.Config) {
			mc.Label = label
			mc.SkipInboundLabelCheck = false
		})
		return nil
	}
}

// WithAllowedCIDRs restricts membership to nodes whose addresses are in the
// given networks, such as "10.0.0.0/8" or "fd00::/8": memberlist ignores
// alive messages from other source addresses and refuses to add members
// that advertise an address outside them. The node's own advertised
// address must be included (Start fails otherwise). It is a filter, not
// authentication (UDP source addresses can be spoofed, and without a key a
// TCP peer outside the networks can still read the member list): combine
// it with WithSecretKey. Default: any address.
func WithAllowedCIDRs(cidrs ...string) Option {
	return func(c *config) error {
		if len(cidrs) == 0 {
			return errors.New("gencluster: WithAllowedCIDRs: no CIDR given (omit the option to allow any address)")
		}
		var errs []error
		nets := make([]net.IPNet, 0, len(cidrs))
		for _, s := range cidrs {
			_, n, err := net.ParseCIDR(strings.TrimSpace(s))
			if err != nil {
				errs = append(errs, fmt.Errorf("gencluster: WithAllowedCIDRs: %q is not a CIDR such as 10.0.0.0/8", s))
				continue
			}
			nets = append(nets, *n)
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		c.tuneMemberlist = append(c.tuneMemberlist, func(mc *memberlist.Config) {
			mc.CIDRsAllowed = slices.Clone(nets)
		})
		return nil
	}
}

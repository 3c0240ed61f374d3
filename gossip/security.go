package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/keyproto"
)

// Security is what secures the gossip: memberlist's keys, label and
// allowed networks. The zero value is memberlist's default: plaintext, no
// label, any address.
type Security struct {
	// Keys encrypt and authenticate every packet and stream (AES-GCM),
	// the primary (encrypting) key first; each 16, 24 or 32 bytes.
	// Messages not encrypted with one of them are dropped.
	Keys [][]byte
	// Pending are the keys of a migration from plaintext: the node
	// gossips plaintext and holds them, until a cluster-wide
	// keyproto.Encrypt moves them into its (so far empty) keyring; from
	// then on it encrypts, and still accepts plaintext. Not with Keys.
	Pending [][]byte
	// Label is carried by every packet and stream; those with another
	// label, or none, are dropped. At most memberlist.LabelMaxSize bytes.
	Label string
	// AllowedCIDRs, when set, are the only networks members may be in
	// (memberlist's CIDRsAllowed); the node's own address must be in one.
	AllowedCIDRs []net.IPNet
}

// apply sets mc's security from s. The keyring is new on every call: the
// key operations change it in place, and two nodes must not share one.
func (s Security) apply(mc *memberlist.Config) error {
	if len(s.Keys) > 0 && len(s.Pending) > 0 {
		return errors.New("gossip: keys and pending keys are exclusive")
	}
	for i, key := range slices.Concat(s.Keys, s.Pending) {
		if err := keyproto.ValidateKey(key); err != nil {
			return fmt.Errorf("gossip: key %d: %w", i, err)
		}
	}
	if len(s.Label) > memberlist.LabelMaxSize {
		return fmt.Errorf("gossip: label is %d bytes, over memberlist's limit of %d", len(s.Label), memberlist.LabelMaxSize)
	}
	switch {
	case len(s.Keys) > 0:
		kr, err := memberlist.NewKeyring(cloneKeys(s.Keys[1:]), bytes.Clone(s.Keys[0]))
		if err != nil {
			return fmt.Errorf("gossip: keyring: %w", err)
		}
		setKeyring(mc, kr, true)
	case len(s.Pending) > 0:
		// An empty keyring: encryption stays off (memberlist checks for
		// keys on every message) until Encrypt adds the pending keys to
		// it, under its lock. The two verify flags cannot change on a
		// running memberlist (it reads them without a lock), so they are
		// set now for the encrypted phase: encrypt what is sent, accept
		// plaintext too.
		kr, _ := memberlist.NewKeyring(nil, nil)
		setKeyring(mc, kr, false)
	}
	if s.Label != "" {
		mc.Label = s.Label
		mc.SkipInboundLabelCheck = false
	}
	if len(s.AllowedCIDRs) > 0 {
		mc.CIDRsAllowed = slices.Clone(s.AllowedCIDRs)
	}
	return nil
}

// setKeyring makes mc encrypt what it sends with kr's primary key;
// verifyIncoming makes it refuse plaintext.
func setKeyring(mc *memberlist.Config, kr *memberlist.Keyring, verifyIncoming bool) {
	mc.Keyring = kr
	mc.SecretKey = nil
	mc.GossipVerifyIncoming = verifyIncoming
	mc.GossipVerifyOutgoing = true
}

package gossip

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

// TestSecurityApply: each setting lands in memberlist's configuration, and
// a keyring is made per call (the key operations change it in place).
func TestSecurityApply(t *testing.T) {
	_, lan, _ := net.ParseCIDR("10.0.0.0/8")
	s := Security{Keys: [][]byte{k(1), k(2)}, Label: "prod", AllowedCIDRs: []net.IPNet{*lan}}
	mc := memberlist.DefaultLANConfig()
	if err := s.apply(mc); err != nil {
		t.Fatal(err)
	}
	if mc.Keyring == nil || !bytes.Equal(mc.Keyring.GetPrimaryKey(), k(1)) || len(mc.Keyring.GetKeys()) != 2 || !mc.GossipVerifyIncoming || !mc.GossipVerifyOutgoing {
		t.Error("keys: keyring not set, or plaintext still accepted")
	}
	if mc.Label != "prod" || mc.SkipInboundLabelCheck || len(mc.CIDRsAllowed) != 1 || mc.CIDRsAllowed[0].String() != "10.0.0.0/8" {
		t.Errorf("label %q (skip check %v), CIDRs %v", mc.Label, mc.SkipInboundLabelCheck, mc.CIDRsAllowed)
	}
	again := memberlist.DefaultLANConfig()
	if err := s.apply(again); err != nil || again.Keyring == mc.Keyring {
		t.Errorf("two applies share a keyring (err %v)", err)
	}

	mig := memberlist.DefaultLANConfig()
	if err := (Security{Pending: [][]byte{k(3)}}).apply(mig); err != nil {
		t.Fatal(err)
	}
	if mig.Keyring == nil || len(mig.Keyring.GetKeys()) != 0 || mig.GossipVerifyIncoming || !mig.GossipVerifyOutgoing {
		t.Error("pending keys: want an empty keyring, plaintext accepted, encryption once keys are added")
	}

	plain := memberlist.DefaultLANConfig()
	if err := (Security{}).apply(plain); err != nil || plain.Keyring != nil || plain.Label != "" || plain.CIDRsAllowed != nil {
		t.Errorf("the zero Security changed memberlist's defaults (err %v)", err)
	}

	for want, bad := range map[string]Security{
		"exclusive": {Keys: [][]byte{k(1)}, Pending: [][]byte{k(2)}},
		"5 bytes":   {Keys: [][]byte{k(1), k(2)[:5]}},
		"over":      {Label: strings.Repeat("x", memberlist.LabelMaxSize+1)},
	} {
		if err := bad.apply(memberlist.DefaultLANConfig()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want an error with %q", bad, err, want)
		}
	}
}

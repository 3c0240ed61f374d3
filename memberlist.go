package gencluster

import (
	"errors"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/gossip"
)

// The memberlist settings a program can see: WithMemberlistConfig, and the
// limits and defaults the other options follow. This is the root
// package's only file that imports memberlist: every other setting goes
// to package gossip as a plain value.

// MaxLabelSize is the longest label WithLabel accepts, in bytes
// (memberlist.LabelMaxSize).
const MaxLabelSize = memberlist.LabelMaxSize

// MaxMetaSize is the most bytes of encoded metadata memberlist gossips per
// node (memberlist.MetaMaxSize). WithMeta and UpdateMeta refuse metadata
// that encodes larger (a few of these bytes carry the node's boot id).
const MaxMetaSize = memberlist.MetaMaxSize

// DefaultDeadNodeReclaimTime is memberlist's DeadNodeReclaimTime as
// gencluster sets it: how long after a member is declared failed another
// node may take its name from a new address. memberlist's own default (0)
// never allows it, so a pod rescheduled with its old name (a Kubernetes
// StatefulSet) would be refused until every node forgot the dead one; a
// short grace period still stops a live name from being stolen.
// WithMemberlistConfig may change it.
const DefaultDeadNodeReclaimTime = gossip.DefaultDeadNodeReclaimTime

// WithMemberlistConfig lets f adjust memberlist's configuration (timers,
// Label, keys, transport) after gencluster has filled it in from
// memberlist.DefaultLANConfig and the other options, security options
// included, whatever their order. Several are applied in order.
func WithMemberlistConfig(f func(*memberlist.Config)) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("WithMemberlistConfig: nil func")
		}
		c.tuneMemberlist = append(c.tuneMemberlist, f)
		return nil
	}
}

// memberlistTuner is a WithMemberlistConfig function, named so that the
// config does not import memberlist.
type memberlistTuner = func(*memberlist.Config)

// memberlistTune returns the WithMemberlistConfig functions as one, nil
// when there are none.
func (c *config) memberlistTune() memberlistTuner {
	if len(c.tuneMemberlist) == 0 {
		return nil
	}
	fs := c.tuneMemberlist
	return func(mc *memberlist.Config) {
		for _, f := range fs {
			f(mc)
		}
	}
}

// Package membership holds the value types shared by the gencluster Node and
// the Dist implementations it drives (the memberlist adapter in package
// gossip, or your own). The root package re-exports every name here, so most
// programs never import this package directly.
package membership

import (
	"fmt"
	"maps"
)

// State is a member's state as the local node sees it.
type State int

// The member states, in the order a member usually passes through them.
const (
	// StateAlive: the member answers probes and gossips. memberlist
	// does not expose its suspicion of a member (memberlist issue #293),
	// so a suspected member is alive until it is declared failed.
	StateAlive State = iota
	// StateFailed: the cluster declared the member dead without it asking.
	StateFailed
	// StateLeft: the member announced that it was leaving.
	StateLeft
	// StateDraining: the member is live (it is in the members list and
	// answers probes) but about to leave: it called Node.Drain, which
	// is one-way for this life of the member, so it owns no work. It
	// comes after StateLeft so that the values of the older states do
	// not change.
	StateDraining
)

// Live reports whether a member in state s is in the members list:
// alive or draining. A draining member is live but must not be given
// new work; test s == StateAlive for "may own work".
func (s State) Live() bool { return s == StateAlive || s == StateDraining }

// String returns "alive", "failed", "left" or "draining".
func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateDraining:
		return "draining"
	case StateFailed:
		return "failed"
	case StateLeft:
		return "left"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText encodes the state as its String form, so JSON shows "alive"
// rather than 0.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Member is one node of the cluster.
type Member struct {
	// Name is unique in the cluster.
	Name string `json:"name"`
	// Addr is the host:port the member gossips on.
	Addr string `json:"addr"`
	// Meta is the metadata the member published with WithMeta.
	Meta map[string]string `json:"meta,omitempty"`
	// State is the member's state as the local node sees it.
	State State `json:"state"`
	// Boot identifies this life of the member: a new random id at every
	// Start of the node (see BootID). Zero when unknown.
	Boot BootID `json:"boot,omitzero"`
}

// String returns "name@addr(state)".
func (m Member) String() string {
	return fmt.Sprintf("%s@%s(%s)", m.Name, m.Addr, m.State)
}

// Clone returns a copy that shares no map with m.
func (m Member) Clone() Member {
	m.Meta = maps.Clone(m.Meta)
	return m
}

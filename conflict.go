package gencluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/gencluster/gencluster/gossip"
	"github.com/gencluster/gencluster/membership"
)

// ErrNameConflict is returned (wrapped; test with errors.Is) by Start when
// a live member of the cluster already holds this node's name at another
// address: the members refuse the name, so the node would not be a member.
// The error names the holder's address. After Start, NameConflict reports
// the same condition when it is noticed later (see NameConflict).
var ErrNameConflict = gossip.ErrNameConflict

// BootID tells two lives of one member name apart (Member.Boot): every
// Start draws a new one, as an Erlang node's creation. A member that
// restarts under the same name and address is reported as an EventFail of
// its old BootID, then an EventJoin of its new one.
type BootID = membership.BootID

// nameClaimer is a Dist that makes sure this node's name is its own (the
// gossip adapter: memberlist keeps the first holder of a name). ClaimName
// runs once, after the initial join, and fails with ErrNameConflict
// (wrapped) when a live member holds the name; NameConflict then reports
// a conflict noticed later. A Dist without it claims nothing: Start does
// not check the name, and NameConflict is always nil.
type nameClaimer interface {
	ClaimName(ctx context.Context) error
	NameConflict() error
}

// claimName runs after the initial join: it fails Start when a live
// member holds this node's name, and from then on watches for conflicts
// noticed later.
func (n *Node) claimName(ctx context.Context) error {
	c, ok := n.dist.(nameClaimer)
	if !ok {
		return nil
	}
	err := c.ClaimName(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNameConflict):
		n.logger.Error("name conflict at start: a live member holds this node's name; not starting", "err", err)
		return fmt.Errorf("gencluster: %w", err)
	case ctx.Err() != nil:
		return fmt.Errorf("gencluster: initial join: %w", err)
	}
	return fmt.Errorf("gencluster: %w", err)
}

// NameConflict returns nil, or, when this node found after Start that its
// name is held by a live member at another address that started earlier,
// an error satisfying errors.Is(err, ErrNameConflict) that names that
// member's address. The members that know that member refuse this node:
// it logged one ERROR, counted gencluster_name_conflicts_total, and
// /healthz fails with the reason. Nothing is stopped; the condition
// clears when the holder stops answering (it failed or left), after which
// the cluster accepts this node under the name. Always nil with a Dist
// given with WithDist, which does not claim names.
func (n *Node) NameConflict() error {
	c, ok := n.dist.(nameClaimer)
	if !ok {
		return nil
	}
	if err := c.NameConflict(); err != nil {
		return fmt.Errorf("gencluster: %w", err)
	}
	return nil
}

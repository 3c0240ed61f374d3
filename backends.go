package gencluster

import (
	"context"
	"errors"
	"fmt"
)

// This file holds what the Node does with its discovery backends beyond
// asking them (the refresh loop's part): the checks and the start of the
// backends that work in the background. The list is built once, by
// newConfig (discovery.Resolve of WithSeeds' backends, a seeds.Merge
// expanded into its parts); metrics.go and the refresh loop read the same
// list.

// checkRunners refuses the combinations in which a discovery backend with
// background work (a seeds.Runner, such as multicast) cannot work:
//
//   - WithRefreshInterval(0): only the refresh loop asks a backend again
//     after the initial join, so what the backend learns later would never
//     be read;
//   - WithDist without WithAdvertiseAddr: the backend announces this
//     node's address, and with WithDist the Node knows it only from
//     WithAdvertiseAddr.
func checkRunners(c *config) error {
	var errs []error
	for _, b := range c.backends {
		if b.Runner == nil {
			continue
		}
		if c.refreshInterval == 0 {
			errs = append(errs, fmt.Errorf("discovery backend %s works in the background and needs the refresh loop, which WithRefreshInterval(0) disables", b.Name))
		}
		if c.dist != nil && c.advertiseAddr == "" {
			errs = append(errs, fmt.Errorf("discovery backend %s announces this node's address, which with WithDist is WithAdvertiseAddr: give WithAdvertiseAddr", b.Name))
		}
	}
	return errors.Join(errs...)
}

// startRunners starts the backends that work in the background, before the
// initial join so that what they learn can seed it. Their work stops with
// the node. A backend that cannot start fails Start (the combinations that
// cannot work were refused by newConfig, see checkRunners).
func (n *Node) startRunners() error {
	for _, b := range n.cfg.backends {
		if b.Runner == nil {
			continue
		}
		wait, err := b.Runner.Start(n.ctx, n.addr)
		if err != nil {
			return fmt.Errorf("gencluster: discovery backend %s: %w", b.Name, err)
		}
		n.goRun(func(context.Context) { wait() })
	}
	return nil
}

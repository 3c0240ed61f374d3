//go:build system

package system

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// split partitions the cluster into its first and second half, waits until
// each side has declared the other failed, keeps the partition for
// partitionHold (checking that it holds), and restores the network. It
// returns the halves, how long the detection took, and when the network
// began to heal (before the first rule was removed).
func (c *cluster) split() (a, b []string, detect time.Duration, healStart time.Time) {
	c.t.Helper()
	requireNetTools(c.t)
	half := len(c.names) / 2
	a, b = slices.Clone(c.names[:half]), slices.Clone(c.names[half:])
	c.Cut(a, b, true)
	partitioned := true
	defer func() {
		if partitioned { // a Fatal above: restore before the containers go
			c.Cut(a, b, false)
		}
	}()
	detect = c.waitFor(fmt.Sprintf("partition %d|%d: each side drops the other", len(a), len(b)), failTimeout, func() error {
		if err := c.ViewIs(a, a); err != nil {
			return err
		}
		return c.ViewIs(b, b)
	})
	c.HoldViews("the partition holds", partitionHold, dockertest.SplitViews(a, b))
	// Each side's last word about the other side is a failure.
	for _, side := range [][2][]string{{a, b}, {b, a}} {
		for _, o := range side[0] {
			for _, p := range side[1] {
				if ev, err := c.lastEvent(o, p); err != nil || ev != "fail" {
					c.t.Errorf("%s: last event about %s is %q (err %v), want fail", o, p, ev, err)
				}
			}
		}
	}
	healStart = time.Now()
	c.Cut(a, b, false)
	partitioned = false
	c.t.Logf("rules removed in %v", time.Since(healStart).Round(time.Millisecond))
	return a, b, detect, healStart
}

// TestPartitionHeals (scenario 3): the cluster is cut 4 | 4 (every packet
// between the halves dropped with iptables in the containers' network
// namespaces), each side declares the other failed, and once the rules
// are gone the refresh loop (re-resolving the DNS name and joining the
// addresses that are not members) makes the cluster whole again within
// one refresh interval plus a few seconds, with no restart.
// TestPartitionWithoutRefreshStaysSplit shows memberlist alone would not.
func TestPartitionHeals(t *testing.T) {
	requireNetTools(t)
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	_, _, detect, healStart := c.split()
	c.waitWhole("the cluster heals", healTimeout)
	heal := time.Since(healStart)
	if heal > healTimeout {
		t.Errorf("healed after %v, want within %v (refresh interval %v plus a few seconds)", heal, healTimeout, refresh)
	}
	t.Logf("measured: partition=4|4 detect=%s heal=%s (from removing the first rule to all 8 seeing all 8; refresh interval %v, limit %v)", secs(detect), secs(heal), refresh, healTimeout)
}

// TestPartitionWithoutRefreshStaysSplit is the control for
// TestPartitionHeals: the same partition with the refresh loop off
// (GENCLUSTER_REFRESH_INTERVAL=infinity, a join at start only) stays split
// after the network is back, because memberlist has forgotten the dead
// nodes on both sides.
func TestPartitionWithoutRefreshStaysSplit(t *testing.T) {
	requireNetTools(t)
	c := newCluster(t, nodes, "GENCLUSTER_REFRESH_INTERVAL=infinity")
	c.waitWhole("converged", convergeTimeout)
	a, b, detect, _ := c.split()
	c.HoldViews("the cluster stays split without the refresh loop", splitWatch, dockertest.SplitViews(a, b))
	t.Logf("measured: partition=4|4 detect=%s, still split %v after healing the network (no refresh loop)", secs(detect), splitWatch)
}

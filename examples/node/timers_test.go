package main

import (
	"testing"

	"github.com/hashicorp/memberlist"
)

// TestFastTimersKeepLifeguardSuspicion: memberlist expects SuspicionMult-2
// independent confirmations of a suspicion (Lifeguard's dynamic
// suspicion: the timeout starts at SuspicionMaxTimeoutMult times the
// minimum and shrinks as others confirm). With SuspicionMult 2 it expects
// none and every suspicion ends at the minimum, so one member that hears
// nothing (a one-way partition) has healthy members declared dead before
// their refutations have spread; the nemesis (test/nemesis) counted such
// false failures. The short timers must keep at least one confirmation.
func TestFastTimersKeepLifeguardSuspicion(t *testing.T) {
	c := memberlist.DefaultLANConfig()
	fastTimers(c)
	if k := c.SuspicionMult - 2; k < 1 {
		t.Errorf("-fast sets SuspicionMult %d: memberlist then expects %d confirmations and never stretches a suspicion (Lifeguard off)", c.SuspicionMult, k)
	}
	if c.SuspicionMaxTimeoutMult < 2 {
		t.Errorf("-fast sets SuspicionMaxTimeoutMult %d: an unconfirmed suspicion is not stretched", c.SuspicionMaxTimeoutMult)
	}
	if c.ProbeInterval >= memberlist.DefaultLANConfig().ProbeInterval {
		t.Errorf("-fast keeps ProbeInterval %v: not short", c.ProbeInterval)
	}
}

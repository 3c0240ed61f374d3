package vsim

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestCrashPhaseSameForEveryImplementation checks that the crash falls at
// a phase of the probe interval that depends on the seed only, not on
// when the start ended (which differs between implementations), and that
// different seeds give different phases.
func TestCrashPhaseSameForEveryImplementation(t *testing.T) {
	// probeInterval copies memberlist's default, which both
	// implementations run with (profile): the grid must be theirs.
	if d := memberlist.DefaultLANConfig().ProbeInterval; d != probeInterval {
		t.Fatalf("probeInterval is %v, memberlist's DefaultLANConfig probes every %v", probeInterval, d)
	}
	phaseAfter := func(seed uint64, startTook time.Duration) (phase time.Duration) {
		synctest.Test(t, func(t *testing.T) {
			r := &run{o: Options{Seed: seed}, t0: time.Now()}
			time.Sleep(startTook)
			r.sleepToCrashPhase()
			waited := time.Since(r.t0) - startTook
			if waited < 0 || waited >= probeInterval {
				t.Errorf("seed %d, start %v: waited %v, want less than one probe interval (%v)", seed, startTook, waited, probeInterval)
			}
			phase = time.Since(r.t0) % probeInterval
		})
		return phase
	}
	phases := map[time.Duration]bool{}
	for seed := uint64(1); seed <= 5; seed++ {
		want := phaseAfter(seed, 35*time.Millisecond) // gencluster's start
		for _, took := range []time.Duration{0, 999 * time.Millisecond, 47*time.Second + 123*time.Millisecond} {
			if got := phaseAfter(seed, took); got != want {
				t.Errorf("seed %d: crash phase %v after a start of %v, %v after one of 35ms", seed, got, took, want)
			}
		}
		phases[want] = true
	}
	if len(phases) < 4 {
		t.Errorf("5 seeds gave %d distinct crash phases, want the phase drawn from the seed", len(phases))
	}
}

//go:build nemesis

package nemesis

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

const (
	// nemRefresh is the nodes' refresh interval; healBound is the promise
	// checked after every wave: whole again within it.
	nemRefresh = 2 * time.Second
	healBound  = nemRefresh + 3*time.Second
	// healGiveUp ends the run when a wave has not healed by then.
	healGiveUp = 90 * time.Second
	// maxSpan is the longest fault phase of a wave.
	maxSpan = 16 * time.Second
	// protectedNodes are never killed or stopped: their processes live
	// through the run, for the growth checks.
	protectedNodes = 2
	// nemProbe is the -fast timers' probe interval.
	nemProbe = 300 * time.Millisecond
)

// longestSuspicion is how long the nodes' suspicion of a member lasts when
// nobody confirms it: memberlist's SuspicionMaxTimeoutMult (6) times
// SuspicionMult times the probe interval, at 8 members. With
// SuspicionMult 2 no confirmation is awaited, and the suspicion ends at
// its minimum, 2 x 0.3 s.
func longestSuspicion(suspicionMult int) time.Duration {
	longest := time.Duration(suspicionMult) * nemProbe
	if suspicionMult > 2 {
		longest *= 6
	}
	return longest
}

// nemGrace is how long after a fault a node still counts as hit: a
// suspicion begun during the fault ends this late when nobody confirms
// it (longestSuspicion), plus a probe round and 1.5 s of scheduling
// slack.
func nemGrace(suspicionMult int) time.Duration {
	return longestSuspicion(suspicionMult) + nemProbe + 1500*time.Millisecond
}

// movedBound is the bound on a wave in which a node restarted at a new
// address while another was cut off (Wave.MovesBehindCut): the refresh
// loop's bound plus what the cut node needs to declare the old life dead
// on its own, a probe round (one probe per member), its longest suspicion
// and the -fast timers' DeadNodeReclaimTime (1 s).
func movedBound(n, suspicionMult int) time.Duration {
	return healBound + time.Duration(n)*nemProbe + longestSuspicion(suspicionMult) + time.Second
}

// nemesisParams returns the seed (drawn when none is given) and the
// duration, from the flags or NEMESIS_SEED / NEMESIS_DURATION.
func nemesisParams(t *testing.T) (uint64, time.Duration) {
	t.Helper()
	seed, dur := *flagSeed, *flagDuration
	if s := os.Getenv("NEMESIS_SEED"); s != "" && seed == 0 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("NEMESIS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	if s := os.Getenv("NEMESIS_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			t.Fatalf("NEMESIS_DURATION=%q: want a positive duration (%v)", s, err)
		}
		dur = v
	}
	if dur <= 0 {
		t.Fatalf("-nemesis.duration %v: want a positive duration", dur)
	}
	for seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	return seed, dur
}

// TestNemesis runs gencluster's node program (-fast timers with
// -nemesis.suspicion-mult, seeded by the network alias through Docker's
// DNS) under waves of overlapping
// faults drawn from a seed, and checks after every wave that the cluster
// is whole again within healBound, that every node's folded events equal
// its /members, and samples every process's goroutines, heap and
// descriptors; at the end, that no healthy member logged a failure of a
// healthy member and that nothing grew.
func TestNemesis(t *testing.T) {
	seed, dur := nemesisParams(t)
	n := *flagNodes
	if n < 5 || n > 16 {
		t.Fatalf("-nemesis.nodes %d: want 5 to 16", n)
	}
	replay := fmt.Sprintf("go test -tags nemesis -count=1 -v -run 'TestNemesis$' ./test/nemesis/ -nemesis.seed %d -nemesis.duration %v -nemesis.nodes %d -nemesis.suspicion-mult %d", seed, dur, n, *flagSuspicion)
	t.Logf("nemesis seed %d (replay: %s); load average %s", seed, replay, dockertest.LoadAvg())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d; replay with:\n  %s", seed, replay)
		}
	})
	sched, err := NewSchedule(seed, n, protectedNodes, maxSpan)
	if err != nil {
		t.Fatal(err)
	}
	mult := *flagSuspicion
	if mult < 2 {
		t.Fatalf("-nemesis.suspicion-mult %d: want at least 2", mult)
	}
	tl := NewTimeline(nemGrace(mult))
	f := newFleet(t, sysGencluster, "gcnem", n, func(f *fleet) {
		f.fast, f.suspicion, f.refresh, f.dnsSeeds, f.timeline = true, mult, nemRefresh.String(), true, tl
	})
	if took, err := f.waitWhole(60 * time.Second); err != nil {
		t.Fatalf("the cluster did not form: %v", err)
	} else {
		t.Logf("formed in %v", took.Round(time.Millisecond))
	}
	samples := map[string][]sample{}
	if err := f.sampleAll(samples); err != nil {
		t.Fatal(err)
	}
	var heals, moved []time.Duration
	start := time.Now()
	waves := 0
	for time.Since(start) < dur {
		waves++
		w := sched.Next()
		t.Logf("wave %d (at %v, load %s): %v", waves, time.Since(start).Round(time.Second), dockertest.LoadAvg(), w.Faults)
		healed := f.runWave(w, tl)
		took, err := f.waitWhole(healGiveUp)
		if err != nil {
			t.Fatalf("wave %d: not whole %v after the last heal: %v", waves, healGiveUp, err)
		}
		heals = append(heals, took)
		bound := healBound
		if w.MovesBehindCut() {
			// memberlist's bound, not the refresh loop's (MovesBehindCut).
			bound = movedBound(n, mult)
			moved = append(moved, took)
		}
		if took > bound {
			t.Errorf("wave %d %v: whole again only %v after the last heal (%v after it began), want within %v",
				waves, w.Faults, took.Round(time.Millisecond), time.Since(healed).Round(time.Millisecond), bound)
		}
		for _, name := range f.names {
			if err := f.foldMatches(name); err != nil {
				t.Errorf("wave %d: %v", waves, err)
			}
		}
		if err := f.sampleAll(samples); err != nil {
			t.Fatal(err)
		}
	}
	f.report(t, tl, heals, samples, waves, time.Since(start))
	figure("nemesis_waves_moved_behind_cut", len(moved))
	if len(moved) > 0 {
		figure("nemesis_heal_max_moved_behind_cut", slices.Max(moved))
		figure("nemesis_heal_bound_moved_behind_cut", movedBound(n, mult))
	}
}

// runWave applies and heals the wave's faults at their offsets (late
// when the docker commands before them were slow) and returns when the
// last heal began.
func (f *fleet) runWave(w Wave, tl *Timeline) time.Time {
	f.t.Helper()
	type step struct {
		at   time.Duration
		heal bool
		i    int
	}
	var steps []step
	for i, flt := range w.Faults {
		steps = append(steps, step{flt.Start, false, i}, step{flt.End, true, i})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return int(a.at - b.at) })
	begin := time.Now()
	act := make([]*active, len(w.Faults))
	var last time.Time
	for _, s := range steps {
		time.Sleep(time.Until(begin.Add(s.at)))
		f.t.Logf("%s %s %v", time.Now().Format("15:04:05.000"), map[bool]string{false: "apply", true: "heal"}[s.heal], w.Faults[s.i])
		if s.heal {
			last = time.Now()
			f.heal(act[s.i], tl)
			continue
		}
		act[s.i] = f.apply(w.Faults[s.i], tl)
	}
	return last
}

// report prints the figures and fails the test on false failures and on
// growth.
func (f *fleet) report(t *testing.T, tl *Timeline, heals []time.Duration, samples map[string][]sample, waves int, ran time.Duration) {
	t.Helper()
	v := tl.Judge(f.allEvents())
	load := dockertest.LoadAvg()
	figure("nemesis_load_average", load)
	figure("nemesis_duration", ran)
	figure("nemesis_waves", waves)
	for _, k := range Kinds {
		figure("nemesis_faults_"+string(k), tl.Faults()[k])
	}
	figure("nemesis_false_failures", len(v.False))
	figure("nemesis_false_failures_accused_by_faulted", len(v.FalseFromFaulted))
	figure("nemesis_failures_logged_by_starved", len(v.ByStarved))
	figure("nemesis_failures_logged_by_faulted", len(v.ByFaulted))
	figure("nemesis_failures_of_faulted", len(v.OfFaulted))
	figure("nemesis_failures_of_gone_processes", len(v.OfGone))
	figure("nemesis_heal_max", slices.Max(heals))
	figure("nemesis_heal_bound", healBound)
	over := 0
	for _, h := range heals {
		if h > healBound {
			over++
		}
	}
	figure("nemesis_heals_over_bound", over)
	// A false failure that a member hit by a fault set off (it declared
	// the peer dead while cut off, and gossiped it when the cut healed:
	// memberlist applies a dead message of the peer's current
	// incarnation, and the peer refutes it within milliseconds) is printed
	// and counted; one that healthy members set off among themselves
	// fails the test.
	own := slices.DeleteFunc(slices.Clone(v.False), func(e LogEvent) bool { return slices.Contains(v.FalseFromFaulted, e) })
	figure("nemesis_false_failures_among_healthy", len(own))
	if len(v.FalseFromFaulted) > 0 {
		t.Logf("%d false failures set off by a faulted member's accusation (counted, see docs/reliability.md):%s", len(v.FalseFromFaulted), Describe(v.FalseFromFaulted))
	}
	if len(own) > 0 {
		t.Errorf("%d false failures among healthy members (a healthy member logged a failure of a healthy member, and no faulted member had accused it):%s", len(own), Describe(own))
	}
	if len(v.ByStarved) > 0 {
		t.Logf("starved members logged %d failures of healthy ones (counted apart, not an error):%s", len(v.ByStarved), Describe(v.ByStarved))
	}
	var maxG, maxH, maxF float64
	for _, g := range measureGrowth(samples, max(4, waves/2+1)) {
		t.Logf("growth %s over %d samples: goroutines %v -> %v, heap %.1f -> %.1f MiB, fds %v -> %v",
			g.proc, g.samples, g.goroutines[0], g.goroutines[1], g.heapMiB[0], g.heapMiB[1], g.fds[0], g.fds[1])
		maxG, maxH, maxF = max(maxG, g.dGoroutines), max(maxH, g.dHeapMiB), max(maxF, g.dFDs)
		if why := g.excessive(); why != "" {
			t.Errorf("%s grew over the run: %s", g.proc, why)
		}
	}
	figure("nemesis_growth_goroutines_max", maxG)
	figure("nemesis_growth_heap_mib_max", maxH)
	figure("nemesis_growth_fds_max", maxF)
	if t.Failed() {
		if dir, err := f.dumpLogs(); err != nil {
			t.Logf("saving the logs: %v", err)
		} else {
			t.Logf("every container's logs and the timeline are in %s", dir)
		}
	}
}

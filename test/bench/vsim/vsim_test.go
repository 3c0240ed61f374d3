//go:debug randseednop=0

// memberlist draws from the global math/rand; the directive above lets
// the test seed it (Go 1.24 made rand.Seed a no-op by default).

package vsim

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// The flags of TestVirtual; pass them after -args:
//
//	go test -run TestVirtual -v ./vsim -args -n 100,500,1000 -out /tmp/vsim.json
//
// Without flags it runs every phase at N=8 for both implementations, with
// free CPU and with the lzw CPU profile: the smoke run CI does.
var (
	flagN         = flag.String("n", "8", "cluster sizes, comma-separated")
	flagImpl      = flag.String("impl", "gencluster,memberlist", "implementations, comma-separated")
	flagSeeds     = flag.String("seeds", "1", "random seeds (of the network, the baseline's retries and memberlist's math/rand), comma-separated: one run per seed")
	flagLatency   = flag.Duration("latency", 500*time.Microsecond, "one-way packet latency of every link")
	flagJitter    = flag.Duration("jitter", 500*time.Microsecond, "random extra latency per packet, 0 to this")
	flagLoss      = flag.Float64("loss", 0, "packet loss of every link, 0 to 1")
	flagRefresh   = flag.Duration("refresh", 0, "gencluster's refresh interval (0: its default)")
	flagRawSeeds  = flag.String("raw-seeds", "1", "known seed addresses the baseline joins, comma-separated (all: every member's): one baseline run per value")
	flagGSeeds    = flag.String("g-seeds", "registry", "gencluster's discovery, comma-separated: registry (lists members as they come up), K (a static list of the first K addresses) or all (every address): one gencluster run per value")
	flagCPU       = flag.String("cpu", "off,lzw", "virtual CPU profiles, comma-separated: off (all work is free), plain, lzw (memberlist's default compression), defaults (each implementation its own default: gencluster plain, memberlist lzw): one run per profile")
	flagSpread    = flag.Duration("spread", 0, "start the members over this much virtual time instead of all at once")
	flagRefuse    = flag.Bool("refuse-unstarted", false, "refuse dials to members that have not started yet, as loopback does (default: the dial waits for them)")
	flagTimeout   = flag.Duration("timeout", 3*time.Minute, "virtual time limit of each phase")
	flagSteady    = flag.Duration("steady", 10*time.Second, "virtual quiet time between the start and the crash")
	flagRestarts  = flag.Int("restarts", 3, "members replaced by the rolling restart")
	flagPartition = flag.Bool("partition", true, "run the partition and heal")
	flagSeedsMaxN = flag.Int("seeds-max-n", 0, "sizes above this run the first seed only (0: every size runs every seed)")
	flagFullMaxN  = flag.Int("full-max-n", 0, "sizes above this run the start and the crash only (0: every size runs every phase)")
	flagOut       = flag.String("out", "", "JSON file to write the results to (rewritten after every run)")
	flagAppend    = flag.Bool("append", false, "add the results to those already in -out (its command lines are kept, one per line) instead of replacing them")
	flagHeapProf  = flag.String("heap-profile", "", "directory to write heap profiles to after each run's start and quiet time (IMPL-SEEDING-N-start.pprof, -steady.pprof; inuse_space is what the heap per node counts)")
	flagNoFalse   = flag.Bool("assert-no-false", true, "fail a run that saw a false failure by the end of the crash phase (the figures are written either way)")
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestVirtual runs every phase for every size, CPU profile,
// implementation and seeding asked, each in a synctest bubble of its own.
// It asserts what does not depend on timing: the cluster forms, the crash
// is detected, no member is falsely declared failed during the start, the
// quiet time and the crash (-assert-no-false; later phases are reported,
// not asserted: the baseline can declare a member failed during the
// rolling restart and after the heal it does not make), gencluster heals
// the partition (the baseline's non-heal is only logged).
func TestVirtual(t *testing.T) {
	if *flagHeapProf != "" {
		// Fine-grained sampling: the default (one sample per 512 KiB)
		// leaves a few hundred samples for a whole run's heap.
		runtime.MemProfileRate = 4096
	}
	sizes, err := parseInts("-n", *flagN, 4)
	if err != nil {
		t.Fatal(err)
	}
	seeds, err := parseInts("-seeds", *flagSeeds, 0)
	if err != nil {
		t.Fatal(err)
	}
	cpus, cpuCosts, err := cpuFlags()
	if err != nil {
		t.Fatal(err)
	}
	variants, err := variantFlags()
	if err != nil {
		t.Fatal(err)
	}
	rep := Report{When: time.Now().UTC(), Flags: map[string]string{}, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	rep.Command = "go test -count=1 -timeout 0 -run '^TestVirtual$' -v ./vsim -args" + setFlags(flag.CommandLine, rep.Flags)
	if *flagAppend && *flagOut != "" {
		old, err := ReadReport(*flagOut)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err == nil {
			rep.Results, rep.Command = old.Results, old.Command+"\n"+rep.Command
		}
	}
	for _, n := range sizes {
		seeds, full := seeds, true
		if *flagSeedsMaxN > 0 && n > *flagSeedsMaxN {
			seeds = seeds[:1]
		}
		if *flagFullMaxN > 0 && n > *flagFullMaxN {
			full = false
		}
		for _, seed := range seeds {
			for _, cpuName := range cpus {
				for _, v := range variants(n) {
					o := Options{
						Impl: v.impl, N: n, Seed: uint64(seed), RawSeeds: v.raw, GSeeds: v.g,
						CPU: cpuCosts[ProfileOf(cpuName, v.impl)], CPUName: cpuName,
						Link:            Link{Latency: *flagLatency, Jitter: *flagJitter, Loss: *flagLoss},
						RefreshInterval: *flagRefresh,
						Spread:          *flagSpread, RefuseUnstarted: *flagRefuse, Timeout: *flagTimeout, Steady: *flagSteady,
						Restarts: min(*flagRestarts, n/2) * b2i(full), Partition: *flagPartition && full,
					}
					t.Run(fmt.Sprintf("%s/%s/cpu=%s/N=%d/seed=%d", o.Impl, strings.ReplaceAll(o.Seeding(), " ", "-"), cpuName, n, seed), func(t *testing.T) {
						res := simulate(t, o)
						rep.Results = append(rep.Results, res)
						if *flagOut != "" {
							if err := WriteReport(*flagOut, rep); err != nil {
								t.Fatal(err)
							}
						}
					})
				}
			}
		}
	}
}

// simulate runs one Options in a bubble and checks the outcome.
func simulate(t *testing.T, o Options) Result {
	var (
		res Result
		mu  sync.Mutex
	)
	o.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		t.Logf(format, args...)
	}
	//lint:ignore SA1019 memberlist uses the global math/rand; seeding it (see the go:debug line) makes runs repeatable
	rand.Seed(int64(o.Seed))
	if *flagHeapProf != "" {
		o.AfterHeap = func(when string) {
			path := filepath.Join(*flagHeapProf, fmt.Sprintf("%s-%s-%d-%s.pprof", o.Impl, strings.ReplaceAll(o.Seeding(), " ", "-"), o.N, when))
			if err := writeHeapProfile(path); err != nil {
				t.Error(err)
			}
		}
	}
	wall := time.Now()
	synctest.Test(t, func(t *testing.T) {
		r, err := Run(o)
		if err != nil {
			t.Fatal(err)
		}
		res = r
	})
	t.Logf("%s N=%d: virtual %v, wall %v (outside the bubble: %v), %d packets, %d dials, false failures %d %v",
		o.Impl, o.N, res.Virtual.Round(time.Millisecond), res.Wall.Round(time.Millisecond), time.Since(wall).Round(time.Millisecond),
		res.Packets, res.Dials, res.FalseFailures, res.FirstFalse)
	if !res.Start.OK {
		t.Errorf("%s N=%d: the cluster did not form within %v of virtual time", o.Impl, o.N, o.Timeout)
	}
	if res.Start.OK && !res.Crash.OK {
		t.Errorf("%s N=%d: the crash was not detected by every member within %v", o.Impl, o.N, o.Timeout)
	}
	if o.Restarts > 0 && res.Crash.OK && !res.Restart.OK {
		t.Errorf("%s N=%d: the rolling restart did not complete", o.Impl, o.N)
	}
	if o.Partition && res.Split.Ran && !res.Split.OK {
		t.Errorf("%s N=%d: the partition did not split the cluster", o.Impl, o.N)
	}
	if o.Impl == Gencluster && res.Split.OK && !res.Heal.OK {
		t.Errorf("gencluster N=%d: the partition did not heal within %v", o.N, o.Timeout)
	}
	if *flagNoFalse && res.FalseUntilCrash > 0 {
		t.Errorf("%s (%s, CPU %s) N=%d: %d false failures by the end of the crash phase, first %v", o.Impl, o.Seeding(), o.CPUName, o.N, res.FalseUntilCrash, res.FirstFalse)
	}
	return res
}

// setFlags records the flags set on fs (but the test framework's) in m
// and returns them as command-line arguments, each as -name=value: a bool
// flag's value must be joined to it, or the parser takes the value for
// the first positional argument and ignores every flag after it.
func setFlags(fs *flag.FlagSet, m map[string]string) string {
	var b strings.Builder
	fs.Visit(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "test.") {
			m[f.Name] = f.Value.String()
			fmt.Fprintf(&b, " -%s=%s", f.Name, f.Value)
		}
	})
	return b.String()
}

// parseInts parses a comma-separated list of integers of at least least.
func parseInts(name, s string, least int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < least {
			return nil, fmt.Errorf("%s %q: %q is not an integer of at least %d", name, s, f, least)
		}
		out = append(out, n)
	}
	return out, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSeedings runs the seedings TestVirtual does not run by default, at
// N = 8 with the lzw CPU profile, start and crash only: gencluster with a
// static list of 3 addresses and of every address, and the baseline
// joining every address. Each must form, detect the crash and declare no
// member falsely failed.
func TestSeedings(t *testing.T) {
	cpu, err := CPUProfile("lzw")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Impl: Gencluster, GSeeds: 3},
		{Impl: Gencluster, GSeeds: 8},
		{Impl: Raw, RawSeeds: 8},
	} {
		o.N, o.Seed, o.CPU, o.CPUName = 8, 1, cpu, "lzw"
		o.Link = Link{Latency: 500 * time.Microsecond, Jitter: 500 * time.Microsecond}
		o.Timeout, o.Steady = time.Minute, 5*time.Second
		t.Run(o.Seeding(), func(t *testing.T) {
			res := simulate(t, o)
			if res.FalseFailures > 0 {
				t.Errorf("%s: %d false failures: %v", o.Seeding(), res.FalseFailures, res.FirstFalse)
			}
			if res.Seeding != o.Seeding() || res.CPUName != "lzw" || res.CPUStart.Learn == 0 {
				t.Errorf("%s: the result does not record the run's seeding and CPU: %q, %q, %+v", o.Seeding(), res.Seeding, res.CPUName, res.CPUStart)
			}
		})
	}
}

// writeHeapProfile writes a heap profile to path. The GC that heapAlloc
// ran just before makes its inuse figures current.
func writeHeapProfile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

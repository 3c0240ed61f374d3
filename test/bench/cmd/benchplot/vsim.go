package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gencluster/gencluster/test/bench"
	"github.com/gencluster/gencluster/test/bench/vsim"
)

func benchImpl(i vsim.Impl) bench.Impl { return bench.Impl(i) }

// runVSim runs the virtual-time simulator (TestVirtual in ./vsim, since
// testing/synctest only runs in tests) at the sizes asked and returns its
// report. Its progress goes to stderr.
func runVSim(ctx context.Context, c config) (*vsim.Report, error) {
	out := filepath.Join(c.out, "vsim.json")
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	args := []string{"test", "-count=1", "-timeout=0", "-run=^TestVirtual$", "-v", "./vsim", "-args", "-n", joinInts(c.vsimN), "-out", abs}
	args = append(args, strings.Fields(c.vsimArgs)...)
	log.Printf("vsim: go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		// A failed assertion still leaves the figures measured.
		log.Printf("vsim: %v", err)
	}
	rep, err := vsim.ReadReport(abs)
	if err != nil {
		return nil, err
	}
	return &rep, nil
}

// vkey is one simulated configuration: an implementation, how it found
// its peers, and the CPU profile.
type vkey struct {
	impl    vsim.Impl
	seeding string
	cpu     string
}

func (k vkey) String() string { return fmt.Sprintf("%s (%s)", k.impl, k.seeding) }

// keyOf returns a result's configuration; reports written before the
// seedings and the CPU existed ran the registry, one seed, free CPU.
func keyOf(r vsim.Result) vkey {
	k := vkey{impl: r.Impl, seeding: r.Seeding, cpu: r.CPUName}
	if k.seeding == "" {
		k.seeding = map[vsim.Impl]string{vsim.Gencluster: "registry", vsim.Raw: "join 1"}[r.Impl]
	}
	if k.cpu == "" {
		k.cpu = "off"
	}
	return k
}

// vsimKeys lists the configurations of rep with the CPU profile cpu
// (every profile when empty), gencluster's first, in report order.
func vsimKeys(rep *vsim.Report, cpu string) []vkey {
	var ks []vkey
	for _, impl := range vsim.Impls {
		for _, r := range rep.Results {
			if k := keyOf(r); k.impl == impl && (cpu == "" || k.cpu == cpu) && !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	return ks
}

// vsimCPUs lists the CPU profiles of rep, in report order.
func vsimCPUs(rep *vsim.Report) []string {
	var cs []string
	for _, r := range rep.Results {
		if c := keyOf(r).cpu; !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	return cs
}

// firstOf is the first configuration of impl among ks (zero if none).
func firstOf(ks []vkey, impl vsim.Impl) vkey {
	for _, k := range ks {
		if k.impl == impl {
			return k
		}
	}
	return vkey{}
}

// vsimResult returns the runs of configuration k at n (one per seed)
// folded into one: each phase's times are the median over the seeds (OK
// only when every seed's was), counts are summed over the seeds, costs
// are averaged. It also returns how many runs there were.
func vsimResult(rep *vsim.Report, k vkey, n int) (vsim.Result, int) {
	var rs []vsim.Result
	for _, r := range rep.Results {
		if keyOf(r) == k && r.N == n {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return vsim.Result{}, 0
	}
	out := rs[0]
	phase := func(get func(*vsim.Result) *vsim.Phase) {
		var took, med, p90, wall []time.Duration
		ok := true
		for i := range rs {
			p := get(&rs[i])
			ok = ok && p.OK
			took, med, p90, wall = append(took, p.Took), append(med, p.Median), append(p90, p.P90), append(wall, p.Wall)
		}
		p := get(&out)
		p.OK = ok
		p.Took, _ = summarize(took)
		p.Median, _ = summarize(med)
		p.P90, _ = summarize(p90)
		p.Wall, _ = summarize(wall)
	}
	phase(func(r *vsim.Result) *vsim.Phase { return &r.Start })
	phase(func(r *vsim.Result) *vsim.Phase { return &r.Crash })
	phase(func(r *vsim.Result) *vsim.Phase { return &r.Restart })
	phase(func(r *vsim.Result) *vsim.Phase { return &r.Split })
	phase(func(r *vsim.Result) *vsim.Phase { return &r.Heal })
	var wall, virt []time.Duration
	out.FailedJoins, out.Refused, out.FalseFailures, out.FalseUntilCrash, out.HeapPerNode, out.GoroutinesPerNode = 0, 0, 0, 0, 0, 0
	for _, r := range rs {
		out.FailedJoins += r.FailedJoins
		out.Refused += r.Refused
		out.FalseFailures += r.FalseFailures
		out.FalseUntilCrash += r.FalseUntilCrash
		out.HeapPerNode += r.HeapPerNode / float64(len(rs))
		out.GoroutinesPerNode += r.GoroutinesPerNode / float64(len(rs))
		wall, virt = append(wall, r.Wall), append(virt, r.Virtual)
	}
	out.Wall, _ = summarize(wall)
	out.Virtual, _ = summarize(virt)
	return out, len(rs)
}

func vsimSizes(rep *vsim.Report) []int {
	var ns []int
	for _, r := range rep.Results {
		if !slices.Contains(ns, r.N) {
			ns = append(ns, r.N)
		}
	}
	slices.Sort(ns)
	return ns
}

// phaseCell renders a phase's slowest time, or why there is none.
func phaseCell(p vsim.Phase) string {
	switch {
	case !p.Ran:
		return "–"
	case !p.OK:
		return "not within " + fmtD(p.Took)
	}
	return fmtD(p.Took)
}

func phaseRatio(g, m vsim.Phase) string {
	if !g.Ran || !m.Ran || !g.OK || !m.OK || m.Took == 0 {
		return "–"
	}
	if q := g.Took.Seconds() / m.Took.Seconds(); q < 0.1 {
		return fmt.Sprintf("%.3f×", q)
	}
	return ratio(g.Took.Seconds(), m.Took.Seconds())
}

// phaseMedian renders a phase's slowest time with its median in brackets.
func phaseMedian(p vsim.Phase) string {
	if !p.Ran {
		return "–"
	}
	return fmt.Sprintf("%s (%s)", phaseCell(p), fmtD(p.Median))
}

// vsimTables writes the virtual-time section's tables for the runs of one
// CPU profile: the start of every configuration side by side, then the
// other phases of the first gencluster and the first memberlist
// configuration.
func vsimTables(b *strings.Builder, rep *vsim.Report, cpu string) {
	ns := vsimSizes(rep)
	keys := vsimKeys(rep, cpu)
	b.WriteString("Each figure is the median over the runs (seeds) at that N; counts are summed over them.\n\n")
	b.WriteString("**Simultaneous start**: from the instant all N start until every member lists N (slowest member; median member in brackets); failed joins, refused push-pulls and false failures (from the start until the crash was detected: start, quiet time, crash) after the semicolon.\n\n| N | runs |")
	for _, k := range keys {
		fmt.Fprintf(b, " %s |", k)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(keys)) + "\n")
	for _, n := range ns {
		runs, cells := 0, ""
		for _, k := range keys {
			r, c := vsimResult(rep, k, n)
			runs = max(runs, c)
			if c == 0 {
				cells += " – |"
				continue
			}
			cells += fmt.Sprintf(" %s; %d / %d / %d |", phaseMedian(r.Start), r.FailedJoins, r.Refused, r.FalseUntilCrash)
		}
		if runs > 0 {
			fmt.Fprintf(b, "| %d | %d |%s\n", n, runs, cells)
		}
	}
	b.WriteString("\n")
	gk, mk := firstOf(keys, vsim.Gencluster), firstOf(keys, vsim.Raw)
	ran := func(phase func(vsim.Result) vsim.Phase) bool {
		for _, r := range rep.Results {
			if k := keyOf(r); (k == gk || k == mk) && phase(r).Ran {
				return true
			}
		}
		return false
	}
	row := func(title, head string, cells func(g, m vsim.Result) string) {
		fmt.Fprintf(b, "%s\n\n%s\n", title, head)
		for _, n := range ns {
			g, k := vsimResult(rep, gk, n)
			m, km := vsimResult(rep, mk, n)
			if k+km > 0 {
				fmt.Fprintf(b, "| %d | %d | %s |\n", n, max(k, km), cells(g, m))
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "The other phases compare %s with %s.\n\n", gk, mk)
	if !strings.HasPrefix(cpu, "off") {
		row("**Where the CPU went** during the start, summed over the nodes (gencluster / memberlist): packets, push-pull states sent and received, members learned; and the longest any work waited for its node's CPU.",
			"| N | runs | packets | push-pull send | push-pull receive | learn | longest wait |\n|---|---|---|---|---|---|---|",
			func(g, m vsim.Result) string {
				var cells []string
				for _, f := range []func(vsim.CPUStats) time.Duration{
					func(s vsim.CPUStats) time.Duration { return s.Packets },
					func(s vsim.CPUStats) time.Duration { return s.PushSend },
					func(s vsim.CPUStats) time.Duration { return s.PushRecv },
					func(s vsim.CPUStats) time.Duration { return s.Learn },
					func(s vsim.CPUStats) time.Duration { return s.MaxWait },
				} {
					cell := func(r vsim.Result) string {
						if r.N == 0 {
							return "–" // not run
						}
						return fmtD(f(r.CPUStart))
					}
					cells = append(cells, cell(g)+" / "+cell(m))
				}
				return strings.Join(cells, " | ")
			})
	}
	row("**One crash**: from the crash until every survivor reported it failed; false failures over the whole run.",
		"| N | runs | gencluster | memberlist | ratio | false failures (g / m) |\n|---|---|---|---|---|---|",
		func(g, m vsim.Result) string {
			return fmt.Sprintf("%s | %s | %s | %d / %d", phaseCell(g.Crash), phaseCell(m.Crash), phaseRatio(g.Crash, m.Crash), g.FalseFailures, m.FalseFailures)
		})
	if ran(restartOf) {
		row("**Rolling restart**: members replaced one at a time (graceful leave, then a new process with the same name and a new address); per restart, from the new start until every member lists it and it lists every member. Slowest restart (median in brackets), median over the runs; the slowest run's slowest restart is in the last column.",
			"| N | runs | restarts | gencluster | memberlist | slowest run (g / m) |\n|---|---|---|---|---|---|",
			func(g, m vsim.Result) string {
				return fmt.Sprintf("%d | %s | %s | %s / %s", max(g.Restarts, m.Restarts), phaseMedian(g.Restart), phaseMedian(m.Restart),
					slowestRun(rep, gk, g.N, restartOf), slowestRun(rep, mk, g.N, restartOf))
			})
	}
	if ran(func(r vsim.Result) vsim.Phase { return r.Split }) {
		row("**Partition and heal**: the live members cut in two halves; *split* until each half lists only itself, then the cut stays for GossipToTheDeadTime (30 s) more; *heal* from the heal until every member lists all again.",
			"| N | runs | split (g / m) | heal gencluster | heal memberlist |\n|---|---|---|---|---|",
			func(g, m vsim.Result) string {
				return fmt.Sprintf("%s / %s | %s | %s", phaseCell(g.Split), phaseCell(m.Split), phaseCell(g.Heal), phaseCell(m.Heal))
			})
	}
	row("**Cost of the simulation**: heap per node after the start (above the heap before it), goroutines per node, and the wall time of the whole run (every phase) and of the start alone.",
		"| N | runs | heap per node (g / m) | goroutines per node (g / m) | wall, whole run (g / m) | wall, start (g / m) | virtual time simulated (g / m) |\n|---|---|---|---|---|---|---|",
		func(g, m vsim.Result) string {
			cost := func(r vsim.Result) []string {
				if r.N == 0 {
					return []string{"–", "–", "–", "–", "–"}
				}
				return []string{fmt.Sprintf("%.0f KiB", r.HeapPerNode/1024), fmt.Sprintf("%.1f", r.GoroutinesPerNode), fmtD(r.Wall), fmtD(r.Start.Wall), fmtD(r.Virtual)}
			}
			gc, mc := cost(g), cost(m)
			var cells []string
			for i := range gc {
				cells = append(cells, gc[i]+" / "+mc[i])
			}
			return strings.Join(cells, " | ")
		})
}

// vsimGoals states the virtual-time goals for the runs of one CPU
// profile, and whether they were met.
func vsimGoals(b *strings.Builder, rep *vsim.Report, cpu string) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "not met"
	}
	keys := vsimKeys(rep, cpu)
	for _, gk := range keys {
		if gk.impl != vsim.Gencluster {
			continue
		}
		for _, goal := range []struct {
			n     int
			limit time.Duration
		}{{1000, 5 * time.Second}, {5000, 10 * time.Second}} {
			g, k := vsimResult(rep, gk, goal.n)
			if k == 0 {
				fmt.Fprintf(b, "- %s: start within %s at N = %d: not measured in this run.\n", gk, fmtD(goal.limit), goal.n)
				continue
			}
			// The better of the baselines run at this N.
			best, bestK, baselines := vsim.Result{}, vkey{}, 0
			for _, mk := range keys {
				m, c := vsimResult(rep, mk, goal.n)
				if mk.impl == vsim.Raw && c > 0 {
					baselines++
					if m.Start.OK && (!best.Start.OK || m.Start.Took < best.Start.Took) {
						best, bestK = m, mk
					}
				}
			}
			met := g.Start.OK && g.Start.Took <= goal.limit && g.FailedJoins == 0 && g.FalseUntilCrash == 0 && (!best.Start.OK || g.Start.Took <= best.Start.Took)
			than, v := "no baseline formed", verdict(met)
			switch {
			case baselines == 0:
				than, v = "no baseline was run at this N", "not established"
			case best.Start.OK:
				than = fmt.Sprintf("the better baseline, %s: %s", bestK, phaseCell(best.Start))
			}
			fmt.Fprintf(b, "- %s: start within %s at N = %d with 0 failed joins, 0 false failures and never slower than the better baseline: **%s** (%s, %d failed joins, %d false failures; %s).\n",
				gk, fmtD(goal.limit), goal.n, v, phaseCell(g.Start), g.FailedJoins, g.FalseUntilCrash, than)
		}
	}
	gk, mk := firstOf(keys, vsim.Gencluster), firstOf(keys, vsim.Raw)
	crashOK, worstCrash := true, 0.0
	for _, n := range vsimSizes(rep) {
		g, kg := vsimResult(rep, gk, n)
		m, km := vsimResult(rep, mk, n)
		if kg == 0 || km == 0 {
			continue // compared only where both ran
		}
		if g.Crash.OK && m.Crash.OK {
			worstCrash = max(worstCrash, g.Crash.Took.Seconds()/m.Crash.Took.Seconds())
		} else if g.Crash.Ran {
			crashOK = false
		}
	}
	fmt.Fprintf(b, "- Crash detection of %s within 1.05× of %s: **%s** (worst ratio %.2f×).\n\n", gk, mk, verdict(crashOK && worstCrash <= 1.05), worstCrash)
}

func restartOf(r vsim.Result) vsim.Phase { return r.Restart }

// slowestRun is the slowest of k's runs at n of one phase.
func slowestRun(rep *vsim.Report, k vkey, n int, phase func(vsim.Result) vsim.Phase) string {
	var worst vsim.Phase
	for _, r := range rep.Results {
		if keyOf(r) == k && r.N == n {
			if p := phase(r); p.Ran && (!worst.Ran || !p.OK || p.Took > worst.Took) {
				worst = p
			}
		}
	}
	return phaseCell(worst)
}

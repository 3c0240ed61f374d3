package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

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

// vsimResult returns the runs of impl at n (one per seed) folded into
// one: each phase's times are the median over the seeds (OK only when every
// seed's was), counts are summed over the seeds, costs are averaged. It
// also returns how many runs there were.
func vsimResult(rep *vsim.Report, impl vsim.Impl, n int) (vsim.Result, int) {
	var rs []vsim.Result
	for _, r := range rep.Results {
		if r.Impl == impl && r.N == n {
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
	out.FailedJoins, out.Refused, out.FalseFailures, out.HeapPerNode, out.GoroutinesPerNode = 0, 0, 0, 0, 0
	for _, r := range rs {
		out.FailedJoins += r.FailedJoins
		out.Refused += r.Refused
		out.FalseFailures += r.FalseFailures
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

// vsimTables writes the virtual-time section's tables.
func vsimTables(b *strings.Builder, rep *vsim.Report) {
	ns := vsimSizes(rep)
	row := func(title, head string, cells func(g, m vsim.Result) string) {
		fmt.Fprintf(b, "%s\n\n%s\n", title, head)
		for _, n := range ns {
			g, k := vsimResult(rep, vsim.Gencluster, n)
			m, _ := vsimResult(rep, vsim.Raw, n)
			fmt.Fprintf(b, "| %d | %d | %s |\n", n, k, cells(g, m))
		}
		b.WriteString("\n")
	}
	b.WriteString("Each figure is the median over the runs (seeds) at that N; counts are summed over them.\n\n")
	row("**Simultaneous start**: from the instant all N start until every member lists N (slowest member; median member in brackets).",
		"| N | runs | gencluster | memberlist | ratio | failed joins (g / m) | refused push-pulls (g / m) |\n|---|---|---|---|---|---|---|",
		func(g, m vsim.Result) string {
			return fmt.Sprintf("%s | %s | %s | %d / %d | %d / %d", phaseMedian(g.Start), phaseMedian(m.Start),
				phaseRatio(g.Start, m.Start), g.FailedJoins, m.FailedJoins, g.Refused, m.Refused)
		})
	row("**One crash**: from the crash until every survivor reported it failed; false failures over the whole run.",
		"| N | runs | gencluster | memberlist | ratio | false failures (g / m) |\n|---|---|---|---|---|---|",
		func(g, m vsim.Result) string {
			return fmt.Sprintf("%s | %s | %s | %d / %d", phaseCell(g.Crash), phaseCell(m.Crash), phaseRatio(g.Crash, m.Crash), g.FalseFailures, m.FalseFailures)
		})
	row("**Rolling restart**: members replaced one at a time (graceful leave, then a new process with the same name and a new address); per restart, from the new start until every member lists it and it lists every member. Slowest restart (median in brackets), median over the runs; the slowest run's slowest restart is in the last column.",
		"| N | runs | restarts | gencluster | memberlist | slowest run (g / m) |\n|---|---|---|---|---|---|",
		func(g, m vsim.Result) string {
			return fmt.Sprintf("%d | %s | %s | %s / %s", max(g.Restarts, m.Restarts), phaseMedian(g.Restart), phaseMedian(m.Restart),
				slowestRun(rep, vsim.Gencluster, g.N, restartOf), slowestRun(rep, vsim.Raw, g.N, restartOf))
		})
	row("**Partition and heal**: the live members cut in two halves; *split* until each half lists only itself, then the cut stays for GossipToTheDeadTime (30 s) more; *heal* from the heal until every member lists all again.",
		"| N | runs | split (g / m) | heal gencluster | heal memberlist |\n|---|---|---|---|---|",
		func(g, m vsim.Result) string {
			return fmt.Sprintf("%s / %s | %s | %s", phaseCell(g.Split), phaseCell(m.Split), phaseCell(g.Heal), phaseCell(m.Heal))
		})
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

// vsimGoals states the virtual-time goals and whether this run
// met them.
func vsimGoals(b *strings.Builder, rep *vsim.Report) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "not met"
	}
	for _, goal := range []struct {
		n     int
		limit time.Duration
	}{{1000, 5 * time.Second}, {5000, 10 * time.Second}} {
		g, k := vsimResult(rep, vsim.Gencluster, goal.n)
		if k == 0 {
			fmt.Fprintf(b, "- Start within %s at N = %d: not measured in this run.\n", fmtD(goal.limit), goal.n)
			continue
		}
		met := g.Start.OK && g.Start.Took <= goal.limit && g.FailedJoins == 0 && g.FalseFailures == 0
		fmt.Fprintf(b, "- Start within %s at N = %d with 0 failed joins and 0 false failures: **%s** (%s, %d failed joins, %d false failures).\n",
			fmtD(goal.limit), goal.n, verdict(met), phaseCell(g.Start), g.FailedJoins, g.FalseFailures)
	}
	startOK, crashOK := true, true
	worstCrash := 0.0
	for _, n := range vsimSizes(rep) {
		g, kg := vsimResult(rep, vsim.Gencluster, n)
		m, km := vsimResult(rep, vsim.Raw, n)
		if kg == 0 || km == 0 {
			continue // compared only where both ran
		}
		if !g.Start.OK || (m.Start.OK && g.Start.Took > m.Start.Took) {
			startOK = false
		}
		if g.Crash.OK && m.Crash.OK {
			worstCrash = max(worstCrash, g.Crash.Took.Seconds()/m.Crash.Took.Seconds())
		} else if g.Crash.Ran {
			crashOK = false
		}
	}
	fmt.Fprintf(b, "- Start never slower than memberlist at any N: **%s**.\n", verdict(startOK))
	fmt.Fprintf(b, "- Crash detection within 1.1× of memberlist: **%s** (worst ratio %.2f×).\n\n", verdict(crashOK && worstCrash <= 1.1), worstCrash)
}

// vsimPlot plots the start and the crash detection of both
// implementations against N, on a linear or a logarithmic N axis.
func vsimPlot(path string, rep *vsim.Report, logN bool) error {
	if rep == nil || len(rep.Results) == 0 {
		return errNoData
	}
	x := "nodes (N)"
	if logN {
		x = "nodes (N, log scale: SWIM's O(log N) is a straight line)"
	}
	p := newPlot("Virtual time: simultaneous start and crash detection", x, "virtual seconds")
	if logN {
		p.X.Scale = plot.LogScale{}
	}
	maxY, minY := 0.0, math.Inf(1)
	xs := []float64{}
	for _, impl := range vsim.Impls {
		var start, crash plotter.XYs
		for _, n := range vsimSizes(rep) {
			r, k := vsimResult(rep, impl, n)
			if k == 0 {
				continue
			}
			if !slices.Contains(xs, float64(n)) {
				xs = append(xs, float64(n))
			}
			if r.Start.OK {
				start = append(start, plotter.XY{X: float64(n), Y: r.Start.Took.Seconds()})
				maxY, minY = max(maxY, r.Start.Took.Seconds()), min(minY, r.Start.Took.Seconds())
			}
			if r.Crash.OK {
				crash = append(crash, plotter.XY{X: float64(n), Y: r.Crash.Took.Seconds()})
				maxY, minY = max(maxY, r.Crash.Took.Seconds()), min(minY, r.Crash.Took.Seconds())
			}
		}
		c := implColor[benchImpl(impl)]
		if len(start) > 0 {
			if err := addSeries(p, string(impl)+" start", start, c, false, draw.CircleGlyph{}); err != nil {
				return err
			}
		}
		if len(crash) > 0 {
			if err := addSeries(p, string(impl)+" crash detected", crash, c, true, draw.TriangleGlyph{}); err != nil {
				return err
			}
		}
	}
	if maxY == 0 {
		return errNoData
	}
	frame(p, xs, maxY)
	// The times span three orders of magnitude (a 0.1 s start, a
	// 3-minute one): a logarithmic time axis shows them all.
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = minY/2, maxY*4
	p.Y.Label.Text = "virtual seconds (log scale)"
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// vsimSection writes the virtual-time section of the report.
func vsimSection(b *strings.Builder, rep *vsim.Report, img func(kind, alt string)) {
	b.WriteString("## 5. Scale in virtual time\n\n")
	b.WriteString(vsimModel)
	fmt.Fprintf(b, "Measured with (run in `test/bench`; %d CPUs, %s, %s):\n\n```\n%s\n```\n\n", rep.CPUs, rep.Go, rep.When.Format("2006-01-02 15:04 MST"), rep.Command)
	vsimTables(b, rep)
	b.WriteString("Goals of issue 12 in virtual time:\n\n")
	vsimGoals(b, rep)
	img("vsim", "virtual-time start and crash detection against N")
	img("vsim_log", "virtual-time start and crash detection against log N")
}

// vsimModel says what the simulator models and where it differs from a
// real network.
const vsimModel = `Every node of both implementations runs in one process inside a [testing/synctest](https://pkg.go.dev/testing/synctest) bubble (` + "`test/bench/vsim`" + `): the clock advances only when every goroutine is blocked, so memberlist's timers run on virtual time and CPU starvation cannot turn into probe timeouts. The figures are virtual seconds; the wall time it took to simulate them is in the last table.

- **Network** (` + "`vsim.Network`, `vsim.Transport`" + `, a ` + "`memberlist.NodeAwareTransport`" + `): packets are queued at the receiver without bound and never block the sender; each one is delayed by the link's latency plus a random jitter and dropped with the link's loss probability. Streams are ` + "`net.Pipe`" + ` pairs that pay one round trip to connect. A crashed node, or one across a partition, does not answer: packets vanish and dials time out (memberlist's TCPTimeout, 10 s). memberlist's own MockNetwork could not be used: a send to a node that shut down blocks forever.
- **Discovery** (` + "`vsim.Registry`" + `): lists the nodes that are up, like a headless Service; a node is added just before it starts and removed when it stops or crashes.
- **gencluster**: ` + "`gencluster.Start`" + ` with ` + "`WithSeeds(registry)`" + ` and ` + "`WithMemberlistConfig`" + ` setting the Transport, every other setting its default (refresh interval 5 s). **memberlist**: ` + "`memberlist.Create`" + ` and ` + "`Join`" + ` of one known seed address (the first node), retried after 1 s plus up to 1 s of jitter until it succeeds, as memberlist's README and consul's retry_join suggest. Both: memberlist's DefaultLANConfig with DeadNodeReclaimTime 5 s and compression off (compression only costs CPU, which virtual time does not count).
- **Not modelled**: CPU time (all computation is instantaneous in virtual time, so a push-pull of a 5,000-member state costs one round trip whatever its size), bandwidth and packet size limits beyond memberlist's own, reordering other than by jitter, DNS caching and the delay before a Service lists a new pod. The runs are repeatable only statistically, not exactly: goroutines that are ready at the same virtual instant run in the Go scheduler's order, so two runs with the same seed differ (measured at N = 100, seed 1 twice: gencluster's start 4 ms and 105 ms, memberlist's 2.8 s and 3.0 s; detection 10.6 s and 11.5 s, 9.8 s and 10.6 s). Several seeds are run where the wall time allows, and the tables give their median.

`

func restartOf(r vsim.Result) vsim.Phase { return r.Restart }

// slowestRun is the slowest of impl's runs at n of one phase.
func slowestRun(rep *vsim.Report, impl vsim.Impl, n int, phase func(vsim.Result) vsim.Phase) string {
	var worst vsim.Phase
	for _, r := range rep.Results {
		if r.Impl == impl && r.N == n {
			if p := phase(r); p.Ran && (!worst.Ran || !p.OK || p.Took > worst.Took) {
				worst = p
			}
		}
	}
	return phaseCell(worst)
}

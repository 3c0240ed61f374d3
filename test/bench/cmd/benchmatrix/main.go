// Command benchmatrix measures how fast a cluster forms, gencluster and
// hand-wired memberlist side by side, in every cell of a matrix of
// seedings x start patterns x cluster sizes (issue 18), prints a table and
// writes section 7 of docs/benchmarks.md.
//
//	cd test/bench && go run ./cmd/benchmatrix                                  # the whole matrix, 10 runs per cell
//	cd test/bench && go run ./cmd/benchmatrix -n 40 -seeding seed3 -start 0   # one cell
//	... -cpuprofile cpu.out   # where the CPU goes: go tool pprof -tagfocus impl=gencluster cpu.out
//
// Besides the time until the slowest node lists all N, every run records
// the process's CPU time until then (both implementations run in this
// process, one run at a time) and what memberlist sent meanwhile (TCP
// streams and their bytes, gossip bytes: memberlist's own metrics, which
// this command counts through the go-metrics global), so a cell shows
// what a formation costs as well as how long it took.
//
// Each cell is recorded in matrix.json (a later run of a cell replaces the
// earlier one), so the matrix can be measured a few cells at a time; the
// section is rendered from every cell recorded. Run it alone on the
// machine: the load average is recorded beside every cell.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/gencluster/gencluster/test/bench"
)

type config struct {
	ns       []int
	seedings []bench.Seeding
	spreads  []time.Duration
	runs     int
	timeout  time.Duration
	out      string
	doc      string
	dryRun   bool
	cpuProf  string
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("benchmatrix", flag.ContinueOnError)
	n := fs.String("n", "8,40,100,200", "cluster sizes (comma-separated)")
	seeding := fs.String("seeding", "seed1,seed3,dns,all", "seedings (comma-separated): seed1, seed3, dns, all")
	start := fs.String("start", "0,2s,30s", "start patterns (comma-separated durations): 0 is all at once, 2s spreads the starts over 2 s")
	fs.IntVar(&c.runs, "runs", 10, "runs per cell and implementation")
	fs.DurationVar(&c.timeout, "timeout", 90*time.Second, "per run, give up this long after the last node started")
	fs.StringVar(&c.out, "out", "../../docs/benchmarks/matrix.json", "where the cells are recorded (merged with the cells already there)")
	fs.StringVar(&c.doc, "doc", "../../docs/benchmarks.md", "page whose formation-matrix section is rewritten (empty: none)")
	fs.BoolVar(&c.dryRun, "list", false, "list the cells and exit")
	fs.StringVar(&c.cpuProf, "cpuprofile", "", "write a CPU profile of every run to this file (both implementations, labelled: go tool pprof -tagfocus impl=gencluster)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	for _, f := range fields(*n) {
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			errs = append(errs, fmt.Errorf("-n: bad size %q", f))
			continue
		}
		c.ns = append(c.ns, v)
	}
	for _, f := range fields(*seeding) {
		s, err := bench.ParseSeeding(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("-seeding: %w", err))
			continue
		}
		c.seedings = append(c.seedings, s)
	}
	for _, f := range fields(*start) {
		if f == "0" {
			c.spreads = append(c.spreads, 0)
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("-start: bad duration %q", f))
			continue
		}
		c.spreads = append(c.spreads, d)
	}
	if c.runs < 1 {
		errs = append(errs, fmt.Errorf("-runs %d: want at least 1", c.runs))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout %v: want more than 0", c.timeout))
	}
	if len(c.ns) == 0 || len(c.seedings) == 0 || len(c.spreads) == 0 {
		errs = append(errs, errors.New("-n, -seeding and -start must each name at least one value"))
	}
	return c, errors.Join(errs...)
}

func fields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// cells returns the cells in the order they are measured: small and fast
// ones first, so that a run cut short has the most cells.
func (c config) cells() []bench.Cell {
	var out []bench.Cell
	for _, sp := range c.spreads {
		for _, n := range c.ns {
			for _, s := range c.seedings {
				out = append(out, bench.Cell{Seeding: s, Spread: sp, N: n})
			}
		}
	}
	return out
}

func main() {
	log.SetFlags(log.Ltime)
	c, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	cells := c.cells()
	if c.dryRun {
		for _, cell := range cells {
			fmt.Println(cell)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := bench.ReadMatrix(c.out)
	if err != nil {
		log.Fatal(err)
	}
	if c.cpuProf != "" {
		f, err := os.Create(c.cpuProf)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				log.Print(err)
			}
		}()
	}
	bench.CountTraffic()
	command := "go run ./cmd/benchmatrix " + strings.Join(quoted(os.Args[1:]), " ")
	began := time.Now()
	for i, cell := range cells {
		log.Printf("cell %d/%d: %v (loadavg %s)", i+1, len(cells), cell, bench.LoadAvg())
		res, err := bench.RunCell(ctx, cell, bench.CellOptions{Runs: c.runs, Timeout: c.timeout, Progress: progress})
		if err != nil {
			log.Printf("stopped: %v", err)
			break
		}
		rep.Put(bench.MatrixCell{CellResult: res, Command: strings.TrimSpace(command), Machine: machine()})
		printCell(res)
		if err := write(c, rep); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Print(bench.MatrixMarkdown(rep))
	log.Printf("done in %v", time.Since(began).Round(time.Second))
}

func quoted(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return out
}

func progress(r bench.FormationResult) {
	line := fmt.Sprintf("  %-10s run %d: ", r.Impl, r.Run)
	if r.Converged {
		line += fmt.Sprintf("slowest node %v, CPU %v, %d streams (%d KiB), gossip %d KiB", r.Slowest.Round(time.Millisecond), r.CPU.Round(time.Millisecond),
			r.Traffic.Streams, r.Traffic.StreamBytes>>10, r.Traffic.GossipBytes>>10)
		if r.SlowestLearnedLast != "" {
			line += "; " + r.SlowestLearnedLast
		}
	} else {
		line += fmt.Sprintf("not formed in %v: %s", r.Slowest, strings.Join(r.Missing, "; "))
	}
	log.Print(line)
}

func printCell(res bench.CellResult) {
	for _, impl := range bench.Impls {
		s := res.Stats(impl)
		log.Printf("  %v %-10s median %v worst %v, runs over %v: %d/%d, formed %d/%d, CPU until formed (median) %v, streams %d", res.Cell, impl,
			s.Median.Round(time.Millisecond), s.Worst.Round(time.Millisecond), bench.StrandedAfter, s.Over, s.Runs, s.Converged, s.Runs,
			s.MedianCPU.Round(time.Millisecond), s.MedianStreams)
	}
	log.Printf("  cell took %v, loadavg %s -> %s", res.Took.Round(time.Second), res.LoadBefore, res.LoadAfter)
}

func machine() string {
	return fmt.Sprintf("%d CPUs, %s, %s/%s", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func write(c config, rep bench.MatrixReport) error {
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	section := bench.MatrixMarkdown(rep)
	if c.doc == "" {
		return nil
	}
	doc, err := os.ReadFile(c.doc)
	if err != nil {
		return err
	}
	return os.WriteFile(c.doc, []byte(bench.SpliceMatrix(string(doc), section)), 0o644)
}

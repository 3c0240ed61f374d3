// Command benchplot runs gencluster's benchmarks against raw memberlist,
// side by side in one run, and writes the results (JSON, CSV), PNG plots
// and docs/benchmarks.md.
//
//	cd test/bench && go run ./cmd/benchplot            # the full run (about 15 minutes on 2 cores)
//	cd test/bench && go run ./cmd/benchplot -quick     # small N, a minute or two
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/test/bench"
	"github.com/gencluster/gencluster/test/bench/vsim"
)

type config struct {
	startN        []int
	runs          int
	detectN       []int
	load          bool
	partitionN    int
	partitionRuns int
	overheadN     int
	overheadWin   time.Duration
	timeout       time.Duration
	healTimeout   time.Duration
	events        bool
	vsimN         []int
	vsimArgs      string
	vsimFrom      string
	out           string
	doc           string
}

// Results is everything one run measured, as written to results.json.
type Results struct {
	When      time.Time               `json:"when"`
	Machine   Machine                 `json:"machine"`
	Command   string                  `json:"command"`
	Start     []bench.StartResult     `json:"start"`
	Partition []bench.PartitionResult `json:"partition"`
	Overhead  []bench.OverheadResult  `json:"overhead"`
	Events    []EventResult           `json:"events"`
	// VSim is the virtual-time simulation (test/bench/vsim).
	VSim *vsim.Report `json:"vsim,omitempty"`
	// Notes are remarks on the run, added by hand to results.json and
	// rendered in the report.
	Notes  []string          `json:"notes,omitempty"`
	Took   time.Duration     `json:"took_ns"`
	Config map[string]string `json:"config"`
}

// Machine describes where the numbers come from.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPU       string `json:"cpu"`
	GoVersion string `json:"go"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
}

// EventResult is one Go benchmark of the event path.
type EventResult struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
	BytesPerOp  int64   `json:"bytes_per_op"`
	Delivered   float64 `json:"delivered_per_op"`
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			log.Fatalf("bad number %q in %q", f, s)
		}
		out = append(out, v)
	}
	return out
}

func main() {
	log.SetFlags(log.Ltime)
	var c config
	startN := flag.String("n", "50,200", "cluster sizes for the simultaneous start (comma-separated)")
	detectN := flag.String("detect-n", "50,200", "sizes at which a crash is also timed (subset of -n)")
	vsimN := flag.String("vsim-n", "100,500,1000", "sizes for the virtual-time simulation (empty: skip)")
	flag.StringVar(&c.vsimArgs, "vsim-args", "", "more flags for the simulation (see vsim/vsim_test.go), e.g. \"-partition=false -restarts 0\"")
	flag.StringVar(&c.vsimFrom, "vsim-from", "", "take the simulation's figures from this vsim.json (written by go test ./vsim -args -out) instead of running it")
	quick := flag.Bool("quick", false, "small sizes and few runs, to check that everything works")
	from := flag.String("from", "", "do not measure: re-render the plots and the report from this results.json")
	flag.IntVar(&c.runs, "runs", 5, "runs per size and implementation")
	flag.BoolVar(&c.load, "load", true, "run a busy process (one core) during failure detection")
	flag.IntVar(&c.partitionN, "partition-n", 20, "cluster size for the partition heal")
	flag.IntVar(&c.partitionRuns, "partition-runs", 3, "partition runs per implementation")
	flag.IntVar(&c.overheadN, "overhead-n", 50, "cluster size for the steady-state overhead")
	flag.DurationVar(&c.overheadWin, "overhead-window", 5*time.Second, "CPU measuring window")
	flag.DurationVar(&c.timeout, "timeout", 60*time.Second, "give up convergence or detection after this")
	flag.DurationVar(&c.healTimeout, "heal-timeout", 30*time.Second, "give up the heal after this")
	flag.BoolVar(&c.events, "events", true, "run the event-path Go benchmarks")
	flag.StringVar(&c.out, "out", "../../docs/benchmarks", "directory for results.json, results.csv and the PNGs")
	flag.StringVar(&c.doc, "doc", "../../docs/benchmarks.md", "markdown report to write (empty: none)")
	flag.Parse()
	if *quick {
		*startN, *detectN, *vsimN = "4,8", "8", "8,16"
		c.runs, c.partitionN, c.partitionRuns, c.overheadN, c.overheadWin = 2, 4, 1, 4, time.Second
		c.healTimeout = 3 * bench.RefreshInterval
	}
	c.startN, c.detectN, c.vsimN = ints(*startN), ints(*detectN), ints(*vsimN)

	if *from != "" {
		b, err := os.ReadFile(*from)
		if err != nil {
			log.Fatal(err)
		}
		var res Results
		if err := json.Unmarshal(b, &res); err != nil {
			log.Fatal(err)
		}
		c.restore(res.Config)
		if c.vsimFrom != "" {
			rep, err := vsim.ReadReport(c.vsimFrom)
			if err != nil {
				log.Fatal(err)
			}
			res.VSim = &rep
		}
		if err := write(c, &res); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	began := time.Now()
	res := Results{When: began.UTC(), Machine: machine(), Command: command(), Config: flagValues()}
	if err := run(ctx, c, &res); err != nil {
		// Write what was measured: an interrupted run is still worth
		// reading, and the report says which scenarios are missing.
		log.Printf("stopped early: %v", err)
	}
	res.Took = time.Since(began)
	if err := write(c, &res); err != nil {
		log.Fatal(err)
	}
	log.Printf("done in %v", res.Took.Round(time.Second))
}

func run(ctx context.Context, c config, res *Results) error {
	for _, n := range c.startN {
		for run := range c.runs {
			// Alternate which implementation goes first, so that drift in
			// the machine's load does not favour one.
			order := slices.Clone(bench.Impls)
			if run%2 == 1 {
				slices.Reverse(order)
			}
			for _, impl := range order {
				o := bench.StartOptions{Timeout: c.timeout, Detect: slices.Contains(c.detectN, n), Load: c.load, FalseFailWait: 2 * time.Second, Profile: bench.LANProfile}
				r, err := bench.RunStart(ctx, impl, n, run, o)
				if err != nil {
					return fmt.Errorf("start %s n=%d run %d: %w", impl, n, run, err)
				}
				log.Printf("start %-10s n=%-4d run %d: converged %-5v %8v  detect %-5v %8v  false failures %d",
					impl, n, run, r.Converged, r.Took.Round(time.Millisecond), r.Detected, r.Detect.Round(time.Millisecond), r.FalseFailures)
				res.Start = append(res.Start, r)
			}
		}
	}
	if c.partitionN > 1 {
		for run := range c.partitionRuns {
			for _, impl := range bench.Impls {
				r, err := bench.RunPartition(ctx, impl, c.partitionN, run, bench.PartitionOptions{Timeout: c.timeout, HealTimeout: c.healTimeout})
				if err != nil {
					return fmt.Errorf("partition %s run %d: %w", impl, run, err)
				}
				log.Printf("partition %-10s n=%d run %d: split %v in %v, healed %v in %v", impl, r.N, run, r.Split, r.SplitTook.Round(time.Millisecond), r.Healed, r.HealTook.Round(time.Millisecond))
				res.Partition = append(res.Partition, r)
			}
		}
	}
	if c.overheadN > 0 {
		for _, impl := range bench.Impls {
			r, err := bench.RunOverhead(ctx, impl, c.overheadN, c.timeout, c.overheadWin, bench.LANProfile)
			if err != nil {
				return err
			}
			log.Printf("overhead %-10s n=%d: %.1f ms CPU/s, %.0f KiB heap, %.1f goroutines per node", impl, r.N, r.CPU, r.HeapBytes/1024, r.Goroutines)
			res.Overhead = append(res.Overhead, r)
		}
	}
	if c.events {
		for _, b := range []struct {
			name string
			f    func(*testing.B)
		}{{"gencluster adapter + queue", bench.AdapterEvents}, {"memberlist ChannelEventDelegate", bench.ChannelEvents}} {
			br := testing.Benchmark(b.f)
			e := EventResult{Name: b.name, NsPerOp: float64(br.NsPerOp()), AllocsPerOp: br.AllocsPerOp(), BytesPerOp: br.AllocedBytesPerOp(), Delivered: br.Extra["delivered/op"]}
			log.Printf("events %s: %v ns/op, %d allocs/op, %d B/op, %.2f delivered/op", e.Name, e.NsPerOp, e.AllocsPerOp, e.BytesPerOp, e.Delivered)
			res.Events = append(res.Events, e)
		}
	}
	switch {
	case c.vsimFrom != "":
		rep, err := vsim.ReadReport(c.vsimFrom)
		if err != nil {
			return err
		}
		res.VSim = &rep
	case len(c.vsimN) > 0:
		rep, err := runVSim(ctx, c)
		if err != nil {
			return fmt.Errorf("vsim: %w", err)
		}
		res.VSim = rep
	}
	return ctx.Err()
}

// restore takes the settings the report quotes from a recorded run.
func (c *config) restore(m map[string]string) {
	if v, err := time.ParseDuration(m["timeout"]); err == nil {
		c.timeout = v
	}
	if v, err := time.ParseDuration(m["heal-timeout"]); err == nil {
		c.healTimeout = v
	}
	if v, err := time.ParseDuration(m["overhead-window"]); err == nil {
		c.overheadWin = v
	}
	c.load = m["load"] != "false"
	if m["detect-n"] != "" {
		c.detectN = ints(m["detect-n"])
	}
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	return m
}

func command() string {
	args := []string{"go", "run", "./test/bench/cmd/benchplot"}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

func flagValues() map[string]string {
	m := map[string]string{}
	flag.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}

func write(c config, res *Results) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(c.out, "results.csv"), res); err != nil {
		return err
	}
	plots, err := writePlots(c.out, res)
	if err != nil {
		return err
	}
	if c.doc == "" {
		return nil
	}
	return writeDoc(c, res, plots)
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }

func writeCSV(path string, res *Results) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"scenario", "impl", "n", "run", "ok", "ms", "detected", "detect_ms", "false_failures"})
	for _, r := range res.Start {
		_ = w.Write([]string{"start", string(r.Impl), fmt.Sprint(r.N), fmt.Sprint(r.Run), fmt.Sprint(r.Converged), ms(r.Took), fmt.Sprint(r.Detected), ms(r.Detect), fmt.Sprint(r.FalseFailures)})
	}
	for _, r := range res.Partition {
		_ = w.Write([]string{"partition_heal", string(r.Impl), fmt.Sprint(r.N), fmt.Sprint(r.Run), fmt.Sprint(r.Healed), ms(r.HealTook), "", "", ""})
	}
	if res.VSim != nil {
		for _, r := range res.VSim.Results {
			_ = w.Write([]string{"vsim_start", string(r.Impl), fmt.Sprint(r.N), "0", fmt.Sprint(r.Start.OK), ms(r.Start.Took), fmt.Sprint(r.Crash.OK), ms(r.Crash.Took), fmt.Sprint(r.FalseFailures)})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package bench

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Cell is one cell of the formation matrix: a seeding, a start pattern
// and a cluster size.
type Cell struct {
	Seeding Seeding       `json:"seeding"`
	Spread  time.Duration `json:"spread_ns"`
	N       int           `json:"n"`
}

func (c Cell) String() string {
	return fmt.Sprintf("%s start=%s n=%d", c.Seeding, SpreadName(c.Spread), c.N)
}

// SpreadName names a start pattern: "at once" or "over 2s".
func SpreadName(d time.Duration) string {
	if d == 0 {
		return "at once"
	}
	return "over " + d.String()
}

// StrandedAfter is the time past which a node counts as stranded in the
// matrix's "runs over 5 s" column.
const StrandedAfter = 5 * time.Second

// CellResult is every run of both implementations in one cell.
type CellResult struct {
	Cell
	Runs []FormationResult `json:"runs"`
	// LoadBefore and LoadAfter are /proc/loadavg when the cell started
	// and ended: figures taken on a busy machine are not comparable.
	LoadBefore string        `json:"loadavg_before"`
	LoadAfter  string        `json:"loadavg_after"`
	Took       time.Duration `json:"took_ns"`
	When       time.Time     `json:"when"`
	Timeout    time.Duration `json:"timeout_ns"`
}

// CellOptions tune RunCell.
type CellOptions struct {
	Runs    int
	Timeout time.Duration            // per run, after the last start
	Profile func(*memberlist.Config) // nil: LANProfile
	// Progress, when set, is called after every run.
	Progress func(FormationResult)
}

// RunCell runs both implementations o.Runs times each in cell c, run by
// run, alternating which goes first so that drift in the machine's load
// favours neither.
func RunCell(ctx context.Context, c Cell, o CellOptions) (res CellResult, err error) {
	res = CellResult{Cell: c, LoadBefore: LoadAvg(), When: time.Now().UTC(), Timeout: o.Timeout}
	began := time.Now()
	defer func() {
		res.Took = time.Since(began)
		res.LoadAfter = LoadAvg()
	}()
	if o.Runs < 1 {
		return res, fmt.Errorf("cell %v: %d runs: want at least 1", c, o.Runs)
	}
	for run := range o.Runs {
		order := slices.Clone(Impls)
		if run%2 == 1 {
			slices.Reverse(order)
		}
		for _, impl := range order {
			var r FormationResult
			// The label follows every goroutine the run starts
			// (memberlist's too), so a CPU profile tells the two
			// implementations apart: pprof -tagfocus impl=gencluster.
			pprof.Do(ctx, pprof.Labels("impl", string(impl)), func(ctx context.Context) {
				r, err = RunFormation(ctx, impl, run, FormationOptions{Seeding: c.Seeding, N: c.N, Spread: c.Spread, Timeout: o.Timeout, Profile: o.Profile})
			})
			if err != nil {
				return res, fmt.Errorf("cell %v, %s run %d: %w", c, impl, run, err)
			}
			res.Runs = append(res.Runs, r)
			if o.Progress != nil {
				o.Progress(r)
			}
		}
	}
	return res, nil
}

// LoadAvg returns the first three fields of /proc/loadavg, or why not.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// CellStats sums up one implementation's runs in a cell.
type CellStats struct {
	Runs      int
	Converged int
	Median    time.Duration // of the slowest-node times (timeouts count as the timeout)
	Worst     time.Duration
	Over      int // runs with a node over StrandedAfter (or never converged)
	// MedianCPU is the median of the runs' process CPU time (zero for
	// cells recorded before it was measured).
	MedianCPU time.Duration
	// MedianStreams is the median of the runs' Traffic.Streams (zero
	// when traffic was not counted).
	MedianStreams int64
}

// Stats returns impl's figures in the cell.
func (c CellResult) Stats(impl Impl) CellStats {
	var s CellStats
	var ts, cpus []time.Duration
	var streams []int64
	for _, r := range c.Runs {
		if r.Impl != impl {
			continue
		}
		s.Runs++
		if r.Converged {
			s.Converged++
		}
		if r.Over(StrandedAfter) {
			s.Over++
		}
		ts = append(ts, r.Slowest)
		cpus = append(cpus, r.CPU)
		streams = append(streams, r.Traffic.Streams)
	}
	if len(ts) == 0 {
		return s
	}
	s.Median, s.Worst = median(ts), slices.Max(ts)
	s.MedianCPU, s.MedianStreams = median(cpus), median(streams)
	return s
}

// median returns the median of ts (sorting it).
func median[T time.Duration | int64](ts []T) T {
	slices.Sort(ts)
	if len(ts)%2 == 1 {
		return ts[len(ts)/2]
	}
	return (ts[len(ts)/2-1] + ts[len(ts)/2]) / 2
}

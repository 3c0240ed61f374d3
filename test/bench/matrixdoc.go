package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// MatrixReport is what cmd/benchmatrix records in matrix.json: every cell
// measured so far (a later run of a cell replaces the earlier one), and
// the command of each.
type MatrixReport struct {
	Cells []MatrixCell `json:"cells"`
}

// MatrixCell is one measured cell with the command that measured it.
type MatrixCell struct {
	CellResult
	Command string `json:"command"`
	Machine string `json:"machine"`
}

// ReadMatrix reads a matrix.json; a missing file is an empty report.
func ReadMatrix(path string) (MatrixReport, error) {
	var m MatrixReport
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Put adds c, replacing an earlier measurement of the same cell, and keeps
// the cells in report order.
func (m *MatrixReport) Put(c MatrixCell) {
	m.Cells = slices.DeleteFunc(m.Cells, func(x MatrixCell) bool { return x.Cell == c.Cell })
	m.Cells = append(m.Cells, c)
	slices.SortFunc(m.Cells, func(a, b MatrixCell) int {
		return cmp.Or(cmp.Compare(a.Spread, b.Spread),
			cmp.Compare(slices.Index(Seedings, a.Seeding), slices.Index(Seedings, b.Seeding)),
			cmp.Compare(a.N, b.N))
	})
}

// Markers delimit the matrix section in docs/benchmarks.md, so that
// cmd/benchmatrix can replace it without re-running the other benchmarks.
const (
	MatrixBegin = "<!-- formation matrix: written by cmd/benchmatrix -->"
	MatrixEnd   = "<!-- end of formation matrix -->"
)

// SpliceMatrix returns doc with the text between the markers replaced by
// section, or section appended (with its markers) when doc has none.
func SpliceMatrix(doc, section string) string {
	block := MatrixBegin + "\n" + section + MatrixEnd + "\n"
	i, j := strings.Index(doc, MatrixBegin), strings.Index(doc, MatrixEnd)
	if i < 0 || j < i {
		return doc + "\n" + block
	}
	return doc[:i] + block + doc[j+len(MatrixEnd)+1:]
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
}

func fmtRatio(a, b time.Duration) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// MatrixMarkdown renders the matrix section of docs/benchmarks.md (without
// the markers).
func MatrixMarkdown(m MatrixReport) string {
	var b strings.Builder
	b.WriteString("## 7. Formation matrix: every seeding, the slowest node\n\n")
	b.WriteString("Each cell starts N nodes of each implementation on loopback (127.x.y.z, one port each, `bench.LANProfile`), configured with one seeding: **seed1** the first node's address, **seed3** the first three nodes' addresses (static, retry_join style), **dns** a DNS name that lists each node as it comes up (a headless Service), **all** a static list of every node's address known before any starts (a Kubernetes API listing the whole set). The nodes start at once, or one after another at even gaps over 2 s or 30 s, in an order shuffled per run (the same for both implementations). The baseline is memberlist as its README has it: `Join` of the same list, retried every second until one join succeeds. Per run the time is from the **last** node's start (before it no node can list all N) until the **slowest** node lists all N; per cell the median and the worst over the runs, and how many runs had a node over 5 s or never formed. The CPU column is the process's CPU time (user + system, all nodes of a run) from just before the first start until the slowest node listed all N, the median over the runs (both implementations run in one process, one run at a time): what a formation costs, which on a loaded machine turns into time; beside it the TCP streams memberlist opened over the same span (joins and push-pulls, all nodes; from memberlist's own `tcp.connect` metric), also the median. Which implementation goes first alternates from run to run; `/proc/loadavg` is recorded before and after each cell (figures taken with a load above the core count are not comparable).\n\n")
	if len(m.Cells) == 0 {
		b.WriteString("Not measured yet: run `go run ./cmd/benchmatrix` in `test/bench` (see Running the benchmarks).\n\n")
		return b.String()
	}
	var cmds []string
	for _, c := range m.Cells {
		if !slices.Contains(cmds, c.Command) {
			cmds = append(cmds, c.Command)
		}
	}
	b.WriteString("Measured with (in `test/bench`):\n\n```\n" + strings.Join(cmds, "\n") + "\n```\n\n")
	b.WriteString("| seeding | start | N | runs | gencluster median | gencluster worst | runs > 5 s (g) | memberlist median | memberlist worst | runs > 5 s (m) | ratio median | ratio worst | CPU until formed, median (g / m) | streams opened, median (g / m) | loadavg before → after | cell took |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var missed []string
	for _, c := range m.Cells {
		g, r := c.Stats(Gencluster), c.Stats(Raw)
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %d | %s | %s | %d | %s | %s | %s | %s | %s → %s | %s |\n",
			c.Seeding, SpreadName(c.Spread), c.N, g.Runs,
			fmtDur(g.Median), worst(g, c.Timeout), g.Over,
			fmtDur(r.Median), worst(r, c.Timeout), r.Over,
			fmtRatio(g.Median, r.Median), fmtRatio(g.Worst, r.Worst),
			fmtCPU(g.MedianCPU, r.MedianCPU), fmtStreams(g.MedianStreams, r.MedianStreams),
			c.LoadBefore, c.LoadAfter, c.Took.Round(time.Second))
		if g.Median > r.Median || g.Worst > r.Worst || (g.Over > 0 && r.Over == 0) {
			missed = append(missed, c.Cell.String())
		}
	}
	b.WriteString("\nGoal (issue 18): in every cell gencluster's median and worst at most 1.0× memberlist's, and no run with a node over 5 s where memberlist had none: ")
	if len(missed) == 0 {
		b.WriteString("**met** in every cell measured.\n\n")
	} else {
		fmt.Fprintf(&b, "**not met** in %d of %d cells (%s).\n\n", len(missed), len(m.Cells), strings.Join(missed, "; "))
	}
	return b.String()
}

// fmtCPU renders the CPU column: "–" for cells recorded before the CPU
// was measured.
func fmtCPU(g, r time.Duration) string {
	if g <= 0 || r <= 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s", fmtDur(g), fmtDur(r))
}

// fmtStreams renders the streams column: "–" where traffic was not
// counted.
func fmtStreams(g, r int64) string {
	if g <= 0 && r <= 0 {
		return "–"
	}
	return fmt.Sprintf("%d / %d", g, r)
}

func worst(s CellStats, timeout time.Duration) string {
	if s.Converged < s.Runs {
		return fmt.Sprintf("not formed in %s (%d runs)", fmtDur(timeout), s.Runs-s.Converged)
	}
	return fmtDur(s.Worst)
}

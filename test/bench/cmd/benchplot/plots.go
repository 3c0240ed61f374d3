package main

import (
	"fmt"
	"image/color"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gencluster/gencluster/test/bench"
)

// stat is the median and the slowest of some durations.
type stat struct {
	n            int
	median, max  time.Duration
	ok, of       int // how many runs succeeded, of how many
	falseFailure int
}

func summarize(ds []time.Duration) (median, slowest time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return m, s[len(s)-1]
}

// startStats returns, per implementation and N, the convergence (or, with
// detect, the detection) figures. Failed runs count at their timeout.
func startStats(res *Results, impl bench.Impl, detect bool) []stat {
	byN := map[int][]bench.StartResult{}
	var ns []int
	for _, r := range res.Start {
		if r.Impl != impl || (detect && !r.DetectRun) {
			continue
		}
		if _, ok := byN[r.N]; !ok {
			ns = append(ns, r.N)
		}
		byN[r.N] = append(byN[r.N], r)
	}
	slices.Sort(ns)
	var out []stat
	for _, n := range ns {
		st := stat{n: n}
		var ds []time.Duration
		for _, r := range byN[n] {
			st.of++
			if detect {
				ds = append(ds, r.Detect)
				if r.Detected {
					st.ok++
				}
				st.falseFailure += r.FalseFailures
			} else {
				ds = append(ds, r.Took)
				if r.Converged {
					st.ok++
				}
			}
		}
		st.median, st.max = summarize(ds)
		out = append(out, st)
	}
	return out
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

var implColor = map[bench.Impl]color.Color{
	bench.Gencluster: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	bench.Raw:        color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

// addSeries draws a line with points.
func addSeries(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed bool, shape draw.GlyphDrawer) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, s.Color = c, c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	s.Shape = shape
	s.Radius = vg.Points(3)
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

// medianMaxPlot plots, per implementation, the median and the slowest run
// against N.
func medianMaxPlot(path, title string, res *Results, detect bool) error {
	p := newPlot(title, "nodes (N)", "seconds")
	any := false
	var xs []float64
	maxY := 0.0
	for _, impl := range bench.Impls {
		sts := startStats(res, impl, detect)
		if len(sts) == 0 {
			continue
		}
		any = true
		var med, slow plotter.XYs
		for _, st := range sts {
			if !slices.Contains(xs, float64(st.n)) {
				xs = append(xs, float64(st.n))
			}
			maxY = max(maxY, seconds(st.max))
			med = append(med, plotter.XY{X: float64(st.n), Y: seconds(st.median)})
			slow = append(slow, plotter.XY{X: float64(st.n), Y: seconds(st.max)})
		}
		if err := addSeries(p, string(impl)+" median", med, implColor[impl], false, draw.CircleGlyph{}); err != nil {
			return err
		}
		if err := addSeries(p, string(impl)+" slowest", slow, implColor[impl], true, draw.TriangleGlyph{}); err != nil {
			return err
		}
	}
	if !any {
		return errNoData
	}
	frame(p, xs, maxY)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

var errNoData = fmt.Errorf("no data")

// frame puts a tick at every N measured and leaves room above the data
// for the legend.
func frame(p *plot.Plot, xs []float64, maxY float64) {
	var ticks []plot.Tick
	for _, x := range xs {
		ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprint(x)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = 0, maxY*1.45
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(-4)
}

// cdfPlot plots the fraction of nodes that listed every member against
// time since the start, pooled over the runs at the largest N.
func cdfPlot(path string, res *Results) (int, error) {
	maxN := 0
	for _, r := range res.Start {
		maxN = max(maxN, r.N)
	}
	if maxN == 0 {
		return 0, errNoData
	}
	p := newPlot(fmt.Sprintf("Nodes converged over time, N=%d (all runs pooled)", maxN), "seconds since the start", "fraction of nodes listing all N members")
	for _, impl := range bench.Impls {
		var ts []time.Duration
		total := 0
		for _, r := range res.Start {
			if r.Impl == impl && r.N == maxN {
				ts = append(ts, r.NodeTimes...)
				total += r.N
			}
		}
		if total == 0 {
			continue
		}
		slices.Sort(ts)
		xys := plotter.XYs{{X: 0, Y: 0}}
		for i, t := range ts {
			xys = append(xys, plotter.XY{X: seconds(t), Y: float64(i+1) / float64(total)})
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return 0, err
		}
		l.StepStyle = plotter.PostStep
		l.Color = implColor[impl]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(string(impl), l)
	}
	p.Legend.Left = false
	p.Legend.Top = false
	p.Y.Min, p.Y.Max = 0, 1.02
	return maxN, p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// writePlots writes the PNGs it has data for and returns their file names
// by kind.
func writePlots(dir string, res *Results) (map[string]string, error) {
	out := map[string]string{}
	try := func(kind, name string, f func(string) error) error {
		err := f(filepath.Join(dir, name))
		if err == errNoData {
			return nil
		}
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		out[kind] = name
		return nil
	}
	if err := try("convergence", "convergence.png", func(p string) error {
		return medianMaxPlot(p, "Simultaneous start: time until every node lists N members", res, false)
	}); err != nil {
		return nil, err
	}
	if err := try("detection", "detection.png", func(p string) error {
		return medianMaxPlot(p, "Failure detection: crash until every survivor reports it failed", res, true)
	}); err != nil {
		return nil, err
	}
	if err := try("cdf", "cdf.png", func(p string) error { _, err := cdfPlot(p, res); return err }); err != nil {
		return nil, err
	}
	if err := try("vsim", "vsim.png", func(p string) error { return vsimPlot(p, res.VSim, false) }); err != nil {
		return nil, err
	}
	if err := try("vsim_log", "vsim_log.png", func(p string) error { return vsimPlot(p, res.VSim, true) }); err != nil {
		return nil, err
	}
	return out, nil
}

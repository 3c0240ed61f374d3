//go:build nemesis

package nemesis

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is one reading of a process's resources, taken when the cluster
// was whole.
type sample struct {
	goroutines, heapInuse, fds float64
}

// procKey names one process: a node's name and which start it is.
func procKey(name string, incarnation int) string { return fmt.Sprintf("%s#%d", name, incarnation) }

// gauge returns the value of an unlabelled metric in a Prometheus text
// exposition.
func gauge(r io.Reader, metric string) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, metric+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /metrics", metric)
}

// sampleAll reads every node's goroutines and heap from /metrics and its
// open descriptors from /proc/<pid>/fd on the host, keyed by procKey.
func (f *fleet) sampleAll(into map[string][]sample) error {
	for _, n := range f.names {
		var s sample
		for _, m := range []struct {
			name string
			v    *float64
		}{{"go_goroutines", &s.goroutines}, {"go_memstats_heap_inuse_bytes", &s.heapInuse}} {
			resp, err := f.Client().Get(f.URL(n, "/metrics"))
			if err != nil {
				return err
			}
			*m.v, err = gauge(resp.Body, m.name)
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("%s: %v", n, err)
			}
		}
		fds, err := f.OpenFDs(n)
		if err != nil {
			return fmt.Errorf("%s: %v", n, err)
		}
		s.fds = float64(fds)
		k := procKey(n, f.incarnation[n])
		into[k] = append(into[k], s)
	}
	return nil
}

// growth compares the least of a process's first three samples with the
// least of its last three (the least, so that a burst in flight at one
// sample does not count). It reports processes with fewer than minSamples.
type growth struct {
	proc                        string
	samples                     int
	goroutines, heapMiB, fds    [2]float64 // first, last
	dGoroutines, dHeapMiB, dFDs float64
}

func measureGrowth(samples map[string][]sample, minSamples int) []growth {
	var out []growth
	for k, ss := range samples {
		if len(ss) < minSamples {
			continue
		}
		least := func(ss []sample, f func(sample) float64) float64 {
			v := f(ss[0])
			for _, s := range ss[1:] {
				v = min(v, f(s))
			}
			return v
		}
		first, last := ss[:3], ss[len(ss)-3:]
		g := growth{proc: k, samples: len(ss)}
		gr := func(s sample) float64 { return s.goroutines }
		hp := func(s sample) float64 { return s.heapInuse / (1 << 20) }
		fd := func(s sample) float64 { return s.fds }
		g.goroutines = [2]float64{least(first, gr), least(last, gr)}
		g.heapMiB = [2]float64{least(first, hp), least(last, hp)}
		g.fds = [2]float64{least(first, fd), least(last, fd)}
		g.dGoroutines = g.goroutines[1] - g.goroutines[0]
		g.dHeapMiB = g.heapMiB[1] - g.heapMiB[0]
		g.dFDs = g.fds[1] - g.fds[0]
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b growth) int { return strings.Compare(a.proc, b.proc) })
	return out
}

// Growth limits over a run: more is a leak. Goroutines and descriptors
// come and go with joins in flight (the least of three samples smooths
// that); the heap gets half its size again plus 2 MiB of slack.
const (
	maxGoroutineGrowth = 10
	maxFDGrowth        = 5
)

func (g growth) excessive() string {
	switch {
	case g.dGoroutines > maxGoroutineGrowth:
		return fmt.Sprintf("goroutines %v -> %v", g.goroutines[0], g.goroutines[1])
	case g.dFDs > maxFDGrowth:
		return fmt.Sprintf("open fds %v -> %v", g.fds[0], g.fds[1])
	case g.heapMiB[1] > 1.5*g.heapMiB[0]+2:
		return fmt.Sprintf("heap in use %.1f -> %.1f MiB", g.heapMiB[0], g.heapMiB[1])
	}
	return ""
}

// foldMatches checks that name's events, folded, name the members its
// /members lists. An event can be in flight between the two reads (the
// log is written after the view changed), so a difference is re-read a
// few times before it counts.
func (f *fleet) foldMatches(name string) error {
	var err error
	for try := 0; try < 5; try++ {
		if try > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		var v map[string]string
		if v, err = f.view(name); err != nil {
			continue
		}
		var evs []LogEvent
		if evs, err = f.events(name); err != nil {
			continue
		}
		var listed []string
		for m := range v {
			listed = append(listed, m)
		}
		slices.Sort(listed)
		if folded := Fold(evs); !slices.Equal(folded, listed) {
			err = fmt.Errorf("%s: events folded give %v, /members lists %v", name, folded, listed)
			continue
		}
		return nil
	}
	return err
}

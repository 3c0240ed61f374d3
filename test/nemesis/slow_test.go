//go:build nemesis

package nemesis

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// slowGrace is how long after its starvation ends a member still counts
// as hit: memberlist's LAN timers suspect for up to 6 x 4 x 1s (the
// SuspicionMaxTimeoutMult, SuspicionMult and ProbeInterval of
// DefaultLANConfig, which serf's lan profile also uses), plus a probe.
const slowGrace = 30 * time.Second

// systems are the three programs run side by side.
var systems = []string{sysGencluster, sysMemberlist, sysSerf}

// slowRow is one system's figures in one run.
type slowRow struct {
	system                   string
	falseFailures, byStarved int
	flaps                    int
	flapsPerObserver         float64
	wholeAfter               time.Duration
}

// TestSlowMembers is Lifeguard's experiment: N members of each system
// (gencluster's node program with its default refresh interval, mlnode,
// serf's agent), all with memberlist's LAN timers and static seeds (every
// other member), each in a FROM scratch container of its own; then k of
// them per system, the same indexes, get 0.05 of a CPU (docker update
// --cpus) for -slow.duration, at the same time for all three systems, so
// that they share the machine's load. From the members' event logs it
// counts failures of healthy members logged by healthy members (false
// failures), failures of the starved members logged by healthy ones
// (flaps), and what the starved members logged about the healthy ones.
func TestSlowMembers(t *testing.T) {
	n := *flagSlowN
	var ks []int
	for _, s := range strings.Split(*flagSlowK, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 || 2*k >= n {
			t.Fatalf("-slow.k %q: %q is not a number of starved members below half of -slow.n %d", *flagSlowK, s, n)
		}
		ks = append(ks, k)
	}
	if n < 4 || n > 16 {
		t.Fatalf("-slow.n %d: want 4 to 16", n)
	}
	if c, err := strconv.ParseFloat(*flagSlowCPUs, 64); err != nil || c < 0.01 || c >= 1 {
		t.Fatalf("-slow.cpus %q: want a share of one CPU, 0.01 to below 1", *flagSlowCPUs)
	}
	if *flagSlowDur <= 0 {
		t.Fatalf("-slow.duration %v: want a positive duration", *flagSlowDur)
	}
	for _, k := range ks {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) { slowRun(t, n, k, *flagSlowDur) })
	}
}

func slowRun(t *testing.T, n, k int, dur time.Duration) {
	fleets := map[string]*fleet{}
	tls := map[string]*Timeline{}
	for _, sys := range systems {
		tls[sys] = NewTimeline(slowGrace)
		fleets[sys] = newFleet(t, sys, "gcslow"+sys[:2], n, func(f *fleet) { f.timeline, f.refresh = tls[sys], *flagSlowRefresh })
	}
	for _, sys := range systems {
		took, err := fleets[sys].waitWhole(90 * time.Second)
		if err != nil {
			t.Fatalf("%s did not form: %v", sys, err)
		}
		t.Logf("%s formed %v after the last start", sys, took.Round(time.Millisecond))
	}
	// The last k members of each system are starved; the same indexes
	// everywhere.
	loadBefore := dockertest.LoadAvg()
	// The starved members' own processes' CPU time, read before and
	// after: what each system's member needed (or got) while it shared
	// its limit with the hog.
	cpuBefore := map[string]time.Duration{}
	for _, sys := range systems {
		for _, name := range fleets[sys].names[n-k:] {
			cpuBefore[name] = fleets[sys].mainCPU(t, name)
		}
	}
	var hogs []func()
	for _, sys := range systems {
		f := fleets[sys]
		for _, name := range f.names[n-k:] {
			dockertest.Must(t, "update", "--cpus", *flagSlowCPUs, name)
			if *flagSlowHog {
				hogs = append(hogs, startHog(t, name))
			}
			tls[sys].Begin(name, Starve, time.Now())
		}
	}
	t.Logf("starved %d of %d members of each system for %v (load %s)", k, n, dur, loadBefore)
	time.Sleep(dur)
	loadDuring := dockertest.LoadAvg()
	for _, stop := range hogs {
		stop()
	}
	for _, sys := range systems {
		f := fleets[sys]
		for _, name := range f.names[n-k:] {
			figure(fmt.Sprintf("slow_n%d_k%d_hog_%v_%s_%s_process_cpu_ms", n, k, *flagSlowHog, sys, name[len(f.Name)+1:]), (f.mainCPU(t, name) - cpuBefore[name]).Milliseconds())
			if periods, throttled, err := throttling(name); err != nil {
				t.Logf("%s: CPU throttling unknown: %v", name, err)
			} else {
				figure(fmt.Sprintf("slow_n%d_k%d_hog_%v_%s_%s_throttled_periods_pct", n, k, *flagSlowHog, sys, name[len(f.Name)+1:]), 100*throttled/max(periods, 1))
			}
			f.unstarve(name)
			tls[sys].End(name, Starve, time.Now())
		}
	}
	var rows []slowRow
	for _, sys := range systems {
		f := fleets[sys]
		took, err := f.waitWhole(120 * time.Second)
		if err != nil {
			t.Errorf("%s: not whole 120s after the starvation ended: %v", sys, err)
		}
		v := tls[sys].Judge(f.allEvents())
		healthy := n - k
		rows = append(rows, slowRow{
			system: sys, falseFailures: len(v.False), byStarved: len(v.ByStarved),
			flaps: v.Flaps(), flapsPerObserver: float64(v.Flaps()) / float64(healthy), wholeAfter: took,
		})
		if len(v.False) > 0 {
			t.Logf("%s: false failures:%s", sys, Describe(v.False))
		}
	}
	pre := fmt.Sprintf("slow_n%d_k%d_", n, k)
	if *flagSlowHog {
		pre += "hog_"
	}
	figure(pre+"duration", dur)
	figure(pre+"cpus", *flagSlowCPUs)
	figure(pre+"hog", *flagSlowHog)
	figure(pre+"gencluster_refresh", cmp.Or(*flagSlowRefresh, "5s (default)"))
	figure(pre+"load_average_before", loadBefore)
	figure(pre+"load_average_end", loadDuring)
	for _, r := range rows {
		figure(pre+r.system+"_false_failures", r.falseFailures)
		figure(pre+r.system+"_flaps", r.flaps)
		figure(pre+r.system+"_flaps_per_healthy_observer", r.flapsPerObserver)
		figure(pre+r.system+"_failures_logged_by_starved", r.byStarved)
		figure(pre+r.system+"_whole_after_unstarve", r.wholeAfter)
	}
	// gencluster is memberlist plus a refresh loop: it must not turn a
	// slow member into false failures of healthy ones, nor flap it more
	// than the systems without that loop (a margin of 2 for noise).
	defer func() {
		if !t.Failed() {
			return
		}
		for _, sys := range systems {
			if dir, err := fleets[sys].dumpLogs(); err == nil {
				t.Logf("%s: every container's logs and the timeline are in %s", sys, dir)
			}
		}
	}()
	gc, others := rows[0], rows[1:]
	for _, o := range others {
		if gc.falseFailures > o.falseFailures {
			t.Errorf("gencluster: %d false failures of healthy members, %s %d", gc.falseFailures, o.system, o.falseFailures)
		}
		if gc.flaps > 2*o.flaps+2 {
			t.Errorf("gencluster: starved members flapped %d times (seen by healthy members), %s %d", gc.flaps, o.system, o.flaps)
		}
	}
}

// cgroupDir returns the directory of container name's CPU cgroup (cgroup
// v1 or v2, Docker's cgroupfs or systemd driver).
func cgroupDir(name string) (string, error) {
	id, err := dockertest.Docker(context.Background(), "inspect", "-f", "{{.Id}}", name)
	if err != nil {
		return "", err
	}
	for _, d := range []string{
		"/sys/fs/cgroup/cpu/docker/" + id,
		"/sys/fs/cgroup/cpu,cpuacct/docker/" + id,
		"/sys/fs/cgroup/system.slice/docker-" + id + ".scope",
		"/sys/fs/cgroup/docker/" + id,
	} {
		if _, err := os.Stat(filepath.Join(d, "cpu.stat")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no CPU cgroup found for container %s", id)
}

// throttling returns how many CFS periods container name has run and in
// how many it was throttled (its cgroup's cpu.stat), to show that the
// starvation bit.
func throttling(name string) (periods, throttled float64, err error) {
	dir, err := cgroupDir(name)
	if err != nil {
		return 0, 0, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		x, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "nr_periods":
			periods = x
		case "nr_throttled":
			throttled = x
		}
	}
	return periods, throttled, nil
}

// startHog runs a CPU-bound process (yes > /dev/null) in container
// name's CPU cgroup, as a busy service beside the member would be: an
// idle member needs less than its 0.05 CPU, so without a competitor the
// limit is hardly ever reached. The hog is killed when the test ends, or
// by the returned stop.
func startHog(t *testing.T, name string) (stop func()) {
	t.Helper()
	dir, err := cgroupDir(name)
	if err != nil {
		t.Fatal(err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	hog := exec.Command("yes")
	hog.Stdout = null // a file: no copying goroutine in the test process
	if err := hog.Start(); err != nil {
		t.Fatalf("starting the CPU hog for %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = hog.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = hog.Process.Kill()
			<-done
		})
	}
	t.Cleanup(stop)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(hog.Process.Pid)), 0o644); err != nil {
		stop()
		t.Fatalf("moving the CPU hog into %s's cgroup %s: %v", name, dir, err)
	}
	return stop
}

// mainCPU returns the CPU time (user + system) container name's main
// process has used, from the host's /proc.
func (f *fleet) mainCPU(t *testing.T, name string) time.Duration {
	t.Helper()
	d, err := f.CPU(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

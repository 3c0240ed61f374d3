//go:build realpeers

package realpeers

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

const (
	// serfSizes are the cluster sizes of the side-by-side comparison.
	serfSizes = "8,16"
	// serfRounds is how many times each system is measured; the rounds
	// alternate which system goes first.
	serfRounds = 2
	// serfGossipPort and serfRPCPort are serf's ports (gencluster keeps
	// 7946), so neither system can answer for the other.
	serfGossipPort = 7947
	serfRPCPort    = 7373
	// sideTimeout bounds a convergence or a detection.
	sideTimeout = 60 * time.Second
	// sidePoll is the pause between two polls of every member's view.
	sidePoll = 50 * time.Millisecond
	// idleHold is the window, once converged, over which every agent's CPU
	// time is measured while the cluster must stay whole.
	idleHold = 5 * time.Second
)

// sideCluster is one system's agents in the lab: gencluster's node
// program or Debian's serf agent, one per host.
type sideCluster struct {
	system string
	hosts  []*labHost
	procs  []*proc
	// view returns the names of the members host i sees alive.
	view func(i int) ([]string, error)
	// pollTime and polls add up the allSee rounds, whose length bounds how
	// late a poll can see a change.
	pollTime time.Duration
	polls    int
}

// startGencluster starts the node program on every host, memberlist's LAN
// timers (no -fast, as serf's lan profile), each seeded with every other
// host's address.
func startGencluster(t *testing.T, hosts []*labHost) *sideCluster {
	c := &sideCluster{system: "gencluster", hosts: hosts}
	var nodes []*labNode
	for i, h := range hosts {
		n := startNode(t, h, nodeConf{seeds: staticSeeds(slices.Delete(slices.Clone(hosts), i, i+1))})
		nodes = append(nodes, n)
		c.procs = append(c.procs, n.proc)
	}
	c.view = func(i int) ([]string, error) { return nodes[i].memberNames() }
	return c
}

// startSerf starts a serf agent on every host, lan profile (its default),
// retrying the join of every other host's address every second.
func startSerf(t *testing.T, hosts []*labHost) *sideCluster {
	c := &sideCluster{system: "serf", hosts: hosts}
	for i, h := range hosts {
		args := []string{"serf", "agent", "-node=" + h.name,
			fmt.Sprintf("-bind=%s:%d", h.ip4, serfGossipPort),
			fmt.Sprintf("-rpc-addr=%s:%d", h.ip4, serfRPCPort),
			"-retry-interval=1s", "-log-level=warn"}
		for j, o := range hosts {
			if j != i {
				args = append(args, fmt.Sprintf("-retry-join=%s:%d", o.ip4, serfGossipPort))
			}
		}
		c.procs = append(c.procs, h.start("serf "+h.name, nil, args...))
	}
	c.view = func(i int) ([]string, error) { return serfMembers(hosts[i]) }
	return c
}

// serfMembers asks the agent on h (serf members over its RPC port) for the
// members it sees alive.
func serfMembers(h *labHost) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "serf", "members", fmt.Sprintf("-rpc-addr=%s:%d", h.ip4, serfRPCPort), "-format=json").Output()
	if err != nil {
		return nil, fmt.Errorf("serf members at %s: %v", h.name, err)
	}
	var r struct {
		Members []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"members"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("serf members at %s: %v: %s", h.name, err, out)
	}
	var names []string
	for _, m := range r.Members {
		if m.Status == "alive" {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// allSee checks, asking every observer at once, that each sees exactly
// want.
func (c *sideCluster) allSee(observers []int, want []string) error {
	start := time.Now()
	defer func() { c.pollTime += time.Since(start); c.polls++ }()
	errs := make([]error, len(observers))
	var wg sync.WaitGroup
	for k, i := range observers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.view(i)
			if err == nil && !slices.Equal(got, want) {
				err = fmt.Errorf("%s %s sees %v, want %v", c.system, c.hosts[i].name, got, want)
			}
			errs[k] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// cpuTime returns the CPU time (user + system) the process has used.
func cpuTime(p *proc) (time.Duration, error) {
	return dockertest.ProcCPU(strconv.Itoa(p.cmd.Process.Pid))
}

// idleCPU measures every agent's CPU use over idleHold while checking,
// every 200ms, that every agent keeps seeing all of them.
func (c *sideCluster) idleCPU(t *testing.T, all []int, names []string) []float64 {
	t.Helper()
	before := make([]time.Duration, len(c.procs))
	for i, p := range c.procs {
		v, err := cpuTime(p)
		if err != nil {
			t.Fatal(err)
		}
		before[i] = v
	}
	start := time.Now()
	for time.Since(start) < idleHold {
		if err := c.allSee(all, names); err != nil {
			t.Fatalf("%s: not whole while idle: %v", c.system, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(start)
	var out []float64
	for i, p := range c.procs {
		v, err := cpuTime(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, 100*(v-before[i]).Seconds()/elapsed.Seconds())
	}
	return out
}

// stopAll stops every agent at once.
func (c *sideCluster) stopAll() {
	var wg sync.WaitGroup
	for _, p := range c.procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
}

// sideRun is one measurement of one system.
type sideRun struct {
	converge, detect time.Duration
	poll             time.Duration // the mean poll round
	// idleCPU is each agent's CPU use over idleHold once converged, in
	// percent of one core.
	idleCPU []float64
}

// measureSide starts one system on every host at once, measures the time
// from the first start until every agent sees all of them alive, kills
// one agent with SIGKILL and measures the time until every other agent has
// dropped it, then stops the rest.
func measureSide(t *testing.T, hosts []*labHost, start func(*testing.T, []*labHost) *sideCluster, victim int) sideRun {
	t.Helper()
	var all, rest []int
	var names, restNames []string
	for i, h := range hosts {
		all = append(all, i)
		names = append(names, h.name)
		if i != victim {
			rest = append(rest, i)
			restNames = append(restNames, h.name)
		}
	}
	sort.Strings(names)
	sort.Strings(restNames)
	t0 := time.Now()
	c := start(t, hosts)
	defer c.stopAll()
	var r sideRun
	r.converge = time.Since(t0) + labWait(t, c.system+": every agent sees all", sideTimeout, sidePoll, func() error { return c.allSee(all, names) })
	r.idleCPU = c.idleCPU(t, all, names)
	c.procs[victim].kill()
	r.detect = labWait(t, c.system+": every other agent drops the killed one", sideTimeout, sidePoll, func() error { return c.allSee(rest, restNames) })
	r.poll = c.pollTime / time.Duration(c.polls)
	return r
}

// TestSerfSideBySide: gencluster's node program and Debian's serf agent
// (the same memberlist underneath, its lan profile being memberlist's LAN
// timers, which the node program uses without -fast) on the same network
// namespaces, N=8 then N=16, each started all at once with the same seeds
// (every other host's address); time to converge (from the first start
// to every agent seeing all N alive) and time to detect a kill -9 (to
// every other agent having dropped it), each system measured serfRounds
// times in alternating order, printed side by side and as ratios (serf
// over gencluster) from the same run. Both are polled the same way, every
// agent at once, every 50ms (serf through its CLI, which costs a process
// per agent per poll: the poll round time is printed too).
func TestSerfSideBySide(t *testing.T) {
	checkLeaks(t)
	requireTools(t, "serf")
	var sizes []int
	for _, f := range strings.Split(serfSizes, ",") {
		n, _ := strconv.Atoi(f)
		sizes = append(sizes, n)
	}
	lab := newNetLab(t, true, false)
	hosts := lab.addHosts(slices.Max(sizes))
	nodeBinary(t)
	for _, n := range sizes {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) { sideBySide(t, hosts[:n]) })
	}
}

// sideBySide measures both systems on hosts and prints the figures.
func sideBySide(t *testing.T, hosts []*labHost) {
	n := len(hosts)
	systems := []struct {
		name  string
		start func(*testing.T, []*labHost) *sideCluster
	}{{"gencluster", startGencluster}, {"serf", startSerf}}
	runs := map[string][]sideRun{}
	for round := range serfRounds {
		victim := (2 + round) % n
		order := slices.Clone(systems)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			r := measureSide(t, hosts, s.start, victim)
			runs[s.name] = append(runs[s.name], r)
			figure(t, fmt.Sprintf("side_n%d_round%d_%s_converge", n, round+1, s.name), r.converge)
			figure(t, fmt.Sprintf("side_n%d_round%d_%s_detect", n, round+1, s.name), r.detect)
		}
	}
	mean := func(rs []sideRun, f func(sideRun) time.Duration) time.Duration {
		var sum time.Duration
		for _, r := range rs {
			sum += f(r)
		}
		return sum / time.Duration(len(rs))
	}
	conv := func(r sideRun) time.Duration { return r.converge }
	det := func(r sideRun) time.Duration { return r.detect }
	poll := func(r sideRun) time.Duration { return r.poll }
	gc, sc := mean(runs["gencluster"], conv), mean(runs["serf"], conv)
	gd, sd := mean(runs["gencluster"], det), mean(runs["serf"], det)
	pre := fmt.Sprintf("side_n%d_", n)
	idle := map[string][]float64{}
	for sys, rs := range runs {
		for _, r := range rs {
			idle[sys] = append(idle[sys], r.idleCPU...)
		}
	}
	avg := func(v []float64) float64 {
		var sum float64
		for _, x := range v {
			sum += x
		}
		return sum / float64(len(v))
	}
	gi, si := avg(idle["gencluster"]), avg(idle["serf"])
	figure(t, pre+"gencluster_idle_cpu_pct_mean", gi)
	figure(t, pre+"gencluster_idle_cpu_pct_max", slices.Max(idle["gencluster"]))
	figure(t, pre+"serf_idle_cpu_pct_mean", si)
	figure(t, pre+"serf_idle_cpu_pct_max", slices.Max(idle["serf"]))
	figure(t, pre+"idle_cpu_ratio_gencluster_over_serf", gi/max(si, 0.01))
	// A ratio against serf measured in the same run, not a bare figure:
	// an idle gencluster node whose refresh loop spins (a stale backoff
	// entry made it wake every millisecond: 5.5-6x serf before the fix,
	// 0.7 after) fails this; ordinary noise on both sides does not.
	if ratio := gi / max(si, 0.01); ratio > 3 {
		t.Errorf("idle gencluster nodes use %.1fx the CPU of idle serf agents (%.2f%% vs %.2f%% of a core), want at most 3x: is the refresh loop waking for nothing?", ratio, gi, si)
	}
	figure(t, pre+"gencluster_poll_round_mean", mean(runs["gencluster"], poll))
	figure(t, pre+"serf_poll_round_mean", mean(runs["serf"], poll))
	figure(t, pre+"rounds", serfRounds)
	figure(t, pre+"gencluster_converge_mean", gc)
	figure(t, pre+"serf_converge_mean", sc)
	figure(t, pre+"converge_ratio_serf_over_gencluster", sc.Seconds()/gc.Seconds())
	figure(t, pre+"gencluster_detect_mean", gd)
	figure(t, pre+"serf_detect_mean", sd)
	figure(t, pre+"detect_ratio_serf_over_gencluster", sd.Seconds()/gd.Seconds())
	// The same memberlist timers detect a crash in about the same time: a
	// ratio far from 1 means gencluster's wrapping slows detection down.
	if sd.Seconds()/gd.Seconds() < 0.5 {
		t.Errorf("N=%d: gencluster took %v to detect a kill -9, more than twice serf's %v", n, gd, sd)
	}
	t.Logf("side by side (N=%d, %d rounds, means): converge gencluster %v serf %v; detect gencluster %v serf %v",
		n, serfRounds, gc.Round(time.Millisecond), sc.Round(time.Millisecond), gd.Round(time.Millisecond), sd.Round(time.Millisecond))
}

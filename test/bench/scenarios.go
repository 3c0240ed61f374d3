package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/testing/dnstest"
	"github.com/gencluster/gencluster/internal/testing/faultnet"
)

// zoneName is the DNS name every node is configured with.
const zoneName = "nodes.bench.test."

// cluster is N nodes of one implementation sharing one DNS zone.
type cluster struct {
	impl  Impl
	dns   *dnstest.Server
	env   *Env
	nodes []*Node
	t0    time.Time // when the nodes were told to start

	changed chan struct{} // a membership event happened somewhere
}

func newCluster(impl Impl, fault *faultnet.Network, profile func(*memberlist.Config)) (*cluster, error) {
	dns, err := dnstest.New()
	if err != nil {
		return nil, err
	}
	if fault == nil {
		// Every node goes through a fault network, so that a crash
		// (Node.Close) can cut it off at once.
		fault = faultnet.New()
	}
	c := &cluster{impl: impl, dns: dns, changed: make(chan struct{}, 1)}
	c.env = &Env{
		DNS:      zoneName,
		Resolver: dns.Addr(),
		AddA:     func(ip string) { dns.AddA(zoneName, ip) },
		Net:      fault,
		Profile:  profile,
		OnChange: func() {
			select {
			case c.changed <- struct{}{}:
			default:
			}
		},
	}
	return c, nil
}

// startAll starts n nodes at the same moment: each goroutine publishes its
// address in the zone and starts its node as soon as a barrier opens.
func (c *cluster) startAll(ctx context.Context, n int) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		start = make(chan struct{})
	)
	c.nodes = make([]*Node, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			node, err := c.env.StartNode(ctx, c.impl, fmt.Sprintf("n%04d", i), n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("node %d: %w", i, err))
				return
			}
			c.nodes[i] = node
		}()
	}
	c.t0 = time.Now()
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.close()
		return err
	}
	return nil
}

// waitUntil waits until cond holds, re-checking it after membership events
// and every 50ms, or until the deadline; it reports whether cond held.
func (c *cluster) waitUntil(ctx context.Context, deadline time.Time, cond func() bool) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if !time.Now().Before(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-c.changed:
		case <-tick.C:
		}
	}
	return true
}

// allSee reports whether each of nodes sees exactly want members.
func allSee(nodes []*Node, want int) bool {
	for _, n := range nodes {
		if n.Tracker.Alive() != want {
			return false
		}
	}
	return true
}

// close crashes every node, in parallel, and stops the DNS server.
func (c *cluster) close() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.Close() }()
		}
	}
	wg.Wait()
	c.dns.Close()
}

// StartResult is one run of the simultaneous-start scenario, with the
// failure-detection figures measured on the converged cluster.
type StartResult struct {
	Impl Impl `json:"impl"`
	N    int  `json:"n"`
	Run  int  `json:"run"`
	// Converged: every node listed N alive members before the timeout.
	Converged bool `json:"converged"`
	// Took: from the start until the last node listed N members (the
	// timeout when not converged).
	Took time.Duration `json:"took_ns"`
	// NodeTimes: per node, from the start until it listed N members
	// (nodes that never did are left out).
	NodeTimes []time.Duration `json:"node_times_ns"`

	// Detection (when Detect was asked and the cluster converged).
	DetectRun bool          `json:"detect_run"`
	Detected  bool          `json:"detected"`
	Detect    time.Duration `json:"detect_ns"`
	// FalseFailures counts fail events, on every node over the whole run,
	// for members that had not crashed.
	FalseFailures int  `json:"false_failures"`
	Loaded        bool `json:"cpu_loaded"`
}

// StartOptions tune RunStart.
type StartOptions struct {
	Timeout       time.Duration // for convergence, and again for detection
	Detect        bool          // crash one node and time its detection
	Load          bool          // run a busy process during detection
	FalseFailWait time.Duration // after detection, keep watching for false failures
	// Profile sets the gossip timers (nil: Profile).
	Profile func(*memberlist.Config)
}

// RunStart starts n nodes of impl at the same moment, configured with one
// DNS name, and times until every node lists n alive members; then,
// optionally, crashes one node and times until every survivor reported it
// failed.
func RunStart(ctx context.Context, impl Impl, n, run int, o StartOptions) (StartResult, error) {
	r := StartResult{Impl: impl, N: n, Run: run}
	c, err := newCluster(impl, nil, o.Profile)
	if err != nil {
		return r, err
	}
	defer c.close()
	if err := c.startAll(ctx, n); err != nil {
		return r, err
	}
	r.Converged = c.waitUntil(ctx, c.t0.Add(o.Timeout), func() bool { return allSee(c.nodes, n) })
	var last time.Time
	for _, node := range c.nodes {
		if at := node.Tracker.ConvergedAt(); !at.IsZero() {
			r.NodeTimes = append(r.NodeTimes, at.Sub(c.t0))
			if at.After(last) {
				last = at
			}
		}
	}
	slices.Sort(r.NodeTimes)
	r.Took = o.Timeout
	if r.Converged {
		r.Took = last.Sub(c.t0)
	}
	if !r.Converged || !o.Detect || n < 2 {
		r.FalseFailures = falseFailures(c.nodes)
		return r, ctx.Err()
	}

	r.DetectRun, r.Loaded = true, o.Load
	if o.Load {
		stop, err := busy()
		if err != nil {
			return r, err
		}
		defer stop()
		time.Sleep(200 * time.Millisecond)
	}
	victim := c.nodes[n-1]
	survivors := c.nodes[:n-1]
	crashed := time.Now()
	victim.Close()
	r.Detected = c.waitUntil(ctx, crashed.Add(o.Timeout), func() bool {
		for _, s := range survivors {
			if s.Tracker.FailedAt(victim.Name).IsZero() {
				return false
			}
		}
		return true
	})
	r.Detect = o.Timeout
	if r.Detected {
		var lastFail time.Time
		for _, s := range survivors {
			if at := s.Tracker.FailedAt(victim.Name); at.After(lastFail) {
				lastFail = at
			}
		}
		r.Detect = lastFail.Sub(crashed)
	}
	select {
	case <-ctx.Done():
	case <-time.After(o.FalseFailWait):
	}
	r.FalseFailures = falseFailures(c.nodes, victim.Name)
	return r, ctx.Err()
}

func falseFailures(nodes []*Node, crashed ...string) int {
	k := 0
	for _, n := range nodes {
		k += n.Tracker.FailuresExcept(crashed...)
	}
	return k
}

// busy starts a process that spins on one core, and returns what stops
// it.
func busy() (stop func(), err error) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("busy process: %w", err)
	}
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}, nil
}

// PartitionResult is one run of the partition-heal scenario.
type PartitionResult struct {
	Impl Impl `json:"impl"`
	N    int  `json:"n"`
	Run  int  `json:"run"`
	// Split: both halves marked the other failed; SplitTook from the cut.
	Split     bool          `json:"split"`
	SplitTook time.Duration `json:"split_ns"`
	// HealedAfter is how long the network stayed cut after the split was
	// complete: longer than GossipToTheDeadTime, so that memberlist has
	// stopped gossiping to the members it declared dead.
	CutFor time.Duration `json:"cut_for_ns"`
	// Healed: every node listed N members again before HealTimeout;
	// HealTook from the heal.
	Healed      bool          `json:"healed"`
	HealTook    time.Duration `json:"heal_ns"`
	HealTimeout time.Duration `json:"heal_timeout_ns"`
}

// PartitionOptions tune RunPartition.
type PartitionOptions struct {
	Timeout     time.Duration // to converge, and to split
	HealTimeout time.Duration
}

// RunPartition forms a cluster of n nodes, cuts it in two halves until
// each half has marked the other failed, waits for memberlist to stop
// gossiping to the dead, heals the network and times until the cluster is
// whole again.
func RunPartition(ctx context.Context, impl Impl, n, run int, o PartitionOptions) (PartitionResult, error) {
	r := PartitionResult{Impl: impl, N: n, Run: run, HealTimeout: o.HealTimeout}
	fn := faultnet.New()
	c, err := newCluster(impl, fn, Profile)
	if err != nil {
		return r, err
	}
	defer c.close()
	if err := c.startAll(ctx, n); err != nil {
		return r, err
	}
	if !c.waitUntil(ctx, time.Now().Add(o.Timeout), func() bool { return allSee(c.nodes, n) }) {
		return r, fmt.Errorf("partition %s n=%d: the cluster did not form within %v", impl, n, o.Timeout)
	}
	a, b := c.nodes[:n/2], c.nodes[n/2:]
	addrs := func(ns []*Node) []string {
		var out []string
		for _, x := range ns {
			out = append(out, x.Addr)
		}
		return out
	}
	cut := time.Now()
	fn.Partition(addrs(a), addrs(b))
	r.Split = c.waitUntil(ctx, cut.Add(o.Timeout), func() bool { return allSee(a, len(a)) && allSee(b, len(b)) })
	r.SplitTook = time.Since(cut)
	if !r.Split {
		return r, ctx.Err()
	}
	// memberlist keeps gossiping to members it declared dead for
	// GossipToTheDeadTime: a heal inside that window is repaired by
	// memberlist alone. Wait it out, so that only a re-join can heal.
	time.Sleep(profileGossipToTheDead() + 500*time.Millisecond)
	r.CutFor = time.Since(cut) - r.SplitTook
	healed := time.Now()
	fn.Heal()
	r.Healed = c.waitUntil(ctx, healed.Add(o.HealTimeout), func() bool { return allSee(c.nodes, n) })
	r.HealTook = time.Since(healed)
	return r, ctx.Err()
}

func profileGossipToTheDead() time.Duration {
	mc := memberlistDefault()
	Profile(mc)
	return mc.GossipToTheDeadTime
}

// OverheadResult is the steady-state cost of one implementation's nodes.
type OverheadResult struct {
	Impl Impl `json:"impl"`
	N    int  `json:"n"`
	// CPU is the process CPU time (user+system) per node per second of
	// wall time, over Window, in milliseconds per second (1000 = a core).
	CPU    float64       `json:"cpu_ms_per_s_per_node"`
	Window time.Duration `json:"window_ns"`
	// HeapBytes: in-use heap per node after a GC, above the heap before
	// the cluster started.
	HeapBytes float64 `json:"heap_bytes_per_node"`
	// Goroutines per node, above those before the cluster started.
	Goroutines float64 `json:"goroutines_per_node"`
}

// RunOverhead forms a cluster of n nodes, lets it settle, and measures its
// CPU, heap and goroutines at steady state.
//
// profile sets the gossip timers (nil: Profile).
func RunOverhead(ctx context.Context, impl Impl, n int, timeout, window time.Duration, profile func(*memberlist.Config)) (OverheadResult, error) {
	r := OverheadResult{Impl: impl, N: n, Window: window}
	heap0, gor0 := heapInUse(), runtime.NumGoroutine()
	c, err := newCluster(impl, nil, profile)
	if err != nil {
		return r, err
	}
	defer c.close()
	if err := c.startAll(ctx, n); err != nil {
		return r, err
	}
	if !c.waitUntil(ctx, time.Now().Add(timeout), func() bool { return allSee(c.nodes, n) }) {
		return r, fmt.Errorf("overhead %s n=%d: the cluster did not form within %v", impl, n, timeout)
	}
	time.Sleep(time.Second)
	r.HeapBytes = float64(heapInUse()-heap0) / float64(n)
	r.Goroutines = float64(runtime.NumGoroutine()-gor0) / float64(n)
	cpu0, wall0 := cpuTime(), time.Now()
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(window):
	}
	r.CPU = float64((cpuTime() - cpu0).Milliseconds()) / time.Since(wall0).Seconds() / float64(n)
	return r, nil
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package vsim

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Options configure one simulated run: one implementation, one size.
type Options struct {
	Impl Impl
	N    int
	// Seed drives the network's loss and jitter and the baseline's retry
	// jitter.
	Seed uint64
	// Link is every link's latency, jitter and loss.
	Link Link
	// RefreshInterval is gencluster's (0: its default).
	RefreshInterval time.Duration
	// RawSeeds is how many known seed addresses (the first members) the
	// baseline joins (0: 1; N: every member's address).
	RawSeeds int
	// GSeeds is gencluster's discovery: 0, a registry that lists members
	// as they come up (a headless Service); K > 0, a static list of the
	// first K members' addresses, known before any starts (K = N: every
	// address, as a Kubernetes API listing gives).
	GSeeds int
	// CPU is what each node's virtual CPU charges (the zero CPU: all work
	// is free), and CPUName names it in the report.
	CPU     CPU
	CPUName string
	// Spread, when positive, starts each member at a random instant in
	// [0, Spread) instead of all at once (as pods that start over a few
	// hundred milliseconds, or the real-loopback benchmark, do).
	Spread time.Duration
	// RefuseUnstarted makes a dial to a member that has not started yet
	// fail at once with "connection refused", as on loopback or a LAN
	// where the port is closed until the process listens. Off, the dial
	// waits for the member to start (a SYN in a listening backlog).
	RefuseUnstarted bool
	// Timeout bounds each phase, in virtual time.
	Timeout time.Duration
	// Steady is the quiet time between formation and the crash, in which
	// any failure is a false one.
	Steady time.Duration
	// Restarts is how many members the rolling restart replaces (0: none).
	Restarts int
	// Partition runs the partition-and-heal phase.
	Partition bool
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
	// AfterHeap, when set, is called right after each heap measurement
	// ("start": at the end of the start; "steady": after the quiet time),
	// with every node up (a heap profile is taken there: see
	// -heap-profile).
	AfterHeap func(when string)
}

func (o *Options) check() error {
	var errs []error
	if o.Impl != Gencluster && o.Impl != Raw {
		errs = append(errs, fmt.Errorf("vsim: implementation %q is neither %q nor %q", o.Impl, Gencluster, Raw))
	}
	if o.N < 4 {
		errs = append(errs, fmt.Errorf("vsim: N %d: want at least 4 (a crash, a restart and two halves)", o.N))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("vsim: timeout %v must be positive", o.Timeout))
	}
	if o.Restarts < 0 || o.Restarts > o.N/2 {
		errs = append(errs, fmt.Errorf("vsim: %d restarts: want 0 to N/2 = %d", o.Restarts, o.N/2))
	}
	if o.RawSeeds < 0 || o.RawSeeds > o.N {
		errs = append(errs, fmt.Errorf("vsim: %d raw seeds: want 0 to N = %d", o.RawSeeds, o.N))
	}
	if o.GSeeds < 0 || o.GSeeds > o.N {
		errs = append(errs, fmt.Errorf("vsim: %d gencluster seeds: want 0 (registry) to N = %d", o.GSeeds, o.N))
	}
	errs = append(errs, o.CPU.Validate())
	if o.Spread < 0 {
		errs = append(errs, fmt.Errorf("vsim: spread %v must not be negative", o.Spread))
	}
	errs = append(errs, o.Link.Validate())
	return errors.Join(errs...)
}

// Phase is one measured phase, in virtual time: from the action until
// the last node saw its outcome.
type Phase struct {
	Ran bool `json:"ran"`
	OK  bool `json:"ok"` // every node saw the outcome before the timeout
	// Took is until the last node (the timeout when not OK); Median and
	// P90 are over the nodes that saw it.
	Took   time.Duration `json:"took_ns"`
	Median time.Duration `json:"median_ns"`
	P90    time.Duration `json:"p90_ns"`
	Wall   time.Duration `json:"wall_ns"` // real time the phase took to simulate
	// AfterLast, for the start, is from the last member's start until the
	// slowest lists all N (the formation matrix's figure): with starts
	// spread out, Took is mostly the spread.
	AfterLast time.Duration `json:"after_last_ns,omitempty"`
}

// Result is one run's figures.
type Result struct {
	Impl Impl   `json:"impl"`
	N    int    `json:"n"`
	Seed uint64 `json:"seed"`
	Link Link   `json:"link"`
	// Seeding says how the implementation found its peers (Seeding).
	Seeding string `json:"seeding"`
	// CPUName is the CPU profile ("off": free CPU) and CPU its costs;
	// CPUStart is where the CPU time went during the start, CPUTotal
	// over the whole run.
	CPUName  string   `json:"cpu"`
	CPU      CPU      `json:"cpu_costs"`
	CPUStart CPUStats `json:"cpu_start"`
	CPUTotal CPUStats `json:"cpu_total"`

	Start       Phase `json:"start"`
	FailedJoins int64 `json:"failed_joins"` // during the start
	StartDials  int64 `json:"start_dials"`  // streams opened during the start (push-pulls)
	Refused     int64 `json:"refused_push_pulls"`
	Crash       Phase `json:"crash"`
	// Restart: per restarted member, from its start until every member
	// listed it again; Took is the slowest, Median over the restarts.
	Restart  Phase `json:"restart"`
	Restarts int   `json:"restarts"`
	// Split: from the cut until each half lists only itself; Heal: from
	// the heal until every member lists all again.
	Split Phase `json:"split"`
	Heal  Phase `json:"heal"`
	// FalseFailures counts fail events, on every node over the whole
	// run, for members that had not crashed, left, or been cut off.
	FalseFailures int64 `json:"false_failures"`
	// FalseUntilCrash is FalseFailures until the crash was detected
	// (start, quiet time, crash): the phases about formation and load.
	// The baseline can count some later, in the rolling restart and after
	// the heal it does not make.
	FalseUntilCrash int64    `json:"false_failures_until_crash"`
	FirstFalse      []string `json:"first_false,omitempty"`

	HeapPerNode float64 `json:"heap_bytes_per_node"` // after the start
	// HeapSteadyPerNode is the heap per node after the quiet time (before
	// the crash): what each node holds once the start's transients (its
	// broadcast queues, streams and their timers, pending events) are
	// gone. Right after the start those weigh on the implementation that
	// formed faster; memberlist (join 1) forms in seconds, gencluster in
	// a fraction of a second.
	HeapSteadyPerNode float64       `json:"heap_steady_bytes_per_node,omitempty"`
	GoroutinesPerNode float64       `json:"goroutines_per_node"`
	Packets           int64         `json:"packets"`
	Dials             int64         `json:"dials"`
	Virtual           time.Duration `json:"virtual_ns"` // the whole run
	Wall              time.Duration `json:"wall_ns"`
}

// run is the state of one Run.
type run struct {
	o        Options
	size     int // member numbers are 0..size-1
	net      *Network
	reg      *Registry
	rawSeeds []string
	gSeeds   []string // gencluster's static list; nil: the registry
	count    counters
	fails    failures
	t0       time.Time // virtual start of the run
	// spy is the member whose arrival the start phase times at every
	// other node (the last to start; -1: none).
	spy int

	mu    sync.Mutex
	nodes []*node // by member number; nil when down
}

// Run simulates one cluster through the phases: simultaneous start, a
// quiet time, one crash, a rolling restart, a partition and its heal. It
// must be called inside a synctest bubble.
func Run(o Options) (Result, error) {
	if o.RawSeeds == 0 {
		o.RawSeeds = 1
	}
	if o.CPUName == "" {
		o.CPUName = "off"
		if !o.CPU.IsZero() {
			o.CPUName = "custom"
		}
	}
	res := Result{Impl: o.Impl, N: o.N, Seed: o.Seed, Link: o.Link, Seeding: o.Seeding(), CPUName: o.CPUName, CPU: o.CPU}
	if err := o.check(); err != nil {
		return res, err
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	nw, err := NewNetwork(o.Link, o.Seed)
	if err != nil {
		return res, err
	}
	if err := nw.SetCPU(o.CPU); err != nil {
		return res, err
	}
	nw.refuseUnstarted = o.RefuseUnstarted
	r := &run{o: o, size: o.N, net: nw, reg: &Registry{}, nodes: make([]*node, o.N)}
	defer r.stopAll()
	wall0, virt0 := realNow(), time.Now()
	r.t0 = virt0
	heap0, gor0 := heapAlloc(), runtime.NumGoroutine()

	if res.Start, err = r.start(); err != nil {
		return res, err
	}
	res.FailedJoins, res.Refused, res.StartDials = r.count.failedJoins.Load(), r.count.refused.Load(), nw.Dials.Load()
	res.CPUStart = nw.CPUStats()
	res.HeapPerNode = float64(heapAlloc()-heap0) / float64(o.N)
	res.GoroutinesPerNode = float64(runtime.NumGoroutine()-gor0) / float64(o.N)
	if o.AfterHeap != nil {
		o.AfterHeap("start")
	}
	o.Logf("%s (%s, CPU %s) N=%d start: %s; %d dials, failed joins %d, refused push-pulls %d, heap %.0f KiB/node; CPU %s", o.Impl, res.Seeding, o.CPUName, o.N, res.Start, res.StartDials, res.FailedJoins, res.Refused, res.HeapPerNode/1024, res.CPUStart)
	if res.Start.OK {
		time.Sleep(o.Steady)
		res.HeapSteadyPerNode = float64(heapAlloc()-heap0) / float64(o.N)
		if o.AfterHeap != nil {
			o.AfterHeap("steady")
		}
		o.Logf("%s N=%d after the quiet time of %v: heap %.0f KiB/node", o.Impl, o.N, o.Steady, res.HeapSteadyPerNode/1024)
		res.Crash = r.crashOne()
		res.FalseUntilCrash = r.fails.falseCount()
		o.Logf("%s N=%d crash: %s", o.Impl, o.N, res.Crash)
		if o.Restarts > 0 {
			res.Restart, err = r.rollingRestart(o.Restarts)
			if err != nil {
				return res, err
			}
			res.Restarts = o.Restarts
			o.Logf("%s N=%d rolling restart of %d: %s", o.Impl, o.N, o.Restarts, res.Restart)
		}
		if o.Partition {
			res.Split, res.Heal = r.partition()
			o.Logf("%s N=%d partition: split %s; heal %s", o.Impl, o.N, res.Split, res.Heal)
		}
	}
	res.FalseFailures, res.FirstFalse = r.fails.falseCount(), r.fails.firstFalse()
	if !res.Crash.Ran {
		res.FalseUntilCrash = res.FalseFailures
	}
	res.Packets, res.Dials = nw.Packets.Load(), nw.Dials.Load()
	res.CPUTotal = nw.CPUStats()
	res.Virtual, res.Wall = time.Since(virt0), realNow().Sub(wall0)
	return res, nil
}

// Seeding names how the run's implementation finds its peers.
func (o *Options) Seeding() string {
	switch {
	case o.Impl == Raw && o.RawSeeds >= o.N:
		return "join all"
	case o.Impl == Raw:
		return fmt.Sprintf("join %d", max(o.RawSeeds, 1))
	case o.GSeeds == 0:
		return "registry"
	case o.GSeeds >= o.N:
		return "static all"
	}
	return fmt.Sprintf("static %d", o.GSeeds)
}

func (s CPUStats) String() string {
	if s == (CPUStats{}) {
		return "free"
	}
	r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	return fmt.Sprintf("packets %v, streams %v, push-pull send %v, recv %v, learn %v (summed over nodes); longest wait %v",
		r(s.Packets), r(s.Streams), r(s.PushSend), r(s.PushRecv), r(s.Learn), s.MaxWait.Round(time.Microsecond))
}

func (p Phase) String() string {
	if !p.Ran {
		return "not run"
	}
	state := "done"
	if !p.OK {
		state = "NOT done (timeout)"
	}
	after := ""
	if p.AfterLast > 0 {
		after = fmt.Sprintf(", %v after the last start", p.AfterLast.Round(time.Millisecond))
	}
	return fmt.Sprintf("%s in %v%s (median %v, p90 %v; wall %v)", state, p.Took.Round(time.Millisecond), after, p.Median.Round(time.Millisecond), p.P90.Round(time.Millisecond), p.Wall.Round(time.Millisecond))
}

// live returns the members that are up.
func (r *run) live() []*node {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*node
	for _, n := range r.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

func (r *run) set(i int, n *node) {
	r.mu.Lock()
	r.nodes[i] = n
	r.mu.Unlock()
}

// stopAll crashes whatever is still up, then the network.
func (r *run) stopAll() {
	var wg sync.WaitGroup
	for _, n := range r.live() {
		wg.Go(func() { r.crash(n) })
	}
	wg.Wait()
	r.net.Stop()
	// memberlist's Shutdown does not wait for its goroutines: a probe in
	// flight waits for its ack until its deadline (a few probe intervals
	// when Lifeguard has raised the node's awareness). Let virtual time
	// run out every such deadline, or the bubble ends with goroutines
	// still blocked and synctest panics.
	time.Sleep(drainTime)
}

// drainTime outlasts every deadline memberlist may have pending after a
// Shutdown: a probe's (ProbeInterval scaled by the awareness score, at
// most 9 s with the LAN timers) and a stream's (TCPTimeout, 10 s).
const drainTime = 30 * time.Second

// await polls, every 10 ms of virtual time, until done holds for every one
// of nodes or the timeout passes, and returns the phase: per node, done
// returns when the node saw the outcome.
//
// wall0 is when the phase began in real time.
func (r *run) await(nodes []*node, from, wall0 time.Time, done func(s sighting) (time.Time, bool)) Phase {
	p := Phase{Ran: true}
	for {
		var at []time.Duration
		all := true
		for _, n := range nodes {
			if t, ok := done(n.trk.look()); ok {
				at = append(at, max(t.Sub(from), 0))
			} else {
				all = false
			}
		}
		if all || time.Since(from) >= r.o.Timeout {
			slices.Sort(at)
			p.OK = all
			p.Took = r.o.Timeout
			if all && len(at) > 0 {
				p.Took = at[len(at)-1]
			}
			p.Median, p.P90 = quantile(at, 0.5), quantile(at, 0.9)
			p.Wall = realNow().Sub(wall0)
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// quantileOf is quantile of an unsorted slice.
func quantileOf(s []time.Duration, q float64) time.Duration {
	s = slices.Clone(s)
	slices.Sort(s)
	return quantile(s, q)
}

// quantile is the q-quantile of a sorted slice (0 when empty).
func quantile(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// realNow is the wall clock: time.Now is virtual inside the bubble.
func realNow() time.Time {
	var tv syscall.Timeval
	if err := syscall.Gettimeofday(&tv); err != nil {
		return time.Time{}
	}
	return time.Unix(tv.Sec, tv.Usec*1000)
}

func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/seeds"
)

// Seeding is how the nodes of a formation run are told where their peers
// are: the configurations users write.
type Seeding string

const (
	// SeedOne: every node is given the first node's address (static).
	SeedOne Seeding = "seed1"
	// SeedThree: every node is given the first three nodes' addresses
	// (static), the retry_join style of most deployments outside
	// Kubernetes.
	SeedThree Seeding = "seed3"
	// SeedDNS: one DNS name whose A records list each node as it comes
	// up (a headless Service).
	SeedDNS Seeding = "dns"
	// SeedAll: a static list of every node's address, known before any
	// node starts (a Kubernetes API listing every pod of the set).
	SeedAll Seeding = "all"
)

// Seedings are the seedings, in report order.
var Seedings = []Seeding{SeedOne, SeedThree, SeedDNS, SeedAll}

// ParseSeeding returns the Seeding named s.
func ParseSeeding(s string) (Seeding, error) {
	for _, x := range Seedings {
		if string(x) == s {
			return x, nil
		}
	}
	return "", fmt.Errorf("unknown seeding %q (want one of seed1, seed3, dns, all)", s)
}

// FormationOptions describe one cell of the formation matrix.
type FormationOptions struct {
	Seeding Seeding
	N       int
	// Spread: the nodes start one after another at even gaps over this
	// long (0: all at the same moment), in an order shuffled by the run
	// number (the same order for both implementations).
	Spread time.Duration
	// Timeout: give up this long after the last node started.
	Timeout time.Duration
	// Profile sets the gossip timers (nil: LANProfile).
	Profile func(*memberlist.Config)
}

func (o FormationOptions) validate() error {
	var errs []error
	if _, err := ParseSeeding(string(o.Seeding)); err != nil {
		errs = append(errs, err)
	}
	if o.N < 1 {
		errs = append(errs, fmt.Errorf("size (N) %d: want at least 1", o.N))
	}
	if o.Spread < 0 {
		errs = append(errs, fmt.Errorf("spread %v: want 0 or more", o.Spread))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %v: want more than 0", o.Timeout))
	}
	return errors.Join(errs...)
}

// FormationResult is one run of one implementation in one cell.
type FormationResult struct {
	Impl    Impl          `json:"impl"`
	Seeding Seeding       `json:"seeding"`
	N       int           `json:"n"`
	Spread  time.Duration `json:"spread_ns"`
	Run     int           `json:"run"`
	// Converged: every node listed N alive members before the timeout.
	Converged bool `json:"converged"`
	// Slowest is from the moment the last node was started until the
	// slowest node listed all N (the timeout when not converged). Before
	// the last start no node can list all N, so a spread start is timed
	// from there.
	Slowest time.Duration `json:"slowest_ns"`
	// NodeTimes: per node, from the last start until it listed all N,
	// sorted (nodes that never did are left out).
	NodeTimes []time.Duration `json:"node_times_ns"`
	// Missing describes, for the nodes that had not listed all N at the
	// timeout, whom they lacked (at most a few lines).
	Missing []string `json:"missing,omitempty"`
	// CPU is the process's CPU time (user + system, every node of the
	// run together) from just before the first start until every node
	// listed all N (or the timeout): the work a formation costs, which
	// on a loaded machine turns into time.
	CPU time.Duration `json:"cpu_ns,omitempty"`
	// Traffic is what memberlist sent over the same span (zero unless
	// CountTraffic was called).
	Traffic Traffic `json:"traffic"`
	// SlowestLearnedLast says, for a formed run, which member the
	// slowest node learned last and where each stood in the start order:
	// a slow run that waited for a late starter is not a slow run that
	// missed an early one.
	SlowestLearnedLast string `json:"slowest_learned_last,omitempty"`
}

// Over reports whether any node took longer than d (or never converged).
func (r FormationResult) Over(d time.Duration) bool { return !r.Converged || r.Slowest > d }

// seedDiscovery returns what every node is configured with, given the
// nodes' addresses in index order.
func seedDiscovery(s Seeding, addrs []string) seeds.Discoverer {
	switch s {
	case SeedOne:
		return seeds.Static(addrs[0])
	case SeedThree:
		return seeds.Static(addrs[:min(3, len(addrs))]...)
	case SeedAll:
		return seeds.Static(addrs...)
	default:
		return nil // the Env's DNS name
	}
}

// RunFormation starts o.N nodes of impl configured with o.Seeding, over
// o.Spread, and times until every node lists all N alive members.
func RunFormation(ctx context.Context, impl Impl, run int, o FormationOptions) (FormationResult, error) {
	r := FormationResult{Impl: impl, Seeding: o.Seeding, N: o.N, Spread: o.Spread, Run: run}
	if err := o.validate(); err != nil {
		return r, fmt.Errorf("formation: %w", err)
	}
	profile := o.Profile
	if profile == nil {
		profile = LANProfile
	}
	c, err := newCluster(impl, nil, profile)
	if err != nil {
		return r, err
	}
	defer c.close()
	ips := make([]string, o.N)
	addrs := make([]string, o.N)
	for i := range ips {
		ips[i] = nextIP()
		addrs[i] = net.JoinHostPort(ips[i], fmt.Sprint(Port))
	}
	c.env.Discovery = seedDiscovery(o.Seeding, addrs)
	cpu, sent := processCPU(), ReadTraffic()
	last, err := c.startSpread(ctx, ips, o.Spread, uint64(run))
	if err != nil {
		return r, err
	}
	r.Converged = c.waitUntil(ctx, last.Add(o.Timeout), func() bool { return allSee(c.nodes, o.N) })
	r.CPU, r.Traffic = processCPU()-cpu, ReadTraffic().Sub(sent)
	var slowest time.Duration
	var slowNode *Node
	for _, node := range c.nodes {
		at := node.Tracker.ConvergedAt()
		if at.IsZero() {
			continue
		}
		d := max(at.Sub(last), 0)
		r.NodeTimes = append(r.NodeTimes, d)
		if slowNode == nil || d > slowest {
			slowest, slowNode = d, node
		}
	}
	if slowNode != nil {
		r.SlowestLearnedLast = c.learnedLast(slowNode)
	}
	slices.Sort(r.NodeTimes)
	r.Slowest = o.Timeout
	if r.Converged {
		r.Slowest = slowest
	} else {
		r.Missing = missing(c.nodes, 5)
	}
	return r, ctx.Err()
}

// startSpread starts one node on each of ips, the i-th of a shuffled
// order at start + i*spread/(n-1), and returns when the last one was
// started (just before its Start was called).
func (c *cluster) startSpread(ctx context.Context, ips []string, spread time.Duration, seed uint64) (time.Time, error) {
	n := len(ips)
	order := rand.New(rand.NewPCG(seed, 0x5eed)).Perm(n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		last  time.Time
		begin = make(chan struct{})
	)
	c.nodes = make([]*Node, n)
	for slot, i := range order {
		var at time.Duration
		if n > 1 {
			at = spread * time.Duration(slot) / time.Duration(n-1)
		}
		wg.Go(func() {
			<-begin
			t := time.NewTimer(time.Until(c.t0.Add(at)))
			defer t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			started := time.Now()
			node, err := c.env.startNodeAt(ctx, c.impl, fmt.Sprintf("n%04d", i), ips[i], n)
			mu.Lock()
			defer mu.Unlock()
			if started.After(last) {
				last = started
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("node %d: %w", i, err))
				return
			}
			node.StartSlot = slot
			c.nodes[i] = node
		})
	}
	c.t0 = time.Now()
	close(begin)
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return last, err
	}
	return last, nil
}

// missing describes whom the nodes that do not list everyone lack: per
// lacked member, how many nodes lack it and how many of those had seen it
// and then reported it failed (a false failure, under load) rather than
// never heard of it; then the first few nodes that lack someone, and how
// many members each lists (at most limit lines of each).
func missing(nodes []*Node, limit int) []string {
	type lack struct{ by, failed int }
	lacked := map[string]*lack{}
	var names, byNode []string
	for _, n := range nodes {
		n.Tracker.mu.Lock()
		k := 0
		for _, m := range nodes {
			if n.Tracker.alive[m.Name] {
				continue
			}
			k++
			l := lacked[m.Name]
			if l == nil {
				l = &lack{}
				lacked[m.Name] = l
				names = append(names, m.Name)
			}
			l.by++
			if n.Tracker.failCount[m.Name] > 0 {
				l.failed++
			}
		}
		alive := len(n.Tracker.alive)
		n.Tracker.mu.Unlock()
		if k > 0 && len(byNode) < limit {
			byNode = append(byNode, fmt.Sprintf("%s lists %d", n.Name, alive))
		}
	}
	sort.Strings(names)
	var out []string
	for i, name := range names {
		if i == limit {
			out = append(out, fmt.Sprintf("... %d more lacked", len(names)-limit))
			break
		}
		out = append(out, fmt.Sprintf("%s lacked by %d (reported failed by %d of them)", name, lacked[name].by, lacked[name].failed))
	}
	return append(out, strings.Join(byNode, ", "))
}

// processCPU returns the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// learnedLast describes which member node learned last and where both
// stood in the start order.
func (c *cluster) learnedLast(node *Node) string {
	name := node.Tracker.CompletedBy()
	for _, o := range c.nodes {
		if o != nil && o.Name == name {
			return fmt.Sprintf("%s (started %d of %d) learned %s (started %d) last", node.Name, node.StartSlot+1, len(c.nodes), name, o.StartSlot+1)
		}
	}
	return fmt.Sprintf("%s (started %d of %d) learned %s last", node.Name, node.StartSlot+1, len(c.nodes), name)
}

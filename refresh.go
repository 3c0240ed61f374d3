package gencluster

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/gencluster/gencluster/internal/backoff"
	"github.com/gencluster/gencluster/seeds"
)

// lookupHostFunc resolves a host name to IP strings (net.Resolver's
// LookupHost); the refresh loop uses it to tell whether a seed given by
// name is already a live member.
type lookupHostFunc func(ctx context.Context, host string) ([]string, error)

// observer is told what the refresh loop does; metrics implement it.
type observer interface {
	discovered(backend string, found int, took time.Duration, err error)
	connected(addr string, err error)
	refreshed(took time.Duration)
}

type nopObserver struct{}

func (nopObserver) discovered(string, int, time.Duration, error) {}
func (nopObserver) connected(string, error)                      {}
func (nopObserver) refreshed(time.Duration)                      {}

// refresher is the loop that makes discovery heal the cluster: it re-runs
// discovery every interval and joins every discovered address that is not
// a live member. A failed address is retried with exponential backoff and
// jitter, capped at the interval. Addresses that drop out of discovery are
// never disconnected (see Dist).
type refresher struct {
	dist       Dist
	backends   []seeds.Discoverer
	self       string
	interval   time.Duration
	timeout    time.Duration // per Discover call
	workers    int
	lookupHost lookupHostFunc
	logger     *slog.Logger
	obs        observer
	afterPass  func() // called after every pass (event sync for plain Dists)

	retry *backoff.Tracker
	addrs []string // last discovery result
	// lastLive is when each discovered address was last seen as a live
	// member (see recentlyLive).
	lastLive map[string]time.Time
	rand     *rand.Rand
}

func newRefresher(c *config, d Dist, self string, obs observer) *refresher {
	maxBackoff := c.refreshInterval
	if maxBackoff == 0 {
		maxBackoff = c.minBackoff
	}
	seed := rand.Uint64()
	r := &refresher{
		dist:       d,
		self:       self,
		interval:   c.refreshInterval,
		timeout:    c.discoveryTimeout,
		workers:    c.connectConcurrent,
		lookupHost: c.lookupHost,
		logger:     c.logger,
		obs:        obs,
		retry:      backoff.NewTracker(backoff.Policy{Min: min(c.minBackoff, maxBackoff), Max: maxBackoff}, seed),
		rand:       rand.New(rand.NewPCG(seed, ^seed)),
		lastLive:   make(map[string]time.Time),
	}
	for _, d := range c.seeds {
		r.backends = append(r.backends, seeds.Backends(d)...)
	}
	return r
}

// warmupFirst is the first gap of the refresh loop's warm-up (see run).
const warmupFirst = 100 * time.Millisecond

// nextDiscoveryGap is the wait before the next discovery, after a pass
// that did (or did not) grow the view. A pass that brought in new members
// means discovery listed peers the cluster did not have yet, which is what
// a join storm or a rollout looks like: others are likely coming up too,
// so discovery re-runs soon (warmupFirst). Passes that add nobody double
// the gap back up to the interval, so a settled cluster re-discovers once
// per interval (and a join that adds nobody, such as one to another
// address of a known member, does not keep the cadence up).
func nextDiscoveryGap(gap, interval time.Duration, grew bool) time.Duration {
	if grew {
		return min(warmupFirst, interval)
	}
	return min(2*gap, interval)
}

// run re-runs discovery every interval and retries failed addresses when
// their backoff expires, until ctx is done.
func (r *refresher) run(ctx context.Context) {
	if r.interval <= 0 {
		return // gen_cluster's `infinity`: join once, at Start.
	}
	// Warm-up: right after Start, discovery re-runs after 100ms, then
	// 200ms, 400ms, ... until the gap reaches the interval. Nodes that
	// start together (a rollout, a join storm) each see only the peers
	// published before them; the early re-runs let them find the rest in
	// a fraction of a second instead of one full interval.
	gap := min(warmupFirst, r.interval)
	nextDiscovery := time.Now().Add(gap)
	timer := time.NewTimer(gap)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		discover := !time.Now().Before(nextDiscovery)
		before := len(r.dist.Members())
		r.pass(ctx, discover)
		grew := len(r.dist.Members()) > before
		if discover || grew {
			gap = nextDiscoveryGap(gap, r.interval, grew)
			nextDiscovery = time.Now().Add(gap)
		}
		wake := nextDiscovery
		if t, ok := r.retry.Next(); ok && t.Before(wake) {
			wake = t
		}
		timer.Reset(max(time.Until(wake), time.Millisecond))
	}
}

// pass optionally re-runs discovery, then joins every address that is due.
// It reports whether at least one join succeeded, and whether there was
// any address to join at all.
func (r *refresher) pass(ctx context.Context, discover bool) (joined, tried bool) {
	start := time.Now()
	if discover {
		r.addrs = r.discover(ctx)
	}
	joined, tried = r.connectDue(ctx, discover)
	if r.afterPass != nil {
		r.afterPass()
	}
	if discover {
		r.obs.refreshed(time.Since(start))
	}
	return joined, tried
}

// discover asks every backend and returns the merged, de-duplicated
// addresses. A failing backend is logged and counted and its addresses are
// simply missing this time: the cluster keeps what it has.
func (r *refresher) discover(ctx context.Context) []string {
	var (
		out  []string
		seen = make(map[string]bool)
	)
	for _, b := range r.backends {
		name := seeds.Name(b)
		dctx, cancel := context.WithTimeout(ctx, r.timeout)
		start := time.Now()
		addrs, err := b.Discover(dctx)
		took := time.Since(start)
		cancel()
		r.obs.discovered(name, len(addrs), took, err)
		if err != nil {
			if ctx.Err() != nil {
				return out // stopping; not the backend's fault
			}
			r.logger.Warn("discovery failed", "backend", name, "found", len(addrs), "err", err)
		} else {
			r.logger.Debug("discovered", "backend", name, "found", len(addrs), "took", took)
		}
		for _, a := range addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	r.retry.Retain(seen)
	for a := range r.lastLive {
		if !seen[a] {
			delete(r.lastLive, a)
		}
	}
	return out
}

// connectDue joins, with r.workers joins at a time, every discovered
// address that is not this node, not a live member and not waiting out a
// backoff. After a join succeeds the live set is re-read, because one join
// pulls in the whole cluster behind that peer and most remaining addresses
// are then members already.
//
// discovered says whether discovery has just run: a pass between
// discoveries only retries addresses whose join failed, once their backoff
// is over.
func (r *refresher) connectDue(ctx context.Context, discovered bool) (joined, tried bool) {
	now := time.Now()
	live := r.liveAddrs()
	var cands, becameLive []string
	for _, a := range r.addrs {
		if live[a] {
			r.lastLive[a] = now
			becameLive = append(becameLive, a)
			continue
		}
		if r.retry.Due(a, now) && !r.recentlyLive(a, now) && (discovered || r.retry.Failures(a) > 0) {
			cands = append(cands, a)
		}
	}
	if len(cands) == 0 {
		r.forgetBackoff(becameLive)
		return false, false
	}
	// A random order spreads a join storm over the seeds instead of every
	// node hitting the first one.
	r.rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })

	var (
		mu      sync.Mutex
		results = make(map[string]error)
		next    int
		wg      sync.WaitGroup
	)
	// take returns the next candidate that still needs a join.
	take := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		for next < len(cands) {
			a := cands[next]
			next++
			if !r.isLive(ctx, a, live) {
				return a, true
			}
			becameLive = append(becameLive, a)
		}
		return "", false
	}
	// join runs one join, records its result, and reports whether it
	// succeeded.
	join := func(a string) bool {
		err := r.dist.Connect(ctx, a)
		mu.Lock()
		defer mu.Unlock()
		results[a] = err
		if err == nil {
			live = r.liveAddrs()
		}
		return err == nil
	}
	if !r.joinOneByOne(ctx, take, join) {
		for range max(1, r.workers) {
			wg.Go(func() {
				for ctx.Err() == nil {
					a, ok := take()
					if !ok {
						return
					}
					join(a)
				}
			})
		}
	}
	wg.Wait()
	r.forgetBackoff(becameLive)

	now = time.Now()
	for a, err := range results {
		tried = true
		r.obs.connected(a, err)
		if err == nil {
			joined = true
			r.retry.Succeeded(a)
			r.logger.Debug("joined", "addr", a)
			continue
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			continue
		}
		wait := r.retry.Failed(a, now)
		r.logger.Info("join failed", "addr", a, "failures", r.retry.Failures(a), "retry_in", wait.Round(time.Millisecond), "err", err)
	}
	return joined, tried
}

// joinOneByOne joins the candidates take hands out one at a time, as long
// as the joins succeed, and reports whether it got through them all. A
// join that succeeds pulls in the cluster behind that peer, so most of
// the remaining candidates are members after it: joining them in parallel
// would mostly push and pull states that add nothing, and in a join storm
// hundreds of redundant full-state exchanges at once are what overloads
// the nodes. At the first failure it stops, and the caller joins the rest
// r.workers at a time, so that dead addresses (which fail only after a
// timeout) do not hold up the others.
func (r *refresher) joinOneByOne(ctx context.Context, take func() (string, bool), join func(string) bool) bool {
	for ctx.Err() == nil {
		a, ok := take()
		if !ok {
			return true
		}
		if !join(a) {
			return false
		}
	}
	return true
}

// recentlyLive reports whether addr was a live member less than one
// refresh interval ago. Such a member was just declared failed, and
// memberlist repairs a false failure itself (it goes on gossiping to the
// dead for GossipToTheDeadTime, and a live member refutes): joining it at
// once only adds push-pulls to a cluster that is already overloaded, which
// is when false failures happen. A real failure, or a partition, is still
// re-joined one interval later.
func (r *refresher) recentlyLive(addr string, now time.Time) bool {
	t, ok := r.lastLive[addr]
	return ok && now.Sub(t) < r.interval
}

// forgetBackoff drops the retry state of addresses that turned out to be
// live members (another join or gossip brought them in): they need no
// retry, and a retry time left in the past would make run wake at once,
// again and again, for a pass with nothing to do.
func (r *refresher) forgetBackoff(live []string) {
	for _, a := range live {
		r.retry.Succeeded(a)
	}
}

func (r *refresher) liveAddrs() map[string]bool {
	live := map[string]bool{r.self: true}
	for _, m := range r.dist.Members() {
		if m.State == StateAlive || m.State == StateSuspect {
			live[m.Addr] = true
		}
	}
	return live
}

// isLive reports whether addr is this node or a live member. A seed given
// by host name is live when any of its IPs is.
func (r *refresher) isLive(ctx context.Context, addr string, live map[string]bool) bool {
	if live[addr] {
		return true
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || net.ParseIP(host) != nil {
		return false
	}
	lctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	ips, err := r.lookupHost(lctx, host)
	if err != nil {
		return false // let the join try, and fail, and back off
	}
	for _, ip := range ips {
		if live[net.JoinHostPort(ip, port)] {
			return true
		}
	}
	return false
}

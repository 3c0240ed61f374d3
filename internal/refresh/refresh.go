// Package refresh is the loop that makes discovery heal a cluster: it
// re-runs discovery every interval and joins, through the Node's Dist,
// every discovered address that is not a live member. A failed address is
// retried with exponential backoff and jitter, capped at the interval.
// Addresses that drop out of discovery are never disconnected.
package refresh

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/gencluster/gencluster/internal/backoff"
	"github.com/gencluster/gencluster/internal/discovery"
	"github.com/gencluster/gencluster/membership"
)

// Dist is what the loop needs of the Node's Dist.
type Dist interface {
	Connect(ctx context.Context, addr string) error
	Members() []membership.Member
}

// Observer is told what the loop does; the Node's metrics implement it.
type Observer interface {
	Discovered(backend string, found int, took time.Duration, err error)
	Connected(addr string, err error)
	Refreshed(took time.Duration)
}

type nopObserver struct{}

func (nopObserver) Discovered(string, int, time.Duration, error) {}
func (nopObserver) Connected(string, error)                      {}
func (nopObserver) Refreshed(time.Duration)                      {}

// Config configures a Loop.
type Config struct {
	Dist     Dist
	Backends []discovery.Backend // asked concurrently, each with Timeout
	Self     string              // this node's address: never joined
	// Interval between discovery runs; 0 joins once (Pass) and never
	// again (Run returns at once).
	Interval   time.Duration
	MinBackoff time.Duration // first retry delay of a failed address
	Timeout    time.Duration // per Discover call, and per host look-up
	Workers    int           // joins at a time
	// LookupHost resolves a seed given by host name (net.Resolver's
	// LookupHost), to tell whether it is already a live member.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	Logger     *slog.Logger
	Observer   Observer // nil: none
	AfterPass  func()   // called after every pass (event sync for plain Dists)
	Status     *Status  // nil: none; told whether the node is isolated (isolation.go)
	// AntiEntropyQuiet is how long the member list must stay unchanged
	// before an early anti-entropy push-pull (antientropy.go): 0 is the
	// default, antiEntropyQuiet; negative turns them off (for tests that
	// count joins).
	AntiEntropyQuiet time.Duration
}

// Loop is the refresh loop. Run and Pass must not run concurrently.
type Loop struct {
	dist       Dist
	backends   []discovery.Backend
	self       string
	interval   time.Duration
	timeout    time.Duration
	workers    int
	lookupHost func(ctx context.Context, host string) ([]string, error)
	logger     *slog.Logger
	obs        Observer
	afterPass  func()

	retry *backoff.Tracker
	// addrs is the last discovery result. It is replaced, never modified
	// in place: lastLive tells a new result from the old by identity.
	addrs []string
	rand  *rand.Rand
	// lastLive is when each discovered address was last seen as a live
	// member (see recentlyLive).
	lastLive lastLive
	// aliases are addresses whose join succeeded but that no member
	// advertises (see skipAlias), each with the number of live members
	// right after that join.
	aliases map[string]int
	watch   *watch // failing addresses, isolation (isolation.go)
	// bootstrapped: the node has had other live members once (see
	// pullFewSeeds); pulled are the addresses it pushed and pulled state
	// with before that.
	bootstrapped bool
	pulled       map[string]bool
	pending      *pendingAnnounce // decided in Start's pass, made by Run
	running      bool             // Run has begun: announce at once
	ae           antiEntropy

	joined     chan struct{} // closed by the first join that succeeds
	joinedOnce sync.Once
	// firstView is the number of live members (this node included)
	// right after the first join that succeeded: what the joined peer
	// knew. 0 until then. See pullFewSeeds.
	firstView int
}

// New returns a Loop for c.
func New(c Config) *Loop {
	maxBackoff := c.Interval
	if maxBackoff == 0 {
		maxBackoff = c.MinBackoff
	}
	seed := rand.Uint64()
	r := &Loop{
		dist:       c.Dist,
		self:       c.Self,
		interval:   c.Interval,
		timeout:    c.Timeout,
		workers:    c.Workers,
		lookupHost: c.LookupHost,
		logger:     c.Logger,
		obs:        c.Observer,
		afterPass:  c.AfterPass,
		retry:      backoff.NewTracker(backoff.Policy{Min: min(c.MinBackoff, maxBackoff), Max: maxBackoff}, seed),
		rand:       rand.New(rand.NewPCG(seed, ^seed)),
		aliases:    make(map[string]int),
		watch:      newWatch(c),
		pulled:     make(map[string]bool),
		ae:         newAntiEntropy(c.AntiEntropyQuiet),
		backends:   c.Backends,
		joined:     make(chan struct{}),
	}
	if r.obs == nil {
		r.obs = nopObserver{}
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.lookupHost == nil {
		r.lookupHost = net.DefaultResolver.LookupHost
	}
	return r
}

// Joined returns a channel that is closed when a join of this loop first
// succeeds: the node is then a member of a cluster with others. The Node's
// Start returns then, while the rest of the first pass goes on.
func (r *Loop) Joined() <-chan struct{} { return r.joined }

// Backends returns how many discovery backends the loop asks.
func (r *Loop) Backends() int { return len(r.backends) }

// Addrs returns the addresses the last discovery found.
func (r *Loop) Addrs() []string { return r.addrs }

// warmupFirst is the gap of the refresh loop's warm-up after a pass that
// grew the view, and the one its doubling starts from (see Run).
const warmupFirst = 100 * time.Millisecond

// firstRediscovery is the gap from Start to the first discovery of Run,
// once per start: shorter than warmupFirst because a node that starts in
// a join storm or a rollout found, at Start, only the peers published
// before it, and the ones that came up in the same instant are then
// known to it only through gossip or its next discovery (docs/
// benchmarks.md, section 6, rule 13). Only this one gap is short: after
// a pass that grew the view the gap is warmupFirst again, so that a
// storm does not ask the backends (an EndpointSlice list, a DNS query)
// four times as often.
const firstRediscovery = 25 * time.Millisecond

// Run re-runs discovery every interval and retries failed addresses when
// their backoff expires, until ctx is done.
func (r *Loop) Run(ctx context.Context) {
	r.running = true
	r.flushAnnounce(ctx)
	if r.interval <= 0 {
		return // gen_cluster's `infinity`: join once, at Start.
	}
	// Warm-up: right after Start, discovery re-runs after 25ms, then
	// 100ms, 200ms, 400ms, ... until the gap reaches the interval, and
	// again 100ms after any pass that grew the view (nextDiscoveryGap).
	// Nodes that start together (a rollout, a join storm) each see only
	// the peers published before them; the early re-runs let them find
	// the rest in a fraction of a second instead of one full interval.
	gap := min(firstRediscovery, r.interval)
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
		r.Pass(ctx, discover)
		grew := len(r.dist.Members()) > before
		if discover || grew {
			gap = nextDiscoveryGap(gap, r.interval, grew)
			nextDiscovery = time.Now().Add(gap)
		}
		wake := nextDiscovery
		if t, ok := r.retry.Next(); ok && t.Before(wake) {
			wake = t
		}
		if t, ok := r.antiEntropyStep(ctx, time.Now()); ok && t.Before(wake) {
			wake = t
		}
		timer.Reset(max(time.Until(wake), time.Millisecond))
	}
}

// Pass optionally re-runs discovery, then joins every address that is due.
// It reports whether at least one join succeeded, and whether there was
// any address to join at all. With discovery, the backends are asked
// concurrently and each answer is joined as it arrives (discoverAndJoin).
func (r *Loop) Pass(ctx context.Context, discover bool) (joined, tried bool) {
	start := time.Now()
	if discover {
		joined, tried = r.discoverAndJoin(ctx)
	} else {
		joined, tried = r.connectDue(ctx, false)
	}
	r.pullFewSeeds(ctx) // also when others joined this node
	r.assess(time.Now())
	if r.afterPass != nil {
		r.afterPass()
	}
	if discover {
		r.obs.Refreshed(time.Since(start))
	}
	return joined, tried
}

// connectDue joins every discovered address that is not this node, not a
// live member, not waiting out a backoff and not a member that has just
// failed (recentlyLive): one at a time while the joins succeed, then
// r.workers at a time (joinOneByOne). After a join succeeds the live set
// is re-read, because one join pulls in the whole cluster behind that peer
// and most remaining addresses are then members already.
//
// discovered says whether discovery has just run: a pass between
// discoveries only retries addresses whose join failed, once their backoff
// is over.
func (r *Loop) connectDue(ctx context.Context, discovered bool) (joined, tried bool) {
	now := time.Now()
	live := r.liveAddrs()
	var cands, becameLive []string
	r.lastLive.begin(now, r.addrs)
	for i, a := range r.addrs {
		if live[a] {
			r.lastLive.live(i, a)
			becameLive = append(becameLive, a)
			continue
		}
		if r.retry.Due(a, now) && !r.recentlyLive(i, a, now) && !r.skipAlias(a, len(live)) && (discovered || r.retry.Failures(a) > 0) {
			cands = append(cands, a)
		}
	}
	r.lastLive.end(r.interval)
	r.forgetBackoff(becameLive)
	if len(cands) == 0 {
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
	// take returns the next candidate that still needs a join. The
	// look-up of a host-name seed runs outside the lock, so that the
	// workers resolve in parallel; live is replaced, never modified, so
	// the copy read under the lock stays valid.
	take := func() (string, bool) {
		for {
			mu.Lock()
			if next == len(cands) {
				mu.Unlock()
				return "", false
			}
			a, l := cands[next], live
			next++
			mu.Unlock()
			if !r.isLive(ctx, a, l) {
				return a, true
			}
		}
	}
	// join runs one join, records its result, and returns it.
	join := func(a string) error {
		err := r.dist.Connect(ctx, a)
		mu.Lock()
		defer mu.Unlock()
		results[a] = err
		if err == nil {
			r.joinedOnce.Do(func() { close(r.joined) })
			if r.pulled != nil {
				r.pulled[a] = true
			}
			live = r.liveAddrs()
			if r.firstView == 0 {
				r.firstView = len(live)
			}
			r.noteAlias(a, live)
		}
		return err
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

	now = time.Now()
	for a, err := range results {
		tried = true
		r.obs.Connected(a, err)
		if err == nil {
			joined = true
			r.joinSucceeded(a)
			r.retry.Succeeded(a)
			continue
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			continue
		}
		r.joinFailed(a, err, r.retryAfter(a, err, now), now)
	}
	return joined, tried
}

func (r *Loop) liveAddrs() map[string]bool {
	live := map[string]bool{r.self: true}
	for _, m := range r.dist.Members() {
		if m.State.Live() {
			live[m.Addr] = true
		}
	}
	return live
}

// isLive reports whether addr is this node or a live member. A seed given
// by host name is live when any of its IPs is.
func (r *Loop) isLive(ctx context.Context, addr string, live map[string]bool) bool {
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

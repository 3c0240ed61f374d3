package refresh

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gencluster/gencluster/internal/joinfail"
)

// The decisions that make a join storm (many nodes starting at once)
// converge fast without overloading anyone. docs/benchmarks.md, section 6,
// has the measurements that chose them.

// nextDiscoveryGap is the wait before the next discovery, after a pass
// that did (or did not) grow the view. A pass that brought in new members
// means discovery listed peers the cluster did not have yet, which is what
// a join storm or a rollout looks like: others are likely coming up too,
// so discovery re-runs soon (warmupFirst). Passes that add nobody double
// the gap back up to the interval, from warmupFirst at least (the gap
// after Start, firstRediscovery, is shorter), so a settled cluster
// re-discovers once per interval (and a join that adds nobody, such as
// one to another address of a known member, does not keep the cadence
// up).
func nextDiscoveryGap(gap, interval time.Duration, grew bool) time.Duration {
	if grew {
		return min(warmupFirst, interval)
	}
	return min(max(2*gap, warmupFirst), interval)
}

// joinOneByOne joins the candidates take hands out one at a time, as long
// as the joins succeed or are refused, and reports whether it got through
// them all. A join that succeeds pulls in the cluster behind that peer, so
// most of the remaining candidates are members after it: joining them in
// parallel would mostly push and pull states that add nothing, and in a
// join storm hundreds of redundant full-state exchanges at once are what
// overloads the nodes. A refused join (nothing listens there yet: in a
// storm, a peer that has not bound its port) fails at once and costs
// nothing, so it does not stop the one-by-one joins either (section 6,
// rule 10). At the first other failure it stops, and the caller joins the
// rest r.workers at a time, so that dead addresses (which fail only after
// a timeout) do not hold up the others.
func (r *Loop) joinOneByOne(ctx context.Context, take func() (string, bool), join func(string) error) bool {
	for ctx.Err() == nil {
		a, ok := take()
		if !ok {
			return true
		}
		if err := join(a); err != nil && joinfail.KindOf(err) != joinfail.Refused {
			return false
		}
	}
	return true
}

// refusedMinBackoff is the first retry delay of an address whose join was
// refused (see retryAfter), where other failures wait the configured
// MinBackoff (500 ms by default).
const refusedMinBackoff = 100 * time.Millisecond

// refusedQuickTries is how many consecutive refusals of an address each
// wait only refusedMinBackoff before the delay starts doubling: a peer in
// a storm can take a few hundred milliseconds to bind its port on a busy
// machine, and a second refusal that waited 100 to 200 ms was again long
// enough for gossip to win.
const refusedQuickTries = 4

// retryAfter records the failed join of a at now and returns the delay
// until it is tried again: exponential backoff from the configured
// MinBackoff, or from refusedMinBackoff (if lower) when the join was
// refused. A refused join means a host answered that nothing listens on
// the port yet: in a join storm or a rollout, a peer that discovery
// (a full static list, an API listing) names before it has bound its
// port. The retry costs one dial that fails at once, or, if the peer is
// up by then and still not a member, one push-pull that tells it of
// this node; waiting 500 ms instead left the two to learn of each other
// by gossip, a round (200 ms at LAN defaults) per hop, which made the
// slowest node's tail in a storm (docs/benchmarks.md, section 6, rule
// 12). A peer that stays refused is soon back on the usual cadence: after
// refusedQuickTries refusals the delays double to the refresh interval
// all the same.
func (r *Loop) retryAfter(a string, err error, now time.Time) time.Duration {
	if joinfail.KindOf(err) == joinfail.Refused {
		return r.retry.FailedFrom(a, now, refusedMinBackoff, refusedQuickTries)
	}
	return r.retry.Failed(a, now)
}

// recentlyLive reports whether addr was a live member less than one
// refresh interval ago. Such a member was just declared failed, and
// memberlist repairs a false failure itself (it goes on gossiping to the
// dead for GossipToTheDeadTime, and a live member refutes): joining it at
// once only adds push-pulls to a cluster that is already overloaded, which
// is when false failures happen. A real failure, or a partition, is still
// re-joined one interval later. addr is r.addrs[i], not live at this
// pass.
func (r *Loop) recentlyLive(i int, addr string, now time.Time) bool {
	t, ok := r.lastLive.lastSeen(i, addr)
	return ok && now.Sub(t) < r.interval
}

// forgetBackoff drops the retry state of addresses that turned out to be
// live members (another join or gossip brought them in): they need no
// retry, and a retry time left in the past would make Run wake at once,
// again and again, for a pass with nothing to do.
func (r *Loop) forgetBackoff(live []string) {
	for _, a := range live {
		r.retry.Succeeded(a)
	}
}

// skipAlias reports whether addr is an alias that need not be joined
// again: a join of it succeeded, yet no member advertises it (it is
// another address of a member, such as the other IP family of a
// dual-stack DNS name, or this node's own). Re-joining it on every
// discovery would only repeat a full push-pull with a member we have.
// Once the cluster has fewer live members than the most it has had since
// that join, someone failed or a partition is under way, and aliases are
// joined again: one may be the only discovered address of a lost member.
// live is the number of live members now.
func (r *Loop) skipAlias(addr string, live int) bool {
	n, ok := r.aliases[addr]
	if !ok || live < n {
		return false
	}
	r.aliases[addr] = live // the high-water mark a loss is measured from
	return true
}

// noteAlias records addr, just joined, as an alias when no live member
// advertises it, and forgets it otherwise. live is the live set after the
// join. It is called with the join workers' lock held.
func (r *Loop) noteAlias(addr string, live map[string]bool) {
	if live[addr] {
		delete(r.aliases, addr)
		return
	}
	r.aliases[addr] = len(live)
}

// fewSeeds is the most discovered addresses a starting node pushes and
// pulls state with, each, whether or not they are members already
// (pullFewSeeds).
const fewSeeds = 8

// announceStates bounds what a starting node's announcement (announce)
// costs, in member states pushed and pulled: it announces itself to at
// most announceStates / (members in its view) listed members, e.g. all
// 39 others of a cluster of 40, 64 in one of 64, 20 in one of 200, 4 in
// one of 1,000. A push-pull's CPU and bytes grow with the state it
// carries, so this bounds each node's cost per start whatever N is;
// the rest learn of the node by gossip.
const announceStates = 64 * 64

// formedAnnounceStates is announceStates for a node whose first view held
// nearly every listed address (formedShare): one starting into a cluster
// that has formed, as in a rollout, not a late starter of a join storm.
// Every other member is told directly up to N = 128 (4 at a time), as
// memberlist's Join of the list tells all of them: with announceStates
// the last node of a rollout at N = 100, seeded by DNS or a full list,
// reached 40 members directly and the other 59 by gossip, a round (200 ms)
// or two later, and was listed by everyone 2 to 3 times later than by
// memberlist's (docs/benchmarks.md, section 6, rule 16). 81 members at
// N = 200, 16 at N = 1,000.
const formedAnnounceStates = 128 * 128

// formedShare is the share of the listed addresses, in tenths, that a
// first view must hold for the node to count as starting into a formed
// cluster (formedAnnounceStates).
const formedShare = 9

// pullFewSeeds runs once, when the node first has other live members.
//
// If discovery lists at most fewSeeds addresses (a retry_join list of
// static seeds, or a small cluster), it pushes and pulls state with every
// listed live address it has not exchanged state with yet, as
// memberlist's own Join of that list does. Joining one seed and skipping
// the others (they are members once that join has pulled in the seed's
// view) leaves the node to learn of every later member by gossip, and
// memberlist retransmits a broadcast a bounded number of times, to the
// members the sender knew then: in a join storm some alive messages never
// reach a node that joined early, and with a few static seeds discovery
// never lists the others, so the refresh loop cannot repair that.
//
// Then, with a few seeds, it also announces itself to seedAnnounce
// random live members that discovery does not list (see seedAnnounce).
//
// Above fewSeeds listed addresses, when its first view (right after its
// first join succeeded: what the joined peer knew) held at least half of
// them (it joined a cluster that has formed, not a join storm), it
// announces itself (announce): it pushes its state to the listed
// addresses that are live members now, as many as announceStates allows.
// docs/benchmarks.md, section 6, rules 5, 8 and 14, has the measurements.
func (r *Loop) pullFewSeeds(ctx context.Context) {
	if r.bootstrapped {
		return
	}
	live := r.liveAddrs()
	if len(live) < 2 { // only this node: not in a cluster yet
		return
	}
	r.bootstrapped = true
	pulled := r.pulled
	r.pulled = nil
	var others []string
	for _, a := range r.addrs {
		if a != r.self {
			others = append(others, a)
		}
	}
	if len(others) > fewSeeds {
		// Only into a cluster that has formed: a first view that held
		// at least half of the listed addresses. In a join storm the
		// first views are partial, and announcing there cost more
		// than gossip (section 6, rule 8). The first view, not the
		// view now: the rest of the first pass's joins have grown it
		// since, and in a storm they make it whole by the end of the
		// pass. Without a join of its own (others joined this node),
		// the view now is the first it has.
		view := len(live)
		if r.firstView > 0 {
			view = r.firstView
		}
		if 2*view >= len(others)+1 {
			states := announceStates
			if 10*view >= formedShare*(len(others)+1) {
				states = formedAnnounceStates
			}
			r.scheduleAnnounce(ctx, &pendingAnnounce{to: others, live: live, pulled: pulled, states: states})
		}
		return
	}
	for _, a := range others {
		if pulled[a] || !r.isLive(ctx, a, live) || ctx.Err() != nil {
			continue
		}
		err := r.dist.Connect(ctx, a)
		r.obs.Connected(a, err)
		r.logger.Debug("pushed and pulled state with a seed", "addr", a, "err", err)
	}
	listed := make(map[string]bool, len(others))
	for _, a := range others {
		listed[a] = true
	}
	var unlisted []string
	for a := range live {
		if a != r.self && !listed[a] && !pulled[a] {
			unlisted = append(unlisted, a)
		}
	}
	if len(unlisted) > 0 {
		slices.Sort(unlisted) // the shuffle in announce is then the only randomness
		r.scheduleAnnounce(ctx, &pendingAnnounce{to: unlisted, live: live, pulled: pulled, most: seedAnnounce, states: announceStates})
	}
}

// seedAnnounce is how many random members a node that joined through a
// few seeds (rule 5) pushes its state to, beside the seeds. Only the
// seeds know of it otherwise, and the rest of the cluster learns of it
// from their gossip, a round (200 ms at LAN defaults) per hop: the
// last node of a rollout seeded with one address was listed by everyone
// 0.6 to 0.7 s after its start at N = 40, where memberlist's Join of the
// same seed took about as long. Each push-pull makes one more member
// that knows the node and gossips it (memberlist broadcasts a member it
// learns from a push-pull), so the news starts from 1 + seeds +
// seedAnnounce members instead of 1 + seeds. memberlist gossips to
// GossipNodes (3) members a round; 3 more is one round sooner for a few
// push-pulls per start, bounded by announceStates like rule 8
// (docs/benchmarks.md, section 6, rule 14).
const seedAnnounce = 3

// pendingAnnounce is an announcement decided in Start's pass and made
// when Run begins (flushAnnounce).
type pendingAnnounce struct {
	to           []string // the listed addresses (rule 8), or unlisted members (rule 14)
	live, pulled map[string]bool
	most         int // at most this many push-pulls, if above 0
	states       int // the budget in member states
}

// scheduleAnnounce makes p the pending announcement, and makes it at once
// if Run has begun (a pass inside Start leaves it to Run: flushAnnounce).
func (r *Loop) scheduleAnnounce(ctx context.Context, p *pendingAnnounce) {
	r.pending = p
	if r.running {
		r.flushAnnounce(ctx)
	}
}

// flushAnnounce makes the pending announcement, if any. It runs from Run,
// after Start has returned, never inside Start: in a join storm every
// node is inside its Start at once, and push-pulls made from there held
// every Start up (loopback, N = 40 at once: 0.6 to 1 s instead of about
// 0.1 s), while the node's own view was already complete.
func (r *Loop) flushAnnounce(ctx context.Context) {
	if p := r.pending; p != nil {
		r.pending = nil
		r.announce(ctx, p.to, p.live, p.pulled, p.most, p.states)
	}
}

// announce pushes and pulls state with the addresses of to that were
// live members when the node first had other members, and that it has
// not exchanged state with yet: chosen at random, r.workers at a time,
// and at most states/len(live) push-pulls in all, the joins before it
// included, and at most most if most is above 0.
//
// Why: a node that starts late, into a cluster that has formed, gets
// the whole view from its first join, but the others learn of it only by
// gossip, one round (200 ms at LAN defaults) per hop; memberlist's own
// Join of the listed set pushes the node's state to every listed peer,
// so each of them knows it at once. Why it does not bring back the join
// storm: the push-pulls go only to members of the view at that moment.
// The budget is in member states, so a node pushes and pulls at most
// about states states (announceStates, or formedAnnounceStates into a
// formed cluster) once per start, whatever N is, where
// memberlist's Join of the list pushes and pulls N states with each of N
// peers: N² per node, N³ in a join storm.
func (r *Loop) announce(ctx context.Context, to []string, live, pulled map[string]bool, most, states int) {
	var cands []string
	for _, a := range to {
		if live[a] && !pulled[a] {
			cands = append(cands, a)
		}
	}
	r.rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	n := max(0, states/len(live)-len(pulled))
	if most > 0 {
		n = min(n, most)
	}
	cands = cands[:min(len(cands), n)]
	errs := make([]error, len(cands))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(max(1, r.workers), len(cands)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = r.dist.Connect(ctx, cands[i])
			}
		})
	}
	sent := 0
	for ; sent < len(cands) && ctx.Err() == nil; sent++ {
		next <- sent
	}
	close(next)
	wg.Wait()
	for i, a := range cands[:sent] { // observed here: the Observer is not told concurrently
		r.obs.Connected(a, errs[i])
		r.logger.Debug("announced to a listed member", "addr", a, "err", errs[i])
	}
}

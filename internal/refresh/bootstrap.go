package refresh

import (
	"context"
	"time"
)

// The decisions that make a join storm (many nodes starting at once)
// converge fast without overloading anyone. docs/benchmarks.md, section 6,
// has the measurements that chose them.

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

// joinOneByOne joins the candidates take hands out one at a time, as long
// as the joins succeed, and reports whether it got through them all. A
// join that succeeds pulls in the cluster behind that peer, so most of
// the remaining candidates are members after it: joining them in parallel
// would mostly push and pull states that add nothing, and in a join storm
// hundreds of redundant full-state exchanges at once are what overloads
// the nodes. At the first failure it stops, and the caller joins the rest
// r.workers at a time, so that dead addresses (which fail only after a
// timeout) do not hold up the others.
func (r *Loop) joinOneByOne(ctx context.Context, take func() (string, bool), join func(string) bool) bool {
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
func (r *Loop) recentlyLive(addr string, now time.Time) bool {
	t, ok := r.lastLive[addr]
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
// pulls state with, each (pullFewSeeds).
const fewSeeds = 8

// pullFewSeeds runs once, when the node first has other live members: if
// discovery lists at most fewSeeds addresses (a retry_join list of static
// seeds, or a small cluster), it pushes and pulls state with every listed
// live address it has not exchanged state with yet, as memberlist's own
// Join of that list does.
//
// Why: joining one seed and skipping the others (they are members once
// that join has pulled in the seed's view) leaves the node to learn of
// every later member by gossip, and memberlist retransmits a broadcast a
// bounded number of times, to the members the sender knew then. In a
// join storm the senders' views are small, and some alive messages never
// reach a node that joined early: it then lacks those members until its
// next periodic push-pull, a minute at N = 40 (docs/benchmarks.md,
// section 6); with a few static seeds, discovery never lists the others,
// so the refresh loop cannot repair that. And a node that pushes its
// state to every listed peer is known to each of them at once, instead
// of one gossip round per hop later. Above fewSeeds addresses, one
// push-pull: discovery lists (nearly) every node, the refresh loop joins
// any listed address that is not a member, and a push-pull with each of
// N addresses, N² in a storm, is what overloaded 150 to 200 nodes
// starting together (section 6, rule 1). The cost is bounded: at most
// fewSeeds push-pulls per node, once.
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
}

package refresh

import (
	"context"
	"time"

	"github.com/gencluster/gencluster/membership"
)

// Early anti-entropy. memberlist spreads news of a member by gossip,
// retransmitting each message a bounded number of times
// (RetransmitMult * ceil(log10(n+1)), n being the sender's member count
// then) to random members the sender knows; in a join storm the senders
// know few members, and some messages die out before they reach a node:
// that node then lacks those members until its next periodic push-pull,
// 30 s to 2 minutes later (memberlist scales the interval up above 32
// members). Discovery repairs this only for the addresses it lists; with
// a few static seeds nothing does. So a node, once it has joined,
// waits until its member list has stopped changing for
// antiEntropyQuiet (plus a jitter), the time a gossip message lives (about 0.5 s at
// LAN defaults below 100 members, 0.8 s below 1000), and then pushes and
// pulls state with one random live member: whatever gossip did not bring
// it by then, it never will. It does this antiEntropyPulls times, with
// different members, and never again: the cost is bounded (two
// push-pulls per node per start), while a node that missed a member
// would otherwise wait a minute. docs/benchmarks.md, section 6, has the
// measurements.
const (
	antiEntropyQuiet = time.Second
	antiEntropyPulls = 2
	// antiEntropyPoll is how often the member list is looked at while
	// an anti-entropy push-pull is pending.
	antiEntropyPoll = 200 * time.Millisecond
)

// antiEntropy is the early anti-entropy's state.
type antiEntropy struct {
	quiet      time.Duration
	wait       time.Duration // quiet plus jitter, drawn at every change
	left       int           // push-pulls still to make
	count      int           // live members at the last look
	quietSince time.Time
	done       map[string]bool // members pushed and pulled with
}

func newAntiEntropy(quiet time.Duration) antiEntropy {
	ae := antiEntropy{quiet: quiet, left: antiEntropyPulls, done: make(map[string]bool)}
	switch {
	case quiet == 0:
		ae.quiet = antiEntropyQuiet
	case quiet < 0:
		ae.left = 0
	}
	return ae
}

// antiEntropyStep makes an anti-entropy push-pull if one is due, and
// returns when to look again (ok false: nothing is pending any more).
func (r *Loop) antiEntropyStep(ctx context.Context, now time.Time) (next time.Time, ok bool) {
	ae := &r.ae
	if ae.left == 0 || ctx.Err() != nil {
		return time.Time{}, false
	}
	if !r.bootstrapped {
		return now.Add(antiEntropyPoll), true
	}
	others := r.liveOthers()
	if len(others) != ae.count || ae.quietSince.IsZero() {
		r.quietFrom(len(others), now)
	}
	if now.Sub(ae.quietSince) < ae.wait {
		return now.Add(min(antiEntropyPoll, ae.quietSince.Add(ae.wait).Sub(now))), true
	}
	var cands []string
	for _, m := range others {
		if !ae.done[m.Addr] {
			cands = append(cands, m.Addr)
		}
	}
	if len(cands) == 0 {
		ae.left = 0 // pushed and pulled with every member there is
		return time.Time{}, false
	}
	a := cands[r.rand.IntN(len(cands))]
	ae.done[a] = true
	ae.left--
	err := r.dist.Connect(ctx, a)
	r.obs.Connected(a, err)
	r.logger.Debug("anti-entropy push-pull", "addr", a, "err", err)
	r.quietFrom(len(r.liveOthers()), time.Now())
	if ae.left == 0 {
		return time.Time{}, false
	}
	return time.Now().Add(antiEntropyPoll), true
}

// quietFrom starts a quiet period at now, with count live members. The
// wait is the quiet time plus up to half of it at random: nodes that
// started together see their member lists settle together, and the
// jitter spreads their push-pulls instead of sending them all at once.
func (r *Loop) quietFrom(count int, now time.Time) {
	ae := &r.ae
	ae.count, ae.quietSince = count, now
	ae.wait = ae.quiet + time.Duration(r.rand.Int64N(int64(ae.quiet/2)+1))
}

// liveOthers returns the live members other than this node.
func (r *Loop) liveOthers() []membership.Member {
	var out []membership.Member
	for _, m := range r.dist.Members() {
		if m.State.Live() && m.Addr != r.self {
			out = append(out, m)
		}
	}
	return out
}

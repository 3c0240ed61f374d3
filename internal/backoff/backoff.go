// Package backoff tracks per-address retry delays: exponential, capped, and
// jittered so that many nodes retrying the same seed spread out.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff: the n-th consecutive failure waits
// Min*2^(n-1), at most Max, scaled by a random factor in [0.5, 1) ("equal
// jitter": never less than half the delay, so a dead peer is not hammered,
// yet spread out so a join storm does not synchronise).
type Policy struct {
	Min, Max time.Duration
}

// Delay returns the wait after the given number of consecutive failures
// (at least 1), with jitter drawn from r.
func (p Policy) Delay(failures int, r *rand.Rand) time.Duration {
	d := p.Min
	for i := 1; i < failures && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + time.Duration(r.Int64N(int64(d-half)+1))
}

// Tracker remembers, per key, the consecutive failures and when the key may
// be tried again. It is not safe for concurrent use.
type Tracker struct {
	policy Policy
	rand   *rand.Rand
	state  map[string]entry
}

type entry struct {
	failures int
	next     time.Time
}

// NewTracker returns a Tracker for p, with its own random source.
func NewTracker(p Policy, seed uint64) *Tracker {
	return &Tracker{policy: p, rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), state: make(map[string]entry)}
}

// Due reports whether key may be tried at now.
func (t *Tracker) Due(key string, now time.Time) bool {
	e, ok := t.state[key]
	return !ok || !now.Before(e.next)
}

// Failed records a failure at now and returns the delay until the next try.
func (t *Tracker) Failed(key string, now time.Time) time.Duration {
	return t.FailedFrom(key, now, t.policy.Min, 1)
}

// FailedFrom records a failure at now, as Failed does, but with delays
// that start from first instead of the policy's Min (never above it):
// the first times consecutive failures each wait first (with jitter),
// and the delay doubles from there, capped at Max. It returns the delay
// until the next try. The failure counts toward key's backoff either way.
func (t *Tracker) FailedFrom(key string, now time.Time, first time.Duration, times int) time.Duration {
	e := t.state[key]
	e.failures++
	p := t.policy
	p.Min = min(first, p.Min)
	d := p.Delay(max(1, e.failures-max(0, times-1)), t.rand)
	e.next = now.Add(d)
	t.state[key] = e
	return d
}

// Succeeded forgets key's failures.
func (t *Tracker) Succeeded(key string) { delete(t.state, key) }

// Failures returns key's consecutive failures.
func (t *Tracker) Failures(key string) int { return t.state[key].failures }

// Next returns the earliest time a failed key may be tried again, and false
// when no key is waiting.
func (t *Tracker) Next() (time.Time, bool) {
	var (
		first time.Time
		ok    bool
	)
	for _, e := range t.state {
		if !ok || e.next.Before(first) {
			first, ok = e.next, true
		}
	}
	return first, ok
}

// Retain forgets every key not in keep, so addresses that left discovery do
// not accumulate.
func (t *Tracker) Retain(keep map[string]bool) {
	for k := range t.state {
		if !keep[k] {
			delete(t.state, k)
		}
	}
}

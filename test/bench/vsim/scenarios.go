package vsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// start starts every member at the same virtual instant and waits until
// each lists all N.
func (r *run) start() (Phase, error) {
	// Addresses are known before anyone starts (the baseline's seed list
	// is static configuration); a dial to a member that has not started
	// yet waits for it, as a SYN waits in a listening socket's backlog.
	trs := make([]*Transport, r.o.N)
	for i := range trs {
		tr, err := r.net.NewTransport()
		if err != nil {
			return Phase{}, err
		}
		trs[i] = tr
	}
	for i := range min(r.o.RawSeeds, r.o.N) {
		r.rawSeeds = append(r.rawSeeds, trs[i].Addr())
	}
	for i := range min(r.o.GSeeds, r.o.N) {
		r.gSeeds = append(r.gSeeds, trs[i].Addr())
	}
	r.fails.expectNone()
	t0, w0 := time.Now(), realNow()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		last time.Time // the last member's start
	)
	rng := rand.New(rand.NewPCG(r.o.Seed, 0x5eed))
	delays := make([]time.Duration, len(trs))
	r.spy = -1
	for i := range delays {
		if r.o.Spread > 0 {
			delays[i] = time.Duration(rng.Int64N(int64(r.o.Spread)))
			if r.spy < 0 || delays[i] > delays[r.spy] {
				r.spy = i
			}
		}
	}
	for i, tr := range trs {
		delay := delays[i]
		wg.Go(func() {
			time.Sleep(delay)
			mu.Lock()
			if now := time.Now(); now.After(last) {
				last = now
			}
			mu.Unlock()
			n, err := r.startNode(i, tr, r.o.N)
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("member %d: %w", i, err))
				mu.Unlock()
				return
			}
			r.set(i, n)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Phase{}, err
	}
	p := r.await(r.live(), t0, w0, func(s sighting) (time.Time, bool) { return s.fullAt, s.full })
	if p.OK {
		p.AfterLast = max(t0.Add(p.Took).Sub(last), 0)
	}
	r.logSpy(last)
	return p, nil
}

// crashOne crashes one member (not a seed of the baseline) and waits until
// every survivor reported it failed.
func (r *run) crashOne() Phase {
	victim := r.o.N / 2
	v := r.live()[victim]
	var survivors []*node
	for _, n := range r.live() {
		if n != v {
			survivors = append(survivors, n)
			n.trk.setWatch(victim)
			n.trk.setWant(r.o.N - 1)
		}
	}
	r.fails.expect(func(_, m int) bool { return m == victim })
	r.sleepToCrashPhase()
	t0, w0 := time.Now(), realNow()
	r.crash(v)
	r.set(victim, nil)
	p := r.await(survivors, t0, w0, func(s sighting) (time.Time, bool) { return s.failAt, !s.failAt.IsZero() })
	r.fails.expectNone()
	return p
}

// rollingRestart replaces k members one after the other, from the highest
// number down (the baseline's seeds are the lowest): each leaves
// gracefully and a new member with its name and a new address starts
// (timed from that start);
// the next goes once every member lists the new one and the new one lists
// every member (a rollout waits for readiness). The phase's times are per
// restart.
func (r *run) rollingRestart(k int) (Phase, error) {
	p := Phase{Ran: true, OK: true}
	w0 := realNow()
	var took []time.Duration
	for i := r.o.N - 1; len(took) < k && i >= 0; i-- {
		old := r.live()
		var n *node
		for _, x := range old {
			if x.idx == i {
				n = x
			}
		}
		if n == nil {
			continue // the crashed member
		}
		want := len(old)
		var others []*node
		for _, x := range old {
			if x != n {
				others = append(others, x)
				x.trk.setWatch(i)
			}
		}
		r.fails.expect(func(_, m int) bool { return m == i })
		r.leave(n)
		r.set(i, nil)
		t0, ws := time.Now(), realNow()
		tr, err := r.net.NewTransport()
		if err != nil {
			return p, err
		}
		nn, err := r.startNode(i, tr, want)
		if err != nil {
			return p, fmt.Errorf("restart of member %d: %w", i, err)
		}
		r.set(i, nn)
		step := r.await(append(others, nn), t0, ws, func(s sighting) (time.Time, bool) {
			if s.watched {
				return s.joinAt, s.sees && !s.joinAt.IsZero()
			}
			return s.fullAt, s.full
		})
		took = append(took, step.Took)
		if !step.OK {
			p.OK = false
			break
		}
	}
	r.fails.expectNone()
	p.Took, p.Median, p.P90 = maxDuration(took), quantileOf(took, 0.5), quantileOf(took, 0.9)
	p.Wall = realNow().Sub(w0)
	return p, nil
}

// partition cuts the live members into two halves until each half lists
// only itself, keeps the cut for memberlist's GossipToTheDeadTime more
// (after it memberlist no longer gossips to the members it declared dead,
// so only a new join reconnects the halves), heals it and waits until
// every member lists all again.
func (r *run) partition() (split, heal Phase) {
	nodes := r.live()
	half := len(nodes) / 2
	side := make(map[int]int, len(nodes))
	var a, b []string
	for i, n := range nodes {
		if i < half {
			side[n.idx] = 1
			a = append(a, n.tr.Addr())
			n.trk.setWant(half)
		} else {
			side[n.idx] = 2
			b = append(b, n.tr.Addr())
			n.trk.setWant(len(nodes) - half)
		}
		n.trk.setWatch(-1)
	}
	r.fails.expect(func(obs, m int) bool { return side[obs] != side[m] })
	t0, w0 := time.Now(), realNow()
	r.net.Partition(a, b)
	split = r.await(nodes, t0, w0, func(s sighting) (time.Time, bool) { return s.fullAt, s.full })
	if !split.OK {
		r.net.Heal()
		return split, Phase{}
	}
	time.Sleep(gossipToTheDead + time.Second)
	for _, n := range nodes {
		n.trk.setWant(len(nodes))
	}
	// A failure reported after the heal is a false one, but the halves'
	// last suspicions of each other may still be running out: give them
	// no grace, and count them.
	r.fails.expectNone()
	t1, w1 := time.Now(), realNow()
	r.net.Heal()
	heal = r.await(nodes, t1, w1, func(s sighting) (time.Time, bool) { return s.fullAt, s.full })
	return split, heal
}

// probeInterval is memberlist's DefaultLANConfig ProbeInterval, the
// profile of both implementations.
const probeInterval = time.Second

// sleepToCrashPhase waits until the run's virtual clock is at a phase of
// the probe interval drawn from the seed. Members started at one virtual
// instant probe on one grid of whole intervals (memberlist's random
// stagger delays the first read of its ticker, not the ticker), so where
// the crash falls on that grid moves its detection by up to an interval:
// a crash just after a probe tick waits a whole interval to be probed.
// Without this, the crash came at the end of the start plus the quiet
// time, whose phase depends on the implementation (gencluster forms a few
// milliseconds after a whole interval, so its crashes waited about 1 s;
// the baseline joining one seed ends at a random phase, about 0.5 s):
// measured at N=100, 40 seeds, that alone put gencluster's detection
// 0.2 s behind the baseline's at the median. With the same seed every
// implementation and seeding now crashes at the same phase.
func (r *run) sleepToCrashPhase() {
	rng := rand.New(rand.NewPCG(r.o.Seed, 0xc4a54))
	phase := time.Duration(rng.Int64N(int64(probeInterval)))
	at := time.Since(r.t0) % probeInterval
	time.Sleep((phase - at + probeInterval) % probeInterval)
}

// gossipToTheDead is memberlist's DefaultLANConfig GossipToTheDeadTime.
const gossipToTheDead = 30 * time.Second

func maxDuration(s []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range s {
		m = max(m, d)
	}
	return m
}

// logSpy logs when the last member to start listed all N, and when each
// other member first listed it (median and slowest, after its start):
// whether the slowest node waited for the newcomer or for someone else.
func (r *run) logSpy(last time.Time) {
	if r.spy < 0 {
		return
	}
	var seen []time.Duration
	var own time.Duration
	for _, n := range r.live() {
		s := n.trk.look()
		n.trk.mu.Lock()
		at := n.trk.spyAt
		n.trk.mu.Unlock()
		switch {
		case n.idx == r.spy:
			own = s.fullAt.Sub(last)
		case !at.IsZero():
			seen = append(seen, at.Sub(last))
		}
	}
	r.o.Logf("start: the last member to start (%s) listed all N %v after its start; the others listed it after median %v, slowest %v (%d of %d)",
		nodeName(r.spy), own.Round(time.Millisecond), quantileOf(seen, 0.5).Round(time.Millisecond), quantileOf(seen, 1).Round(time.Millisecond), len(seen), len(r.live())-1)
}

package vsim

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// tracker follows one node's view from its membership events. Members are
// numbered (a restarted node keeps its number), so the view is a bitset:
// at 5,000 nodes a map per node would cost more than memberlist itself.
type tracker struct {
	sim *run
	tr  *Transport // the node's, charged for each member it learns
	obs int        // this node's number

	mu     sync.Mutex
	alive  []uint64
	count  int
	want   int
	fullAt time.Time // when count last became want; zero while it is not
	// The member the scenario watches (a crashed or restarted node), when
	// this node last saw it join, and when it last saw it fail.
	watch  int
	joinAt time.Time
	failAt time.Time
	spyAt  time.Time // when this node first listed the run's spy member
}

func newTracker(s *run, tr *Transport, obs, size, want int) *tracker {
	return &tracker{sim: s, tr: tr, obs: obs, alive: make([]uint64, (size+63)/64), want: want, watch: -1}
}

func (t *tracker) has(i int) bool { return t.alive[i/64]&(1<<(i%64)) != 0 }

func (t *tracker) joined(i int) {
	if i < 0 {
		return
	}
	t.mu.Lock()
	learned := !t.has(i)
	if learned {
		t.alive[i/64] |= 1 << (i % 64)
		t.count++
		t.checkFull()
	}
	if i == t.watch {
		t.joinAt = time.Now()
	}
	if i == t.sim.spy && t.spyAt.IsZero() {
		t.spyAt = time.Now()
	}
	t.mu.Unlock()
	if learned {
		t.tr.Learned()
	}
}

// gone records that member i left (failed false: a graceful leave) or
// failed.
func (t *tracker) gone(i int, failed bool) {
	if i < 0 {
		return
	}
	t.mu.Lock()
	if t.has(i) {
		t.alive[i/64] &^= 1 << (i % 64)
		t.count--
		t.checkFull()
	}
	if i == t.watch && failed {
		t.failAt = time.Now()
	}
	t.mu.Unlock()
	if failed {
		t.sim.failed(t.obs, i)
	}
}

// checkFull keeps fullAt; t.mu is held.
func (t *tracker) checkFull() {
	switch {
	case t.count != t.want:
		t.fullAt = time.Time{}
	case t.fullAt.IsZero():
		t.fullAt = time.Now()
	}
}

// setWant sets the view size that counts as complete.
func (t *tracker) setWant(want int) {
	t.mu.Lock()
	t.want = want
	t.checkFull()
	t.mu.Unlock()
}

// setWatch makes member i the watched one and forgets earlier sightings.
func (t *tracker) setWatch(i int) {
	t.mu.Lock()
	t.watch = i
	t.joinAt, t.failAt = time.Time{}, time.Time{}
	t.mu.Unlock()
}

// sighting is what a tracker saw, for the scenario's checks.
type sighting struct {
	full    bool      // the view has want members
	fullAt  time.Time // since when
	watched bool      // the tracker watches a member
	sees    bool      // the watched member is live
	joinAt  time.Time // the watched member last joined
	failAt  time.Time // the watched member last failed
}

func (t *tracker) look() sighting {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := sighting{full: t.count == t.want, fullAt: t.fullAt, watched: t.watch >= 0, joinAt: t.joinAt, failAt: t.failAt}
	if s.watched {
		s.sees = t.has(t.watch)
	}
	return s
}

// expectFn says whether observer obs may report member m failed in the
// current phase; a failure it does not expect is a false failure.
type expectFn func(obs, m int) bool

// failures counts fail events, expected and false, over a run.
type failures struct {
	expected atomic.Pointer[expectFn]
	count    atomic.Int64
	mu       sync.Mutex
	first    []string // the first few false failures
}

func (f *failures) expect(fn expectFn) { f.expected.Store(&fn) }
func (f *failures) expectNone()        { f.expected.Store(nil) }

func (f *failures) falseCount() int64 { return f.count.Load() }

func (f *failures) firstFalse() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.first)
}

// failed is called when observer obs saw member m fail.
func (r *run) failed(obs, m int) {
	if fn := r.fails.expected.Load(); fn != nil && (*fn)(obs, m) {
		return
	}
	r.fails.count.Add(1)
	r.fails.mu.Lock()
	if len(r.fails.first) < 10 {
		r.fails.first = append(r.fails.first, fmt.Sprintf("at %v: %s reported %s failed", time.Since(r.t0).Round(time.Millisecond), nodeName(obs), nodeName(m)))
	}
	r.fails.mu.Unlock()
}

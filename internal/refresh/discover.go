package refresh

import (
	"context"
	"maps"
	"time"
)

// answer is one backend's reply to one discovery.
type answer struct {
	backend int
	addrs   []string
	err     error
	took    time.Duration
}

// discoverAndJoin asks every backend at once, each with its own timeout,
// and joins what each one found as soon as it answers: a backend that
// hangs until its timeout (a Kubernetes API that does not answer, a DNS
// server that drops queries) delays neither the others' answers nor the
// joins of their addresses. Asked one after another, one slow backend
// held up every backend after it by up to the discovery timeout.
//
// The merged addresses keep the backends' order, de-duplicated. A failing
// backend is logged and counted and its addresses are simply missing this
// time: the cluster keeps what it has. It returns once every backend has
// answered (or timed out), so no goroutine outlives the pass.
func (r *Loop) discoverAndJoin(ctx context.Context) (joined, tried bool) {
	answers := make(chan answer, len(r.backends))
	for i, b := range r.backends {
		go func() {
			dctx, cancel := context.WithTimeout(ctx, r.timeout)
			defer cancel()
			start := time.Now()
			addrs, err := b.Discover(dctx)
			answers <- answer{backend: i, addrs: addrs, err: err, took: time.Since(start)}
		}()
	}
	found := make([][]string, len(r.backends))
	stopping := false
	for range r.backends {
		a := <-answers
		found[a.backend] = a.addrs
		r.noteAnswer(ctx, a)
		if ctx.Err() != nil {
			stopping = true
		}
		if stopping {
			continue // drain the others; join nothing more
		}
		r.addrs = mergeAddrs(found)
		j, t := r.connectDue(ctx, true)
		r.pullFewSeeds(ctx)
		joined, tried = joined || j, tried || t
	}
	r.addrs = mergeAddrs(found)
	if stopping {
		return joined, tried
	}
	seen := make(map[string]bool, len(r.addrs))
	for _, a := range r.addrs {
		seen[a] = true
	}
	r.retry.Retain(seen)
	r.lastLive.retain(r.addrs, seen)
	maps.DeleteFunc(r.aliases, func(a string, _ int) bool { return !seen[a] })
	return joined, tried
}

// noteAnswer observes and logs one backend's answer.
func (r *Loop) noteAnswer(ctx context.Context, a answer) {
	name := r.backends[a.backend].Name
	r.obs.Discovered(name, len(a.addrs), a.took, a.err)
	switch {
	case a.err != nil && ctx.Err() != nil:
		// stopping; not the backend's fault
	case a.err != nil:
		r.logger.Warn("discovery failed", "backend", name, "found", len(a.addrs), "err", a.err)
	default:
		r.logger.Debug("discovered", "backend", name, "found", len(a.addrs), "took", a.took)
	}
}

// mergeAddrs returns the union of the backends' addresses, in backend
// order, de-duplicated.
func mergeAddrs(found [][]string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, addrs := range found {
		for _, a := range addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

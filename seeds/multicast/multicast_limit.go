package multicast

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Per-source rate limit of received multicast packets.
const (
	// mcMaxSources bounds the source addresses tracked, so that a flood
	// from spoofed addresses cannot grow the table without bound.
	mcMaxSources = 4096
	// mcSrcBurst is the packets a source may send at once, refilled at
	// mcSrcBurst per announce interval: room for 64 nodes behind one
	// address.
	mcSrcBurst = 64
)

// sourceLimits is a token bucket (golang.org/x/time/rate) per source
// address. It is safe for concurrent use.
type sourceLimits struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	sources map[string]*rate.Limiter
}

// newSourceLimits returns the limits for an announce interval.
func newSourceLimits(interval time.Duration) *sourceLimits {
	limit := rate.Limit(0)
	if interval > 0 {
		limit = rate.Limit(mcSrcBurst / interval.Seconds())
	}
	return newSourceLimitsOf(limit, mcSrcBurst, mcMaxSources)
}

// newSourceLimitsOf returns limits of limit packets a second with burst,
// tracking at most max sources.
func newSourceLimitsOf(limit rate.Limit, burst, max int) *sourceLimits {
	return &sourceLimits{limit: limit, burst: burst, max: max, sources: make(map[string]*rate.Limiter)}
}

// allow takes a token from src's bucket at now. When the table is full it
// first forgets the sources whose buckets are full again (a new limiter for
// them would be the same); if none is, a new source is refused.
func (l *sourceLimits) allow(src string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.sources[src]
	if lim == nil {
		if len(l.sources) >= l.max {
			for k, v := range l.sources {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.sources, k)
				}
			}
			if len(l.sources) >= l.max {
				return false
			}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.sources[src] = lim
	}
	return lim.AllowN(now, 1)
}

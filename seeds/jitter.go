package seeds

import (
	"context"
	mrand "math/rand/v2"
	"time"
)

// everyJittered runs f now, then again and again after a pause of interval
// give or take 20%, until ctx ends. The jitter keeps nodes started
// together (a rollout) from announcing or browsing in lockstep.
func everyJittered(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f()
		t.Reset(time.Duration(float64(interval) * (0.8 + 0.4*mrand.Float64())))
	}
}

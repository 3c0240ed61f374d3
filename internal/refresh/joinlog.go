package refresh

import (
	"context"
	"log/slog"
	"time"

	"github.com/gencluster/gencluster/internal/joinfail"
)

// joinFailed records a failed join of a and logs it, on one line with the
// address once (joinfail.Flatten), and with the backoff: on the first
// failure, then only when the count of failures is a power of two, or the
// failure is of another kind than the last one logged, and never twice in
// one refresh interval. A seed that keeps
// failing is logged about log2(n) times in n tries at Info, not n times;
// the other tries are Debug records with the same message and keys, for
// whoever needs every one (the benchmarks count them). wait is the
// backoff before the next try.
func (r *Loop) joinFailed(a string, err error, wait time.Duration, now time.Time) {
	f := r.watch.failing[a]
	if f == nil {
		f = &failing{since: now}
		r.watch.failing[a] = f
	}
	f.err = err
	je := joinfail.Wrap(a, err)
	n := r.retry.Failures(a)
	level := slog.LevelInfo
	if n&(n-1) != 0 && je.Kind == f.logged || now.Sub(f.loggedAt) < r.interval {
		level = slog.LevelDebug
	}
	if level == slog.LevelInfo {
		f.logged, f.loggedAt = je.Kind, now
	}
	r.logger.Log(context.Background(), level, "join failed", "addr", a, "diagnosis", je.Kind.String(), "err", je.Cause,
		"advice", je.Kind.Advice(r.alone()), "failures", n, "retry_in", wait.Round(time.Millisecond))
}

// joinSucceeded forgets the failures of a, just joined, and says so when
// there were any.
func (r *Loop) joinSucceeded(a string) {
	if f := r.retry.Failures(a); f > 0 {
		r.logger.Info("joined after failed attempts", "addr", a, "failures", f)
	} else {
		r.logger.Debug("joined", "addr", a)
	}
	delete(r.watch.failing, a)
}

package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/gencluster/gencluster"
)

// drain marks the node draining before it leaves (Node.Drain), so that
// every member stops giving it work while it still answers, and logs the
// outcome as one "drained" record: how many members acknowledged, were
// gone, unreachable or timed out, and how long it took. A drain that not
// every member acknowledged within timeout is logged at WARN and the
// node leaves anyway: the leave tells the rest. A timeout of 0 skips it.
//
// A real service would hand off its work here, between Drain and Leave
// (it keeps answering: it is a live member until it leaves).
func drain(node *gencluster.Node, logger *slog.Logger, timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := node.Drain(ctx)
	attrs := []any{
		"acked", res.Count(gencluster.DrainAcked),
		"gone", res.Count(gencluster.DrainGone),
		"unreachable", res.Count(gencluster.DrainUnreachable),
		"timeout", res.Count(gencluster.DrainTimeout),
		"elapsed_ms", time.Since(start).Milliseconds(),
	}
	if err != nil {
		attrs = append(attrs, "not_acked", strings.Join(res.NotAcked(), ","), "err", err)
		logger.Warn("drained", attrs...)
		return
	}
	logger.Info("drained", attrs...)
}

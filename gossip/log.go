package gossip

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"
)

// logBridge turns memberlist's log.Logger lines, which carry a level as a
// "[DEBUG]", "[INFO]", "[WARN]" or "[ERR]" prefix, into slog records at the
// matching level.
//
// memberlist's refusals of nodes that cannot join (another key or label)
// are condensed by rejects, see rejectlog.go.
//
// Once the Gossip shuts down, memberlist's goroutines that were still
// sending fail with "use of closed network connection", and its dials
// still pending (a push/pull) with "operation was canceled" (the
// transport cancels them at Shutdown), and log it as an error; that is
// the shutdown, not a fault, so those lines become debug records.
type logBridge struct {
	logger   *slog.Logger
	stopping atomic.Bool
	rejects  *rejectLog // nil: memberlist's refusals are passed through
}

func (b *logBridge) std() *log.Logger { return log.New(b, "", 0) }

// Write handles one line from memberlist. It never fails: a log line must
// not break gossip.
func (b *logBridge) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	level := slog.LevelInfo
	for _, l := range []struct {
		prefix string
		level  slog.Level
	}{
		{"[DEBUG]", slog.LevelDebug},
		{"[INFO]", slog.LevelInfo},
		{"[WARN]", slog.LevelWarn},
		{"[ERR]", slog.LevelError},
		{"[ERROR]", slog.LevelError},
	} {
		if i := strings.Index(line, l.prefix); i >= 0 {
			level = l.level
			line = strings.TrimSpace(line[i+len(l.prefix):])
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	if level > slog.LevelDebug && b.rejects != nil && b.rejects.handle(b.logger, line) {
		return len(p), nil
	}
	if level > slog.LevelDebug && b.stopping.Load() && isShutdownNoise(line) {
		level = slog.LevelDebug
	}
	b.logger.Log(context.Background(), level, line, "component", "memberlist")
	return len(p), nil
}

// isShutdownNoise reports the errors this node's own shutdown causes in
// memberlist's goroutines: a closed socket, or a dial the transport
// cancelled (see transport.Shutdown).
func isShutdownNoise(line string) bool {
	return strings.Contains(line, "use of closed network connection") ||
		strings.Contains(line, "operation was canceled")
}

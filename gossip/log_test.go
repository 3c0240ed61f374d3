package gossip

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

type captured struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

type captureHandler struct {
	mu   sync.Mutex
	recs []captured
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	c := captured{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { c.attrs[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, c)
	h.mu.Unlock()
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

func TestLogBridgeLevels(t *testing.T) {
	for _, c := range []struct {
		line  string
		level slog.Level
		msg   string
	}{
		{"2026/11/26 23:00:00 [DEBUG] memberlist: Stream connection from=127.0.0.1:1\n", slog.LevelDebug, "Stream connection from=127.0.0.1:1"},
		{"[INFO] memberlist: Marking n-1 as failed, suspect timeout reached (0 peer confirmations)\n", slog.LevelInfo, "Marking n-1 as failed, suspect timeout reached (0 peer confirmations)"},
		{"[WARN] memberlist: Was able to connect to n-2 over TCP but UDP probes failed\n", slog.LevelWarn, "Was able to connect to n-2 over TCP but UDP probes failed"},
		{"[ERR] memberlist: Failed to send ping: write: broken pipe\n", slog.LevelError, "Failed to send ping: write: broken pipe"},
		{"[ERROR] memberlist: something\n", slog.LevelError, "something"},
		{"no prefix at all\n", slog.LevelInfo, "no prefix at all"},
	} {
		h := &captureHandler{}
		b := &logBridge{logger: slog.New(h)}
		b.std().Print(c.line)
		if len(h.recs) != 1 {
			t.Fatalf("%q: %d records", c.line, len(h.recs))
		}
		r := h.recs[0]
		if r.level != c.level || r.msg != c.msg || r.attrs["component"] != "memberlist" {
			t.Errorf("%q -> %v %q %v; want %v %q component=memberlist", c.line, r.level, r.msg, r.attrs, c.level, c.msg)
		}
	}
}

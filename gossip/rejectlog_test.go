package gossip

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// TestRejectLogOncePerInterval feeds memberlist's refusal lines (as it
// logs them for a node retrying its join with another key or label) to
// the log bridge: one Warn per host per interval, with the advice of the
// side that reads it; other lines pass through.
func TestRejectLogOncePerInterval(t *testing.T) {
	h := testutil.NewRecordHandler()
	alone := false
	b := &logBridge{logger: slog.New(h), rejects: newRejectLog(time.Hour)}
	b.rejects.alone = func() bool { return alone }
	for i := range 5 {
		_, _ = b.Write([]byte("2026/12/06 [ERR] memberlist: failed to receive: no installed keys could decrypt the message from=10.0.0.9:4100" + string(rune('0'+i)) + "\n"))
		_, _ = b.Write([]byte("[ERR] memberlist: discarding stream with unacceptable label \"x\": from=10.0.0.8:5000\n"))
	}
	_, _ = b.Write([]byte("[ERR] memberlist: failed to receive: EOF from=10.0.0.7:1\n"))
	var recs []slog.Record
	for _, r := range h.Records() {
		if r.Level > slog.LevelDebug {
			recs = append(recs, r)
		}
	}
	if len(recs) != 3 {
		for _, r := range recs {
			t.Log(r.Level, r.Message)
		}
		t.Fatalf("%d records, want one per refused host and the other line", len(recs))
	}
	for _, want := range []struct{ addr, diag string }{{"10.0.0.9", "key mismatch"}, {"10.0.0.8", "label mismatch"}} {
		got, ok := h.Find(slog.LevelWarn, "refused gossip from a node that cannot join this one", map[string]string{"addr": want.addr, "diagnosis": want.diag})
		if !ok || !strings.Contains(got["advice"], "nothing to change on this node") {
			t.Errorf("no Warn for %s (%s) with the healthy side's advice: %v", want.addr, want.diag, got)
		}
	}
	if _, ok := h.Find(slog.LevelError, "failed to receive: EOF from=10.0.0.7:1", nil); !ok {
		t.Error("an unrelated memberlist ERROR was not passed through")
	}
	// A node alone is told it is the one to change.
	alone = true
	b.rejects.last = map[string]rejected{}
	_, _ = b.Write([]byte("[ERR] memberlist: failed to receive: no installed keys could decrypt the message from=10.0.0.6:1\n"))
	if got, ok := h.Find(slog.LevelWarn, "refused gossip from a node that cannot join this one", map[string]string{"addr": "10.0.0.6"}); !ok || !strings.Contains(got["advice"], "restart this node") {
		t.Errorf("a node alone got %v", got)
	}
}

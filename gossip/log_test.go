package gossip

import (
	"log/slog"
	"testing"
	"time"
)

// TestLogBridgeCancelledDialIsShutdownNoise: a push/pull whose dial the
// transport cancelled at Shutdown is logged by memberlist as an error
// ("Push/Pull with x failed: dial tcp ...: operation was canceled"). Once
// the Gossip stops, that is this node's own shutdown, as a closed socket
// is: a debug record. Before, every node of a cluster stopping at once
// could log it at Error. Not stopping, it keeps its level.
func TestLogBridgeCancelledDialIsShutdownNoise(t *testing.T) {
	// The error a dial gets from the transport's cancelled context.
	tr, _, err := newTransport("127.0.0.1", 0, &logBridge{logger: slog.New(&recordHandler{})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Shutdown(); err != nil {
		t.Fatal(err)
	}
	_, dialErr := tr.DialTimeout("127.0.0.1:1", time.Second)
	if dialErr == nil {
		t.Fatal("a dial after Shutdown succeeded")
	}
	line := "[ERR] memberlist: Push/Pull with b failed: " + dialErr.Error()

	h := &recordHandler{}
	b := &logBridge{logger: slog.New(h)}
	l := b.std()
	l.Print(line)
	b.stopping.Store(true)
	l.Print(line)
	want := []slog.Level{slog.LevelError, slog.LevelDebug}
	if len(h.recs) != len(want) {
		t.Fatalf("%d records, want %d", len(h.recs), len(want))
	}
	for i, w := range want {
		if h.recs[i].Level != w {
			t.Errorf("record %d (%s): level %v, want %v", i, h.recs[i].Message, h.recs[i].Level, w)
		}
	}
}

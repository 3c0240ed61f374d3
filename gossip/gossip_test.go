package gossip

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/internal/view"
	"github.com/gencluster/gencluster/membership"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []map[string]string{
		nil,
		{"zone": "eu-1"},
		{"a": "", "b": "ü→", "version": "1.4.2"},
	} {
		b, err := EncodeMeta(m)
		if err != nil {
			t.Fatalf("EncodeMeta(%v): %v", m, err)
		}
		got, _, _, err := decodeMeta(b)
		if err != nil {
			t.Fatalf("decodeMeta: %v", err)
		}
		if len(got) != len(m) {
			t.Fatalf("round trip of %v gave %v", m, got)
		}
		for k, v := range m {
			if got[k] != v {
				t.Fatalf("round trip of %v gave %v", m, got)
			}
		}
	}
	// Equal maps encode equally (memberlist compares bytes).
	a, _ := EncodeMeta(map[string]string{"x": "1", "y": "2", "z": "3"})
	b, _ := EncodeMeta(map[string]string{"z": "3", "y": "2", "x": "1"})
	if !bytes.Equal(a, b) {
		t.Fatal("encoding depends on map order")
	}
}

func TestMetaRejects(t *testing.T) {
	for _, tc := range []struct {
		meta map[string]string
		want string
	}{
		{map[string]string{"": "v"}, "empty"},
		{map[string]string{"k": "\xff"}, "UTF-8"},
		{map[string]string{"\xfe": "v"}, "UTF-8"},
		{map[string]string{"k": strings.Repeat("v", maxMetaSize)}, "limit of 512"},
	} {
		_, err := EncodeMeta(tc.meta)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("EncodeMeta(%.40v) = %v, want an error about %q", tc.meta, err, tc.want)
		}
	}
	for _, b := range [][]byte{
		{9, 0},         // unknown version
		{metaV1},       // no flags byte
		{metaV1, 0, 5}, // key length past the end
		{metaV1, 0, 1, 'k', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // huge varint
	} {
		if _, _, _, err := decodeMeta(b); err == nil {
			t.Errorf("decodeMeta(%x) accepted garbage", b)
		}
	}
	if m, _, _, err := decodeMeta(nil); err != nil || len(m) != 0 {
		t.Errorf("decodeMeta(nil) = %v, %v; want empty (a peer with no metadata)", m, err)
	}
}

// recordHandler keeps slog records for assertions.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// has reports whether a record with message msg was handled.
func (h *recordHandler) has(msg string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r.Message == msg {
			return true
		}
	}
	return false
}

func TestLogBridgeLevels(t *testing.T) {
	h := &recordHandler{}
	l := (&logBridge{logger: slog.New(h)}).std()
	l.Printf("[DEBUG] memberlist: Stream connection from=1.2.3.4:5")
	l.Printf("[INFO] memberlist: hello")
	l.Printf("[WARN] memberlist: Was able to connect to x over TCP but UDP probes failed")
	l.Printf("[ERR] memberlist: Failed to receive: boom")
	l.Printf("no prefix at all")
	want := []struct {
		level slog.Level
		msg   string
	}{
		{slog.LevelDebug, "Stream connection from=1.2.3.4:5"},
		{slog.LevelInfo, "hello"},
		{slog.LevelWarn, "Was able to connect to x over TCP but UDP probes failed"},
		{slog.LevelError, "Failed to receive: boom"},
		{slog.LevelInfo, "no prefix at all"},
	}
	if len(h.recs) != len(want) {
		t.Fatalf("%d records, want %d", len(h.recs), len(want))
	}
	for i, w := range want {
		r := h.recs[i]
		if r.Level != w.level || r.Message != w.msg {
			t.Errorf("record %d = %v %q, want %v %q", i, r.Level, r.Message, w.level, w.msg)
		}
		comp := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "component" {
				comp = a.Value.String()
			}
			return true
		})
		if comp != "memberlist" {
			t.Errorf("record %d: component=%q", i, comp)
		}
	}
}

func fast(mc *memberlist.Config) {
	mc.ProbeInterval = 200 * time.Millisecond
	mc.ProbeTimeout = 100 * time.Millisecond
	mc.GossipInterval = 20 * time.Millisecond
	mc.SuspicionMult = 2
	mc.TCPTimeout = time.Second
}

type sink struct {
	mu  sync.Mutex
	evs []membership.Event
}

func (s *sink) add(ev membership.Event) { s.mu.Lock(); s.evs = append(s.evs, ev); s.mu.Unlock() }
func (s *sink) has(typ membership.EventType, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.evs {
		if ev.Type == typ && ev.Member.Name == name {
			return true
		}
	}
	return false
}

// joinTo connects each of others to a, and waits until a lists them all.
func joinTo(t *testing.T, a *Gossip, others ...*Gossip) {
	t.Helper()
	for _, g := range others {
		if err := g.Connect(context.Background(), a.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return len(a.Members()) == 1+len(others) }, "%d members", 1+len(others))
}

func start(t *testing.T, name string, s *sink) *Gossip {
	t.Helper()
	return startLogged(t, name, s, nil)
}

func startLogged(t *testing.T, name string, s *sink, h slog.Handler) *Gossip {
	t.Helper()
	cfg := Config{Name: name, BindAddr: "127.0.0.1:0", Memberlist: fast, Meta: map[string]string{"who": name}}
	if h != nil {
		cfg.Logger = slog.New(h)
	}
	if s != nil {
		cfg.View = view.New(s.add)
	}
	g, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// TestLogBridgeShutdownNoise: once the Gossip shuts down, memberlist's
// "use of closed network connection" errors are debug records; other
// errors keep their level.
func TestLogBridgeShutdownNoise(t *testing.T) {
	h := &recordHandler{}
	b := &logBridge{logger: slog.New(h)}
	l := b.std()
	l.Printf("[ERR] memberlist: Failed to send gossip to x: write udp: use of closed network connection")
	b.stopping.Store(true)
	l.Printf("[ERR] memberlist: Failed to send gossip to x: write udp: use of closed network connection")
	l.Printf("[ERR] memberlist: Failed to receive: boom")
	want := []slog.Level{slog.LevelError, slog.LevelDebug, slog.LevelError}
	if len(h.recs) != len(want) {
		t.Fatalf("%d records, want %d", len(h.recs), len(want))
	}
	for i, w := range want {
		if h.recs[i].Level != w {
			t.Errorf("record %d (%s): level %v, want %v", i, h.recs[i].Message, h.recs[i].Level, w)
		}
	}
}

// TestAdapterLeaveVersusFail checks the contract at the adapter: connect
// joins, members reports the view with metadata, a Leave is EventLeave
// and a Close is EventFail.
func TestAdapterLeaveVersusFail(t *testing.T) {
	s := &sink{}
	a := start(t, "a", s)
	bLog := &recordHandler{}
	b := startLogged(t, "b", nil, bLog)
	c := start(t, "c", nil)
	ctx := context.Background()
	joinTo(t, a, b, c)
	for _, m := range a.Members() {
		if m.Meta["who"] != m.Name || m.State != membership.StateAlive {
			t.Errorf("member %v: wrong meta or state", m)
		}
	}
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return s.has(membership.EventLeave, "b") }, "leave of b")
	// The direct leave notices reached both members (see tellLeaving).
	if bLog.has("leave notice not delivered") {
		t.Error("b: leave notice not delivered")
	}
	c.Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return s.has(membership.EventFail, "c") }, "fail of c")
	if s.has(membership.EventFail, "b") || s.has(membership.EventLeave, "c") {
		t.Fatal("leave and fail mixed up")
	}
	if err := a.Connect(ctx, "127.0.0.1:1"); err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
}

func TestStartRejects(t *testing.T) {
	for _, cfg := range []Config{
		{BindAddr: "127.0.0.1:0"},
		{Name: "x", BindAddr: "localhost:0"},
		{Name: "x", BindAddr: "127.0.0.1"},
		{Name: "x", BindAddr: "127.0.0.1:0", AdvertiseAddr: "nohost:1"},
		{Name: "x", BindAddr: "127.0.0.1:0", Meta: map[string]string{"": "v"}},
	} {
		if g, err := Start(cfg); err == nil {
			g.Close()
			t.Errorf("Start(%+v) succeeded", cfg)
		}
	}
}

// TestLeavingNoticeWithoutFlag: a member that told this node directly
// that it is leaving (msgLeaving) is reported as a leave even when the
// leaving flag of its metadata never arrived (memberlist's queues drop
// that update when the leave follows it); a notice about a non-member is
// ignored, and a rejoin clears the notice.
func TestLeavingNoticeWithoutFlag(t *testing.T) {
	s := &sink{}
	d := &delegate{view: view.New(s.add), logger: slog.New(slog.DiscardHandler)}
	meta, err := encodeMeta(map[string]string{"k": "v"}, 0, life{boot: 7, start: 1}, metaV2)
	if err != nil {
		t.Fatal(err)
	}
	n := &memberlist.Node{Name: "b", Meta: meta}
	d.NotifyMsg(leavingMsg("b", 7)) // not a member yet: ignored
	d.NotifyJoin(n)
	d.NotifyLeave(n)
	if !s.has(membership.EventFail, "b") {
		t.Fatal("a notice before the join was kept")
	}
	d.NotifyJoin(n)
	d.NotifyMsg(leavingMsg("b", 7))
	d.NotifyMsg([]byte{msgLeaving}) // no name: ignored
	d.NotifyMsg([]byte("xb"))       // another message: ignored
	d.NotifyLeave(n)
	if !s.has(membership.EventLeave, "b") {
		t.Fatal("the leaving notice did not turn the removal into a leave")
	}
	if len(d.leavingPeers) != 0 {
		t.Fatalf("leavingPeers = %v after the leave, want empty", d.leavingPeers)
	}
	d.NotifyJoin(n) // a new incarnation, which fails
	d.NotifyLeave(n)
	s.mu.Lock()
	last := s.evs[len(s.evs)-1]
	s.mu.Unlock()
	if last.Type != membership.EventFail {
		t.Fatalf("after a rejoin: %v, want fail", last.Type)
	}
}

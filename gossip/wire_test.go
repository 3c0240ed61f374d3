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

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// TestMetaV2 checks the compact encoding: the same entries, flags and life
// as metaV1 in 16 bytes less, and the errors a hostile peer's bytes get.
func TestMetaV2(t *testing.T) {
	meta := map[string]string{"zone": "eu-1", "version": "1.4.2"}
	id := life{boot: 0xfeedfacecafebeef, start: 1767225600123}
	v1, err := encodeMeta(meta, flagDraining, id, metaV1)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := encodeMeta(meta, flagDraining, id, metaV2)
	if err != nil {
		t.Fatal(err)
	}
	if len(v1)-len(v2) != 16 || v2[0] != metaV2 {
		t.Fatalf("metaV1 %d bytes, metaV2 %d bytes (version %d): want metaV2 16 bytes shorter", len(v1), len(v2), v2[0])
	}
	for _, b := range [][]byte{v1, v2} {
		m, flags, got, err := decodeMeta(b)
		if err != nil || flags != flagDraining || got != id || m["zone"] != "eu-1" || m["version"] != "1.4.2" || len(m) != 2 {
			t.Fatalf("decodeMeta(version %d) = %v, %d, %+v, %v", b[0], m, flags, got, err)
		}
	}
	// A node with no metadata of its own sends 16 bytes.
	if b, _ := encodeMeta(nil, 0, id, metaV2); len(b) != 16 {
		t.Fatalf("metaV2 of no metadata is %d bytes, want 16", len(b))
	}
	for _, tc := range []struct {
		b    []byte
		want string
	}{
		{append([]byte{metaV2, 0}, make([]byte, 13)...), "truncated in the boot id"},
		{append([]byte{metaV2, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 0, 0, 0, 0, 1), "boot id 0 with start time 1"},
		{append(v2[:16:16], 0, 1, 'v'), "key is empty"},
		{[]byte{3, 0}, "version 3"},
	} {
		if _, _, _, err := decodeMeta(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decodeMeta(%x) = %v, want an error about %q", tc.b, err, tc.want)
		}
	}
	// Metadata is refused unless it fits metaV1, the encoding a node
	// falls back to.
	big := map[string]string{"k": strings.Repeat("v", maxMetaSize-lifeOverhead-5)}
	if _, err := encodeMeta(big, 0, id, metaV2); err == nil {
		t.Fatal("metadata that fits metaV2 but not metaV1 accepted")
	}
	if _, err := encodeMeta(nil, 0, id, 9); err == nil || !strings.Contains(err.Error(), "9") {
		t.Fatalf("encodeMeta(version 9) = %v, want an error naming it", err)
	}
}

// metaSpy wraps a node's EventDelegate and records the encoding of every
// metadata it is given, by node: what a node of an older version would
// have had to decode.
type metaSpy struct {
	memberlist.EventDelegate
	mu   sync.Mutex
	seen map[string][]byte
}

func (s *metaSpy) note(n *memberlist.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = make(map[string][]byte)
	}
	v := byte(0)
	if len(n.Meta) > 0 {
		v = n.Meta[0]
	}
	s.seen[n.Name] = append(s.seen[n.Name], v)
}

func (s *metaSpy) NotifyJoin(n *memberlist.Node)   { s.note(n); s.EventDelegate.NotifyJoin(n) }
func (s *metaSpy) NotifyUpdate(n *memberlist.Node) { s.note(n); s.EventDelegate.NotifyUpdate(n) }

// versions returns the encodings seen for name, in order.
func (s *metaSpy) versions(name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.seen[name])
}

func (s *metaSpy) last(name string) byte {
	v := s.versions(name)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

// startSpied starts a node whose delegate protocol maximum is dmax (0 is
// what gencluster versions before metaV2 advertise) and whose metadata
// callbacks spy records.
func startSpied(t *testing.T, name string, dmax uint8, spy *metaSpy) *Gossip {
	t.Helper()
	g, err := Start(Config{Name: name, BindAddr: "127.0.0.1:0", Meta: map[string]string{"who": name}, Memberlist: func(mc *memberlist.Config) {
		fast(mc)
		mc.DelegateProtocolMax = dmax
		spy.EventDelegate = mc.Events
		mc.Events = spy
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// TestWireFallsBackForOlderMember: a node sends metaV2 among members that
// read it, switches to metaV1 as soon as a member that reads only metaV1
// is live (and keeps it for later metadata updates), and goes back to
// metaV2 no sooner than wireUpDelay after that member left.
func TestWireFallsBackForOlderMember(t *testing.T) {
	const upDelay = 300 * time.Millisecond
	log := &recordHandler{}
	a, err := Start(Config{Name: "a", BindAddr: "127.0.0.1:0", Meta: map[string]string{"zone": "x"}, Memberlist: fast,
		Logger: slog.New(log), wireUpDelay: upDelay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx := context.Background()

	newSpy := &metaSpy{}
	b := startSpied(t, "b", metaV2, newSpy)
	if err := b.Connect(ctx, a.Addr()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return len(b.Members()) == 2 && len(a.Members()) == 2 }, "a and b")
	if v := newSpy.versions("a"); !bytes.Equal(v, bytes.Repeat([]byte{metaV2}, len(v))) {
		t.Fatalf("a member that reads metaV2 saw a's metadata in versions %v", v)
	}

	oldSpy := &metaSpy{}
	old := startSpied(t, "old", 0, oldSpy)
	if err := old.Connect(ctx, a.Addr()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		return a.del.wireSent() == metaV1 && oldSpy.last("a") == metaV1 && newSpy.last("a") == metaV1
	}, "a sending metaV1, and both members seeing it")
	if !log.has("a member runs an older gencluster version: sending metadata in the encoding it reads") {
		t.Error("the switch to metaV1 was not logged")
	}
	// Later updates keep the encoding the older member reads.
	if err := a.UpdateMeta(ctx, map[string]string{"zone": "y"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		m, ok := old.del.lookup("a")
		return ok && m.Meta["zone"] == "y" && oldSpy.last("a") == metaV1
	}, "the older member reading a's update")

	leaving := time.Now() // a may hear of the leave before Leave returns
	if err := old.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return a.del.wireSent() == metaV2 }, "a back on metaV2")
	if d := time.Since(leaving); d < upDelay {
		t.Fatalf("a went back to metaV2 %v after the older member left, before wireUpDelay (%v)", d, upDelay)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		m, ok := b.del.lookup("a")
		return ok && m.Meta["zone"] == "y" && newSpy.last("a") == metaV2 && uint64(m.Boot) == a.del.life.boot
	}, "b reading a's metaV2 with its boot id")
}

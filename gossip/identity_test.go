package gossip

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/internal/view"
	"github.com/gencluster/gencluster/membership"
)

// lifeNode is a memberlist node named name at ip:7946 of life boot.
func lifeNode(t *testing.T, name, ip string, boot uint64, meta map[string]string) *memberlist.Node {
	t.Helper()
	b, err := encodeMeta(meta, 0, life{boot: boot, start: int64(boot)}, metaV2)
	if err != nil {
		t.Fatal(err)
	}
	return &memberlist.Node{Name: name, Addr: net.ParseIP(ip), Port: 7946, Meta: b}
}

func (s *sink) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.evs {
		out = append(out, ev.Type.String()+" "+ev.Member.Name+" "+ev.Member.Boot.String()+" "+ev.Member.State.String())
	}
	return strings.Join(out, ",")
}

func testDelegate(s *sink, h slog.Handler) *delegate {
	if h == nil {
		h = slog.DiscardHandler
	}
	return &delegate{view: view.New(s.add), logger: slog.New(h), self: "me", life: life{boot: 99, start: 99}}
}

// TestRestartIsFailThenJoin: an update that carries another boot id is a
// restart: the old life fails, the new one joins; an update of the same
// life stays an update.
func TestRestartIsFailThenJoin(t *testing.T) {
	s := &sink{}
	d := testDelegate(s, nil)
	d.NotifyJoin(lifeNode(t, "b", "10.0.0.2", 1, nil))
	d.NotifyUpdate(lifeNode(t, "b", "10.0.0.2", 1, map[string]string{"k": "v"}))
	d.NotifyUpdate(lifeNode(t, "b", "10.0.0.2", 2, map[string]string{"k": "v"}))
	want := "join b 0000000000000001 alive,update b 0000000000000001 alive,fail b 0000000000000001 failed,join b 0000000000000002 alive"
	if got := s.summary(); got != want {
		t.Fatalf("events %s\nwant %s", got, want)
	}
	if ms := d.members(); len(ms) != 1 || ms[0].Boot != 2 {
		t.Fatalf("members %v, want b of boot 2", ms)
	}
}

// TestLeavingNoticeOfAnotherLife: a leaving notice that names another
// boot id than the member's (a node that has the member's name) does not
// make the member's removal a leave; one of a version without boot ids
// still does.
func TestLeavingNoticeOfAnotherLife(t *testing.T) {
	s := &sink{}
	d := testDelegate(s, nil)
	b := lifeNode(t, "b", "10.0.0.2", 7, nil)
	d.NotifyJoin(b)
	d.NotifyMsg(leavingMsg("b", 8))
	d.NotifyLeave(b)
	d.NotifyJoin(b)
	d.NotifyMsg(append([]byte{msgLeavingOld}, "b"...))
	d.NotifyLeave(b)
	d.NotifyJoin(b)
	d.NotifyMsg(leavingMsg("b", 7))
	d.NotifyLeave(b)
	want := "join b 0000000000000007 alive,fail b 0000000000000007 failed,join b 0000000000000007 alive,leave b 0000000000000007 left,join b 0000000000000007 alive,leave b 0000000000000007 left"
	if got := s.summary(); got != want {
		t.Fatalf("events %s\nwant %s", got, want)
	}
}

// TestRemovalOfClaimedNameHeld: while another address claims a live
// member's name, a removal the member did not announce is held; the
// member refuting it (the same life back) drops it unseen, and a removal
// that is not refuted is reported when released.
func TestRemovalOfClaimedNameHeld(t *testing.T) {
	s := &sink{}
	d := testDelegate(s, nil)
	var holds []*heldEvent
	d.onHold = func(_ membership.Member, h *heldEvent) { holds = append(holds, h) }
	h := lifeNode(t, "h", "10.0.0.2", 1, nil)
	thief := lifeNode(t, "h", "10.0.0.9", 2, nil)
	d.NotifyJoin(h)
	d.NotifyConflict(h, thief)
	d.NotifyLeave(h) // the thief's leave, a dead message about the name
	if len(holds) != 1 {
		t.Fatalf("%d holds, want 1", len(holds))
	}
	if ms := d.members(); len(ms) != 1 || ms[0].Addr != "10.0.0.2:7946" {
		t.Fatalf("members %v while held, want h at 10.0.0.2", ms)
	}
	d.NotifyJoin(h) // h refuted it
	d.releaseHeld("h", holds[0])
	if got, want := s.summary(), "join h 0000000000000001 alive"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}

	d.NotifyConflict(h, thief)
	d.NotifyLeave(h)
	d.releaseHeld("h", holds[1]) // not refuted: reported
	if got, want := s.summary(), "join h 0000000000000001 alive,fail h 0000000000000001 failed"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if ms := d.members(); len(ms) != 0 {
		t.Fatalf("members %v after the release, want none", ms)
	}

	// Without a claim, a removal is reported at once.
	d.NotifyJoin(h)
	d.NotifyLeave(h)
	if len(holds) != 2 || !strings.HasSuffix(s.summary(), "join h 0000000000000001 alive,fail h 0000000000000001 failed") {
		t.Fatalf("events %s with %d holds, want the fail reported at once", s.summary(), len(holds))
	}
}

// TestConflictOnOwnName: a conflict about this node's own name goes to the
// name guard, with the other node's address and life, and is not logged
// as a claim on a member.
func TestConflictOnOwnName(t *testing.T) {
	s := &sink{}
	recs := testutil.NewRecordHandler()
	d := testDelegate(s, recs)
	var gotAddr string
	var gotLife life
	d.onSelfConflict = func(addr string, id life) { gotAddr, gotLife = addr, id }
	d.NotifyConflict(lifeNode(t, "me", "10.0.0.1", 99, nil), lifeNode(t, "me", "10.0.0.5", 5, nil))
	if gotAddr != "10.0.0.5:7946" || gotLife.boot != 5 {
		t.Fatalf("onSelfConflict(%q, %v), want 10.0.0.5:7946 of boot 5", gotAddr, gotLife)
	}
	if len(recs.Records()) != 0 {
		t.Fatalf("logged %v", recs.Records())
	}
	// A claim on another member's name is logged once per claimant.
	m, thief := lifeNode(t, "b", "10.0.0.2", 1, nil), lifeNode(t, "b", "10.0.0.3", 2, nil)
	d.NotifyJoin(m)
	d.NotifyConflict(m, thief)
	d.NotifyConflict(m, thief)
	if n := len(recs.Records()); n != 1 {
		t.Fatalf("%d records for two conflicts of one claimant, want 1", n)
	}
}

// TestBootIDMetaCompatible: metadata with a boot id decodes, for a
// version without boot ids, as the user's entries plus one with the empty
// key; and metadata of such a version decodes with no boot id.
func TestBootIDMetaCompatible(t *testing.T) {
	b, err := encodeMeta(map[string]string{"zone": "a"}, 0, life{boot: 0xabc, start: 5}, metaV1)
	if err != nil {
		t.Fatal(err)
	}
	// The old decoder: every entry is a key and a value.
	rest, entries := b[2:], map[string]string{}
	for len(rest) > 0 {
		k, r, err := readString(rest)
		if err != nil {
			t.Fatal(err)
		}
		v, r, err := readString(r)
		if err != nil {
			t.Fatal(err)
		}
		entries[k], rest = v, r
	}
	if entries["zone"] != "a" || len(entries[""]) != lifeLen || len(entries) != 2 {
		t.Fatalf("an older decoder reads %q", entries)
	}
	old := []byte{metaV1, 0, 4, 'z', 'o', 'n', 'e', 1, 'a'}
	m, _, id, err := decodeMeta(old)
	if err != nil || m["zone"] != "a" || id != (life{}) {
		t.Fatalf("decodeMeta(older version) = %v, %v, %v", m, id, err)
	}
	// version, flags, boot id, then 1+1 bytes of key and 2 of value length.
	if _, err := EncodeMeta(map[string]string{"k": strings.Repeat("v", maxMetaSize-lifeOverhead-6)}); err != nil {
		t.Fatalf("metadata that fits with the boot id refused: %v", err)
	}
	if _, err := EncodeMeta(map[string]string{"k": strings.Repeat("v", maxMetaSize-lifeOverhead-5)}); err == nil {
		t.Fatal("metadata that does not fit with the boot id accepted")
	}
}

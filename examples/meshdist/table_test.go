package meshdist

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gencluster/gencluster"
)

func member(name, addr string, boot gencluster.BootID) gencluster.Member {
	return gencluster.Member{Name: name, Addr: addr, State: gencluster.StateAlive, Boot: boot}
}

// evs renders events as "type name boot" for comparison.
func evs(eff effects) []string {
	var out []string
	for _, ev := range eff.events {
		out = append(out, ev.Type.String()+" "+ev.Member.Name+" "+ev.Member.Boot.String()+" "+ev.Member.State.String())
	}
	return out
}

func names(ms []gencluster.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func newTestTable() table {
	return newTable(member("self", "10.0.0.1:7946", 1))
}

func TestTableJoinAndGoodbye(t *testing.T) {
	tab := newTestTable()
	b := member("b", "10.0.0.2:7946", 2)
	if got := evs(tab.register(b, 0, 10)); !slices.Equal(got, []string{"join b 0000000000000002 alive"}) {
		t.Fatalf("register: %v", got)
	}
	if got := names(tab.members()); !slices.Equal(got, []string{"b", "self"}) {
		t.Fatalf("members: %v", got)
	}
	if eff := tab.goodbye("b", 99); len(eff.events) != 0 {
		t.Fatalf("a goodbye on a connection that is not b's counted: %v", evs(eff))
	}
	eff := tab.goodbye("b", 10)
	if got := evs(eff); !slices.Equal(got, []string{"leave b 0000000000000002 left"}) {
		t.Fatalf("goodbye: %v", got)
	}
	if !slices.Equal(eff.close, []connID{10}) {
		t.Errorf("goodbye closes %v, want [10]", eff.close)
	}
	if got := names(tab.members()); !slices.Equal(got, []string{"self"}) {
		t.Errorf("members after the goodbye: %v", got)
	}
	if eff := tab.down("b", 10); eff.redial != nil || len(eff.events) != 0 {
		t.Errorf("the left member's connection closing did something: %+v", eff)
	}
}

// TestTableBrokenConnection: a peer whose last connection closes stays a
// member and is redialed; it fails only when the redial fails, and not
// when another connection came back meanwhile.
func TestTableBrokenConnection(t *testing.T) {
	tab := newTestTable()
	b := member("b", "10.0.0.2:7946", 2)
	tab.register(b, 0, 10)
	tab.register(b, 0, 11) // both sides dialed at once
	if eff := tab.down("b", 10); eff.redial != nil || len(eff.events) != 0 {
		t.Fatalf("closing one of two connections: %+v", eff)
	}
	eff := tab.down("b", 11)
	if eff.redial == nil || eff.redial.Addr != b.Addr || eff.redial.Boot != 2 || len(eff.events) != 0 {
		t.Fatalf("closing the last connection: %+v, want a redial of b and no event", eff)
	}
	if got := names(tab.members()); !slices.Equal(got, []string{"b", "self"}) {
		t.Fatalf("b left the members before its redial failed: %v", got)
	}

	tab.register(b, 0, 12) // b dialed us meanwhile
	if eff := tab.redialFailed("b", 2); len(eff.events) != 0 {
		t.Fatalf("redial failed but b is connected: %v", evs(eff))
	}
	tab.down("b", 12)
	if got := evs(tab.redialFailed("b", 2)); !slices.Equal(got, []string{"fail b 0000000000000002 failed"}) {
		t.Fatalf("redial failed: %v", got)
	}
	if eff := tab.redialFailed("b", 2); len(eff.events) != 0 {
		t.Errorf("a second redial failure reported again: %v", evs(eff))
	}
}

// TestTableRestart: the same name at the same address with a new boot id
// is the member restarted: fail of the old life, join of the new, and the
// old life's connections stop speaking for the member.
func TestTableRestart(t *testing.T) {
	tab := newTestTable()
	old := member("b", "10.0.0.2:7946", 2)
	tab.register(old, 0, 10)
	restarted := member("b", "10.0.0.2:7946", 3)
	if err := tab.admit(restarted); err != nil {
		t.Fatalf("admit the restarted member: %v", err)
	}
	eff := tab.register(restarted, 0, 20)
	want := []string{"fail b 0000000000000002 failed", "join b 0000000000000003 alive"}
	if got := evs(eff); !slices.Equal(got, want) {
		t.Fatalf("restart: %v, want %v", got, want)
	}
	if !slices.Equal(eff.close, []connID{10}) {
		t.Errorf("restart closes %v, want the old connection [10]", eff.close)
	}
	if eff := tab.down("b", 10); eff.redial != nil {
		t.Errorf("the old life's connection closing redials: %+v", eff)
	}
	if eff := tab.goodbye("b", 10); len(eff.events) != 0 {
		t.Errorf("the old life's goodbye counted: %v", evs(eff))
	}
	if eff := tab.redialFailed("b", 2); len(eff.events) != 0 {
		t.Errorf("a redial of the old life failed the new one: %v", evs(eff))
	}
	if got := tab.members(); len(got) != 2 || got[0].Boot != 3 {
		t.Errorf("members: %v", got)
	}
}

func TestTableAdmitRefusesConflicts(t *testing.T) {
	tab := newTestTable()
	tab.register(member("b", "10.0.0.2:7946", 2), 0, 10)
	for _, tc := range []struct {
		m    gencluster.Member
		want string // "" admits
	}{
		{member("b", "10.0.0.9:7946", 5), `name conflict: "b" is held by the live member at 10.0.0.2:7946 (boot 0000000000000002)`},
		{member("self", "10.0.0.9:7946", 5), `name conflict: "self" is held by the live member at 10.0.0.1:7946`},
		{member("self", "10.0.0.1:7946", 1), "is this node"},
		{member("b", "10.0.0.2:7946", 2), ""}, // a second connection
		{member("b", "10.0.0.2:7946", 7), ""}, // a restart
		{member("c", "10.0.0.3:7946", 3), ""},
	} {
		err := tab.admit(tc.m)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("admit(%v): %v", tc.m, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("admit(%v) = %v, want %q", tc.m, err, tc.want)
		case strings.HasPrefix(tc.want, "name conflict") && !errors.Is(err, gencluster.ErrNameConflict):
			t.Errorf("admit(%v) = %v, not a gencluster.ErrNameConflict", tc.m, err)
		}
	}
}

func TestTableConnectionsPerPeerBounded(t *testing.T) {
	tab := newTestTable()
	b := member("b", "10.0.0.2:7946", 2)
	tab.register(b, 0, 1)
	tab.register(b, 0, 2)
	eff := tab.register(b, 0, 3)
	if !slices.Equal(eff.close, []connID{1}) || len(eff.events) != 0 {
		t.Fatalf("third connection: %+v, want the oldest closed and no event", eff)
	}
	if eff := tab.down("b", 1); eff.redial != nil {
		t.Errorf("the closed oldest connection redials: %+v", eff)
	}
}

// TestTableUpdate: metadata changes by version, so that a handshake on a
// second connection, older than an update read on the first, does not
// undo it.
func TestTableUpdate(t *testing.T) {
	tab := newTestTable()
	b := member("b", "10.0.0.2:7946", 2)
	tab.register(b, 0, 10)
	if got := evs(tab.update("b", 10, map[string]string{"v": "2"}, 1)); !slices.Equal(got, []string{"update b 0000000000000002 alive"}) {
		t.Fatalf("update: %v", got)
	}
	if eff := tab.update("b", 10, map[string]string{"v": "2"}, 2); len(eff.events) != 0 {
		t.Errorf("an unchanged update reported: %v", evs(eff))
	}
	if eff := tab.update("b", 99, map[string]string{"v": "3"}, 3); len(eff.events) != 0 {
		t.Errorf("an update from a connection that is not b's counted: %v", evs(eff))
	}
	stale := b
	stale.Meta = map[string]string{"v": "1"}
	if eff := tab.register(stale, 1, 11); len(eff.events) != 0 || tab.members()[0].Meta["v"] != "2" {
		t.Errorf("a handshake with older metadata: %v, meta %v", evs(eff), tab.members()[0].Meta)
	}
	b.Meta = map[string]string{"v": "4"} // a handshake with newer metadata
	if got := evs(tab.register(b, 4, 12)); !slices.Equal(got, []string{"update b 0000000000000002 alive"}) {
		t.Errorf("handshake with new metadata: %v", got)
	}
	if got := tab.members()[0].Meta["v"]; got != "4" {
		t.Errorf("meta = %q, want 4", got)
	}
	if v := tab.setSelfMeta(map[string]string{"x": "y"}); v != 1 || tab.members()[1].Meta["x"] != "y" {
		t.Errorf("setSelfMeta: version %d, self %v", v, tab.members()[1])
	}
}

func TestTableKnowsAndHints(t *testing.T) {
	tab := newTestTable()
	tab.register(member("b", "10.0.0.2:7946", 2), 0, 10)
	tab.register(member("c", "10.0.0.3:7946", 3), 0, 11)
	for h, want := range map[hint]bool{
		{Name: "b", Addr: "10.0.0.9:1"}:    true, // by name
		{Name: "x", Addr: "10.0.0.3:7946"}: true, // by address
		{Name: "self", Addr: "10.0.0.8:1"}: true,
		{Name: "d", Addr: "10.0.0.4:7946"}: false,
		{Name: "d", Addr: "10.0.0.1:7946"}: true, // this node's address
	} {
		if tab.knows(h) != want {
			t.Errorf("knows(%v) = %v", h, !want)
		}
	}
	hs := tab.hints("b")
	if len(hs) != 1 || hs[0] != (hint{Name: "c", Addr: "10.0.0.3:7946"}) {
		t.Errorf("hints without b: %v", hs)
	}
}

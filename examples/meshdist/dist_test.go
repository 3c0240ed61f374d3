package meshdist

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// TestOneConnectPullsInTheMesh: a Connect to any member returns with the
// whole cluster known (it dials the members its peer knows), and the
// members it reached learn of it: every node sees every other.
func TestOneConnectPullsInTheMesh(t *testing.T) {
	a, b, c, d := startDist(t, "a", "", nil), startDist(t, "b", "", nil), startDist(t, "c", "", nil), startDist(t, "d", "", nil)
	connect(t, b, a)
	connect(t, c, b)
	connect(t, d, a)
	all := []string{"a", "b", "c", "d"}
	if got := memberNames(d.Dist); !slices.Equal(got, all) {
		t.Errorf("right after Connect, d knows %v, want %v; events of b: %v", got, all, d.rec.of("b"))
	}
	for _, n := range []testDist{a, b, c, d} {
		testutil.Eventually(t, wait, func() bool { return slices.Equal(memberNames(n.Dist), all) }, "%s to know %v (knows %v)", n.cfg.Name, all, memberNames(n.Dist))
		for _, o := range all {
			if got := n.rec.types(o); len(got) != 1 || got[0] != gencluster.EventJoin {
				t.Errorf("%s saw %s: %v, want one join", n.cfg.Name, o, got)
			}
		}
	}
	m := a.Members()[3]
	if m.Name != "d" || m.Meta["name"] != "d" || m.Boot != d.LocalMember().Boot || m.Addr != d.Addr() || m.State != gencluster.StateAlive {
		t.Errorf("a sees d as %+v, want %+v", m, d.LocalMember())
	}
	if err := a.Connect(context.Background(), b.Addr()); err != nil {
		t.Errorf("connect to a live member's address: %v", err)
	}
}

// TestLeaveCloseAndMeta: UpdateMeta is an update at every peer, Leave a
// leave, Close a failure within the bound.
func TestLeaveCloseAndMeta(t *testing.T) {
	a, b, c := startDist(t, "a", "", nil), startDist(t, "b", "", nil), startDist(t, "c", "", nil)
	connect(t, b, a)
	connect(t, c, a)
	testutil.Eventually(t, wait, func() bool { return len(a.Members()) == 3 && len(b.Members()) == 3 }, "the mesh of 3")

	if err := c.UpdateMeta(context.Background(), map[string]string{"version": "2"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []testDist{a, b} {
		testutil.Eventually(t, wait, func() bool { return n.rec.has(gencluster.EventUpdate, "c") }, "%s to see c's update", n.cfg.Name)
		if got := n.Members()[2].Meta; got["version"] != "2" || len(got) != 1 {
			t.Errorf("%s sees c's meta %v", n.cfg.Name, got)
		}
	}
	if !c.rec.has(gencluster.EventUpdate, "c") || c.LocalMember().Meta["version"] != "2" {
		t.Errorf("c did not report its own update: %v", c.rec.types("c"))
	}

	if err := c.Leave(context.Background()); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	for _, n := range []testDist{a, b} {
		testutil.Eventually(t, wait, func() bool { return n.rec.has(gencluster.EventLeave, "c") }, "%s to see c leave", n.cfg.Name)
		if n.rec.has(gencluster.EventFail, "c") {
			t.Errorf("%s reported c failed: %v", n.cfg.Name, n.rec.types("c"))
		}
		if got := n.rec.of("c"); got[len(got)-1].Member.State != gencluster.StateLeft {
			t.Errorf("leave event of c: %v", got[len(got)-1])
		}
	}
	if err := c.Connect(context.Background(), a.Addr()); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Leave: %v, want ErrClosed", err)
	}
	if c.Members() != nil || c.Leave(context.Background()) != nil || c.Close() != nil {
		t.Errorf("a left Dist: members %v", c.Members())
	}

	start := time.Now()
	b.Close()
	testutil.Eventually(t, wait, func() bool { return a.rec.has(gencluster.EventFail, "b") }, "a to see b fail")
	if took := time.Since(start); took > testBound+200*time.Millisecond {
		t.Errorf("b's failure reported after %v, bound %v", took, testBound)
	}
	if got := memberNames(a.Dist); !slices.Equal(got, []string{"a"}) {
		t.Errorf("a's members: %v", got)
	}
}

// TestRestartIsFailThenJoin: a member that comes back under its name and
// address with a new boot id is reported failed, then joined, whichever
// way this node learns of it.
func TestRestartIsFailThenJoin(t *testing.T) {
	a, b := startDist(t, "a", "", nil), startDist(t, "b", "", nil)
	connect(t, b, a)
	testutil.Eventually(t, wait, func() bool { return len(a.Members()) == 2 }, "a to see b")
	oldBoot, addr := b.LocalMember().Boot, b.Addr()
	b.Close()
	b2 := startDist(t, "b", addr, nil)
	connect(t, b2, a)
	testutil.Eventually(t, wait, func() bool {
		return slices.Equal(a.rec.types("b"), []gencluster.EventType{gencluster.EventJoin, gencluster.EventFail, gencluster.EventJoin})
	},
		"a to see b join, fail, join (saw %v)", a.rec.types("b"))
	evs := a.rec.of("b")
	if evs[1].Member.Boot != oldBoot || evs[2].Member.Boot != b2.LocalMember().Boot || oldBoot == b2.LocalMember().Boot {
		t.Errorf("boots: fail %v join %v, want %v then %v", evs[1].Member.Boot, evs[2].Member.Boot, oldBoot, b2.LocalMember().Boot)
	}
}

// TestNameConflictRefused: a node claiming a live member's name at another
// address is refused, with an error naming the holder, and nobody counts
// it as a member.
func TestNameConflictRefused(t *testing.T) {
	rh := testutil.NewRecordHandler()
	a, b := startDist(t, "a", "", slog.New(rh)), startDist(t, "b", "", nil)
	connect(t, b, a)
	for _, target := range []testDist{a, b} {
		impostor := startDist(t, "b", "", nil)
		err := impostor.Connect(context.Background(), target.Addr())
		if !errors.Is(err, gencluster.ErrNameConflict) || !strings.Contains(err.Error(), b.Addr()) {
			t.Errorf("impostor connecting to %s: %v, want a name conflict naming %s", target.cfg.Name, err, b.Addr())
		}
		if got := memberNames(impostor.Dist); !slices.Equal(got, []string{"b"}) {
			t.Errorf("the impostor joined: %v", got)
		}
		impostor.Close()
	}
	if got := a.rec.types("b"); !slices.Equal(got, []gencluster.EventType{gencluster.EventJoin}) {
		t.Errorf("a saw b: %v", got)
	}
	testutil.Eventually(t, wait, func() bool {
		_, ok := rh.Find(slog.LevelWarn, "handshake refused", map[string]string{"peer": "b"})
		return ok
	}, "a to log the refusal") // after it sent the refuse frame
}

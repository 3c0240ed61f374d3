package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gencluster/gencluster"
	tu "github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// startThief starts a node that is expected to fail (ErrNameConflict); a
// node that starts anyway is closed when the test ends.
func startThief(t *testing.T, opts ...gencluster.Option) (*gencluster.Node, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := gencluster.Start(ctx, opts...)
	if err == nil {
		t.Cleanup(func() { _ = n.Close() })
	}
	return n, err
}

// tolerantOpts are testOpts with timers that do not declare a live member
// failed on a loaded host: these tests assert that nobody is removed.
func tolerantOpts(t *testing.T, name string, extra ...gencluster.Option) []gencluster.Option {
	return append(append(testOpts(t, name), gencluster.WithMemberlistConfig(tu.Tolerant)), extra...)
}

// removals returns the leave and fail events of name at addr in l.
func removals(l *tu.EventLog, name, addr string) []gencluster.Event {
	var out []gencluster.Event
	for _, ev := range l.All() {
		if ev.Gone() && ev.Member.Name == name && ev.Member.Addr == addr {
			out = append(out, ev)
		}
	}
	return out
}

// noRemovalFor watches l for d and fails as soon as it holds a leave or
// fail of name at addr.
func noRemovalFor(t *testing.T, d time.Duration, l *tu.EventLog, name, addr, when string) {
	t.Helper()
	for end := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if got := removals(l, name, addr); len(got) > 0 {
			t.Fatalf("%s, the real member was reported gone: %v", when, got)
		}
		if time.Now().After(end) {
			return
		}
	}
}

// TestThiefRefusedAtStart: a node started with a live member's name, from
// another address, fails Start with ErrNameConflict naming the member's
// address; nobody reports the member gone, then or after the thief's
// Start closed it.
func TestThiefRefusedAtStart(t *testing.T) {
	a := startNode(t, tolerantOpts(t, "ts-a")...)
	h := startNode(t, tolerantOpts(t, "ts-h", gencluster.WithSeeds(seeds.Static(a.Addr())))...)
	tu.WaitMembers(t, 10*time.Second, []*gencluster.Node{a, h}, "ts-a", "ts-h")
	_, evs, cancel := a.Subscribe()
	defer cancel()
	log := tu.Collect(evs)

	port := strconv.Itoa(tu.FreePort(t, "127.0.0.2"))
	_, err := startThief(t, tolerantOpts(t, "ts-h", gencluster.WithBindAddr("127.0.0.2:"+port), gencluster.WithSeeds(seeds.Static(a.Addr())))...)
	if !errors.Is(err, gencluster.ErrNameConflict) {
		t.Fatalf("thief's Start: %v, want ErrNameConflict", err)
	}
	if !strings.Contains(err.Error(), h.Addr()) {
		t.Fatalf("thief's Start: %v, want the holder's address %s in it", err, h.Addr())
	}
	// Several suspicion timeouts of the tolerant timers.
	noRemovalFor(t, 3*time.Second, log, "ts-h", h.Addr(), "after the thief's Start failed")
	if err := h.NameConflict(); err != nil {
		t.Fatalf("the real member reports a conflict: %v", err)
	}
}

// TestThiefNoticedAfterStart: a thief seeded with a node that does not know
// the real member yet starts. Once that node meets the cluster, the thief
// (which started later) logs one ERROR, counts the conflict and fails
// /healthz; the real member does none of that. Whether the thief then
// runs, leaves or is closed, no member of the real member's side reports
// the real member gone.
func TestThiefNoticedAfterStart(t *testing.T) {
	for _, stop := range []string{"leave", "close"} {
		t.Run(stop, func(t *testing.T) {
			t.Parallel() // two clusters of their own; mostly waiting
			thiefAfterStart(t, stop)
		})
	}
}

func thiefAfterStart(t *testing.T, stop string) {
	h := startNode(t, tolerantOpts(t, "tn-h")...)
	a := startNode(t, tolerantOpts(t, "tn-a", gencluster.WithSeeds(seeds.Static(h.Addr())))...)
	tu.WaitMembers(t, 10*time.Second, []*gencluster.Node{a, h}, "tn-a", "tn-h")
	_, evs, cancel := a.Subscribe()
	defer cancel()
	log := tu.Collect(evs)

	var later tu.Seeds // p knows nobody until the test says
	p := startNode(t, tolerantOpts(t, "tn-p", gencluster.WithSeeds(&later))...)
	reg := prometheus.NewRegistry()
	recs := tu.NewRecordHandler()
	port := strconv.Itoa(tu.FreePort(t, "127.0.0.2"))
	thief, err := startThief(t, tolerantOpts(t, "tn-h", gencluster.WithBindAddr("127.0.0.2:"+port),
		gencluster.WithSeeds(seeds.Static(p.Addr())), gencluster.WithMetrics(reg), gencluster.WithLogger(slog.New(recs)))...)
	if err != nil {
		t.Fatalf("thief's Start, seeded with a node that does not know the real member: %v", err)
	}
	later.Set(nil, a.Addr())
	tu.Eventually(t, 30*time.Second, func() bool { return thief.NameConflict() != nil }, "the thief to notice the conflict")
	if err := thief.NameConflict(); !errors.Is(err, gencluster.ErrNameConflict) || !strings.Contains(err.Error(), h.Addr()) {
		t.Fatalf("NameConflict = %v, want ErrNameConflict naming %s", err, h.Addr())
	}
	srv := httptest.NewServer(thief.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "name conflict") || !strings.Contains(string(body), h.Addr()) {
		t.Fatalf("thief's /healthz: %d %q, want 503 naming the conflict and %s", resp.StatusCode, body, h.Addr())
	}
	if got := testutil.ToFloat64(metricOf(t, reg, "gencluster_name_conflicts_total")); got != 1 {
		t.Fatalf("gencluster_name_conflicts_total = %v, want 1", got)
	}

	noRemovalFor(t, 2*time.Second, log, "tn-h", h.Addr(), "while the thief runs") // push-pulls, gossip
	errorsLogged := 0
	for _, r := range recs.Records() {
		if r.Level == slog.LevelError && strings.HasPrefix(r.Message, "name conflict") {
			errorsLogged++
		}
	}
	if errorsLogged != 1 {
		t.Errorf("the thief logged %d name conflict ERRORs, want 1", errorsLogged)
	}
	if err := h.NameConflict(); err != nil {
		t.Errorf("the real member reports a conflict: %v", err)
	}

	if stop == "leave" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := thief.Leave(ctx); err != nil {
			t.Errorf("thief's Leave: %v", err)
		}
	} else {
		thief.Close()
	}
	// p declares the thief failed (suspicion takes 1 to 2s with these
	// timers), its dead messages spread, a held removal is released
	// after 1.4s.
	noRemovalFor(t, 5*time.Second, log, "tn-h", h.Addr(), "after the thief's "+stop)
	for _, n := range []*gencluster.Node{a, h} {
		found := false
		for _, m := range n.Members() {
			found = found || (m.Name == "tn-h" && m.Addr == h.Addr())
		}
		if !found {
			t.Fatalf("%s lost the real member: %v", n.Name(), n.Members())
		}
	}
}

// metricOf returns the collector registered under name, as a
// prometheus.Collector testutil.ToFloat64 reads.
func metricOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := mf.GetMetric()[0].GetCounter().GetValue()
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
			c.Add(v)
			return c
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// TestRestartSameAddressReported: a node killed and restarted at once
// under the same name and address (faster than failure detection, which
// the restarted node would refute anyway) is reported by its peers: the
// old life fails, then the new one joins, each with its own boot id, in
// that order, within a few gossip rounds.
func TestRestartSameAddressReported(t *testing.T) {
	a := startNode(t, tolerantOpts(t, "rs-a")...)
	b := startNode(t, tolerantOpts(t, "rs-b", gencluster.WithSeeds(seeds.Static(a.Addr())))...)
	tu.WaitMembers(t, 10*time.Second, []*gencluster.Node{a, b}, "rs-a", "rs-b")
	oldBoot, addr := b.LocalMember().Boot, b.Addr()
	if oldBoot == 0 {
		t.Fatal("no boot id")
	}
	_, evs, cancel := a.Subscribe()
	defer cancel()
	log := tu.Collect(evs)

	b.Close()
	b2 := startNode(t, tolerantOpts(t, "rs-b", gencluster.WithBindAddr(addr), gencluster.WithSeeds(seeds.Static(a.Addr())))...)
	started := time.Now()
	newBoot := b2.LocalMember().Boot
	if newBoot == 0 || newBoot == oldBoot {
		t.Fatalf("boot ids %s then %s, want two different non-zero ones", oldBoot, newBoot)
	}
	tu.Eventually(t, 3*time.Second, func() bool {
		for _, ev := range log.All() {
			if ev.Type == gencluster.EventJoin && ev.Member.Name == "rs-b" && ev.Member.Boot == newBoot {
				return true
			}
		}
		return false
	}, "rs-a to report the new life of rs-b joined")
	t.Logf("join of the new life seen %v after its Start returned", time.Since(started).Round(time.Millisecond))
	var got []string
	for _, ev := range log.All() {
		if ev.Member.Name == "rs-b" {
			got = append(got, ev.Type.String()+" "+ev.Member.Boot.String())
		}
	}
	want := []string{"fail " + oldBoot.String(), "join " + newBoot.String()}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("rs-a saw %v, want %v", got, want)
	}
	for _, m := range a.Members() {
		if m.Name == "rs-b" && m.Boot != newBoot {
			t.Fatalf("rs-a lists rs-b with boot %s, want %s", m.Boot, newBoot)
		}
	}
}

package meshdist

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
)

// Timers of the in-process tests: a failure is reported within
// 4×50ms + 500ms.
const (
	testInterval = 50 * time.Millisecond
	testMissed   = 4
	testDial     = 500 * time.Millisecond
	testBound    = testMissed*testInterval + testDial
	wait         = 10 * time.Second // for what only a very loaded machine delays
)

// recorder keeps the events a Dist reports.
type recorder struct {
	mu  sync.Mutex
	evs []gencluster.Event
}

func (r *recorder) add(ev gencluster.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// of returns the events of the member name.
func (r *recorder) of(name string) []gencluster.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []gencluster.Event
	for _, ev := range r.evs {
		if ev.Member.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// has reports whether an event of typ for name arrived.
func (r *recorder) has(typ gencluster.EventType, name string) bool {
	return slices.ContainsFunc(r.of(name), func(ev gencluster.Event) bool { return ev.Type == typ })
}

// types returns the types of name's events, in order.
func (r *recorder) types(name string) []gencluster.EventType {
	var out []gencluster.EventType
	for _, ev := range r.of(name) {
		out = append(out, ev.Type)
	}
	return out
}

type testDist struct {
	*Dist
	rec *recorder
}

// startDist starts a Dist named name on a free loopback port (or at addr,
// when given) with the test timers, recording its events; it is closed
// when the test ends.
func startDist(t *testing.T, name string, addr string, logger *slog.Logger) testDist {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d, err := New(Config{Name: name, Addr: addr, Meta: map[string]string{"name": name},
		Interval: testInterval, MissedHeartbeats: testMissed, DialTimeout: testDial, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	rec := &recorder{}
	d.Notify(rec.add)
	return testDist{d, rec}
}

func connect(t *testing.T, from, to testDist) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := from.Connect(ctx, to.Addr()); err != nil {
		t.Fatalf("%s connect %s: %v", from.cfg.Name, to.Addr(), err)
	}
}

func memberNames(d *Dist) []string {
	var out []string
	for _, m := range d.Members() {
		out = append(out, m.Name)
	}
	return out
}

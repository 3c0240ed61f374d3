// Package testutil holds the helpers the module's tests share: waiting on
// a condition, recording log records and events, a Discoverer whose answer
// a test changes, and free ports on loopback aliases.
package testutil

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/membership"
)

// Eventually polls cond until it holds, and fails the test (t.Fatalf) when
// timeout passes first. msgf, if given, is a format and its arguments that
// say what was awaited.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msgf ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			what := "the condition"
			if len(msgf) > 0 {
				if f, ok := msgf[0].(string); ok {
					what = fmt.Sprintf(f, msgf[1:]...)
				} else {
					what = fmt.Sprintf("%v", msgf[0])
				}
			}
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// EventLog collects events from a channel in a goroutine it owns, which
// ends when the channel closes (Done is closed then).
type EventLog struct {
	mu   sync.Mutex
	evs  []membership.Event
	done chan struct{}
}

// Collect starts an EventLog reading ch.
func Collect(ch <-chan membership.Event) *EventLog {
	l := &EventLog{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ev := range ch {
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

// Done is closed once the channel was closed and drained.
func (l *EventLog) Done() <-chan struct{} { return l.done }

// Has reports whether an event of typ for the member name arrived.
func (l *EventLog) Has(typ membership.EventType, name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.evs {
		if ev.Type == typ && ev.Member.Name == name {
			return true
		}
	}
	return false
}

// All returns the events so far.
func (l *EventLog) All() []membership.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

// Seeds is a seeds.Discoverer whose answer the test changes, and which
// counts and timestamps its runs.
type Seeds struct {
	mu    sync.Mutex
	addrs []string
	err   error
	at    []time.Time
}

// Discover returns what Set set last.
func (s *Seeds) Discover(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Now())
	return slices.Clone(s.addrs), s.err
}

// Set sets what Discover returns.
func (s *Seeds) Set(err error, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs, s.err = addrs, err
}

// Count returns how many times Discover ran.
func (s *Seeds) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}

// Times returns when each Discover started.
func (s *Seeds) Times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.at)
}

// FreePort returns a port free for both TCP and UDP on every one of ips
// (loopback aliases such as 127.0.0.2), so that nodes on several IPs can
// share it as separate hosts would.
func FreePort(t testing.TB, ips ...string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for _, ip := range ips {
			a := net.JoinHostPort(ip, strconv.Itoa(port))
			u, err := net.ListenPacket("udp", a)
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// RecordHandler is a slog.Handler that keeps every record, for assertions.
// Handlers derived with WithAttrs share the records.
type RecordHandler struct {
	mu    *sync.Mutex
	recs  *[]slog.Record
	attrs []slog.Attr
}

// NewRecordHandler returns an empty RecordHandler.
func NewRecordHandler() *RecordHandler {
	return &RecordHandler{mu: new(sync.Mutex), recs: new([]slog.Record)}
}

// Enabled is true at every level.
func (h *RecordHandler) Enabled(context.Context, slog.Level) bool { return true }

// Handle keeps r.
func (h *RecordHandler) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.mu.Lock()
	*h.recs = append(*h.recs, r)
	h.mu.Unlock()
	return nil
}

// WithAttrs returns a handler that adds as to its records.
func (h *RecordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &h2
}

// WithGroup ignores the group.
func (h *RecordHandler) WithGroup(string) slog.Handler { return h }

// Records returns the records so far.
func (h *RecordHandler) Records() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.recs)
}

// Find returns the attributes of the first record with msg and level
// whose attributes include want.
func (h *RecordHandler) Find(level slog.Level, msg string, want map[string]string) (map[string]string, bool) {
	for _, r := range h.Records() {
		if r.Level != level || r.Message != msg {
			continue
		}
		got := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { got[a.Key] = a.Value.String(); return true })
		ok := true
		for k, v := range want {
			if got[k] != v {
				ok = false
			}
		}
		if ok {
			return got, true
		}
	}
	return nil, false
}

package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func open(t *testing.T, path string, mod func(*Config)) (*Recorder, *logBuf, error) {
	t.Helper()
	logs := &logBuf{}
	cfg := Config{Path: path, Cluster: "c", Self: "me", Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if mod != nil {
		mod(&cfg)
	}
	r, err := Open(cfg)
	return r, logs, err
}

func TestOpenCases(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := Encode(File{Cluster: "c", Members: []Member{
		{Name: "me", Addr: "10.0.0.1:1", State: Alive, Since: time.Now()},
		{Name: "a", Addr: "10.0.0.2:1", State: Alive, Since: time.Now()},
		{Name: "b", Addr: "10.0.0.3:1", State: Failed, Since: time.Now().Add(-time.Hour)},
		{Name: "old", Addr: "10.0.0.4:1", State: Failed, Since: time.Now().Add(-DefaultFailedTTL - time.Hour)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Encode(File{Cluster: "staging"})

	t.Run("missing", func(t *testing.T) {
		r, logs, err := open(t, filepath.Join(dir, "none"), nil)
		if err != nil || len(r.Candidates()) != 0 || !strings.Contains(logs.String(), "no snapshot yet") {
			t.Fatalf("Open = %v; logs %s", err, logs)
		}
	})
	t.Run("good", func(t *testing.T) {
		r, _, err := open(t, write("good", string(good)), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Not itself, not the member failed longer than the TTL.
		if got := r.Candidates(); !slices.Equal(got, []string{"10.0.0.2:1", "10.0.0.3:1"}) {
			t.Fatalf("Candidates = %v", got)
		}
	})
	for _, tc := range []struct{ name, content, log string }{
		{"truncated", string(good[:len(good)-10]), "truncated"},
		{"corrupt", strings.Replace(string(good), "10.0.0.2", "10.0.0.9", 1), "checksum"},
		{"newer version", "gencluster-snapshot 2\nwhatever\n", "version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, logs, err := open(t, write(tc.name, tc.content), nil)
			if err != nil {
				t.Fatalf("Open: %v, want the file ignored with a warning", err)
			}
			if len(r.Candidates()) != 0 || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("candidates %v; logs %s", r.Candidates(), logs)
			}
		})
	}
	for _, tc := range []struct{ name, path, want string }{
		{"foreign file", write("passwd", "root:x:0:0::/root:/bin/sh\n"), "refusing to overwrite"},
		{"other cluster", write("other", string(other)), `label "staging", this node's label is "c"`},
		{"directory", dir, "directory"},
		{"no directory", filepath.Join(dir, "no", "s"), "cannot create"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := open(t, tc.path, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("foreign file kept", func(t *testing.T) {
		b, _ := os.ReadFile(filepath.Join(dir, "passwd"))
		if !strings.HasPrefix(string(b), "root:") {
			t.Fatal("the foreign file was changed")
		}
	})
}

func TestRecorderTracksMembership(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	now := time.Unix(1700000000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r, _, err := open(t, path, func(c *Config) { c.Now = clock; c.FailedTTL = time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	r.Alive("me", "10.0.0.1:1") // itself: never recorded
	r.Alive("a", "10.0.0.2:1")
	r.Alive("b", "10.0.0.3:1")
	r.Alive("c", "10.0.0.4:1")
	r.Alive("a", "10.0.0.5:1") // a new address replaces the old one
	r.Failed("b")
	r.Left("c")
	r.Alive("bad", "no port") // ignored
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Member{}
	for _, m := range f.Members {
		got[m.Name] = m
	}
	if len(got) != 2 || got["a"].Addr != "10.0.0.5:1" || got["a"].State != Alive || got["b"].State != Failed || f.Cluster != "c" {
		t.Fatalf("snapshot %+v", f)
	}
	// A failed member is dropped once FailedTTL has passed.
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	r.Alive("d", "10.0.0.6:1")
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	f, _ = Read(path)
	if len(f.Members) != 2 || f.Members[0].Name != "a" || f.Members[1].Name != "d" {
		t.Fatalf("after the TTL: %+v", f.Members)
	}

	// Reopened: the members are the candidates; seeing one alive or
	// leaving removes it.
	r2, _, err := open(t, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.Candidates(); !slices.Equal(got, []string{"10.0.0.5:1", "10.0.0.6:1"}) {
		t.Fatalf("Candidates = %v", got)
	}
	r2.Alive("a", "10.0.0.5:1")
	r2.Left("d")
	if got := r2.Candidates(); len(got) != 0 {
		t.Fatalf("Candidates after a join and a leave = %v", got)
	}
	// A restarted node that has not rejoined yet keeps what it read.
	if err := r2.Flush(); err != nil {
		t.Fatal(err)
	}
	if f, _ := Read(path); len(f.Members) != 1 || f.Members[0].Name != "a" {
		t.Fatalf("after the leave of d: %+v", f.Members)
	}
}

func TestRunRateLimitsAndFlushesOnStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	r, _, err := open(t, path, func(c *Config) { c.Interval = time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	r.Alive("n0", "10.0.0.1:1")
	testutil.Eventually(t, 5*time.Second, func() bool { return r.Writes() == 1 }, "the first change is written at once")
	for i := 1; i < 50; i++ {
		r.Alive(fmt.Sprintf("n%d", i), "10.0.0.1:1")
	}
	if w := r.Writes(); w != 1 {
		t.Fatalf("%d writes before the interval passed, want 1", w)
	}
	cancel()
	<-done
	if w := r.Writes(); w != 2 {
		t.Fatalf("%d writes after stopping, want 2 (the last changes flushed)", w)
	}
	if f, err := Read(path); err != nil || len(f.Members) != 50 {
		t.Fatalf("the snapshot after stopping has %d members (err %v), want 50", len(f.Members), err)
	}
}

func TestRunRetriesFailedWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "s")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, logs, err := open(t, path, func(c *Config) { c.Interval = 10 * time.Millisecond })
	if err != nil {
		t.Fatal(err)
	}
	// The directory goes away after Open: writes fail, and resume once it
	// is back.
	if err := os.Remove(filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	r.Alive("a", "10.0.0.1:1")
	testutil.Eventually(t, 5*time.Second, func() bool { return r.Failures() >= 3 }, "three failed writes")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return r.Writes() == 1 }, "the write is retried")
	cancel()
	<-done
	if n := strings.Count(logs.String(), "writing the snapshot failed"); n != 1 {
		t.Errorf("the failing writes were logged %d times, want once", n)
	}
	if !strings.Contains(logs.String(), "writing the snapshot works again") {
		t.Error("the recovery was not logged")
	}
}

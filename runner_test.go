package gencluster

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// fakeRunner is a seeds.Runner whose Discover returns its addresses only
// once Start has run, as a multicast backend that has heard its peers does.
type fakeRunner struct {
	addrs    []string
	startErr error

	mu      sync.Mutex
	started string // self given to Start
	stopped bool   // the work's ctx ended
}

func (f *fakeRunner) Discover(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started == "" {
		return nil, nil
	}
	return f.addrs, nil
}

func (f *fakeRunner) Start(ctx context.Context, self string) (func(), error) {
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.mu.Lock()
	f.started = self
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		f.mu.Lock()
		f.stopped = true
		f.mu.Unlock()
	}()
	return func() { <-done }, nil
}

func (f *fakeRunner) String() string { return "fake-runner" }

// TestRunnerStartsBeforeInitialJoin: what a Runner learns at Start seeds
// the initial join, long before the first refresh; its work stops with the
// node.
func TestRunnerStartsBeforeInitialJoin(t *testing.T) {
	f := testutil.NewDist("127.0.0.1:7946", "10.0.0.2:7946")
	r := &fakeRunner{addrs: []string{"10.0.0.2:7946"}}
	n := startFake(t, f, WithSeeds(r), WithRefreshInterval(time.Hour))
	if got := f.CallTimes("10.0.0.2:7946"); len(got) != 1 {
		t.Fatalf("joins of the Runner's peer after Start = %d, want 1 (by the initial join)", len(got))
	}
	r.mu.Lock()
	self := r.started
	r.mu.Unlock()
	if self != "127.0.0.1:7946" {
		t.Errorf("Start got self %q, want the advertised address", self)
	}
	n.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped {
		t.Error("the Runner's work still runs after Close")
	}
}

// TestRunnerStartErrorFailsStart: a backend that cannot start fails Start
// with its error, naming the backend.
func TestRunnerStartErrorFailsStart(t *testing.T) {
	bind := errors.New("bind: address already in use")
	f := testutil.NewDist("127.0.0.1:7946")
	n, err := Start(context.Background(), WithName("self"), WithDist(f), WithAdvertiseAddr(f.Self),
		WithSeeds(seeds.Static("10.0.0.9:7946"), &fakeRunner{startErr: bind}))
	if err == nil {
		n.Close()
		t.Fatal("Start succeeded with a Runner that failed to start")
	}
	if !errors.Is(err, bind) || !strings.Contains(err.Error(), "fake-runner") {
		t.Errorf("Start = %v, want the Runner's error naming fake-runner", err)
	}
	if got := f.CallTimes("10.0.0.9:7946"); len(got) != 0 {
		t.Errorf("the initial join ran (%d joins) although Start failed first", len(got))
	}
}

// TestRunnerNeedsRefresh: a background backend with the refresh loop
// disabled would never be read after the initial join: Start refuses it.
func TestRunnerNeedsRefresh(t *testing.T) {
	r := &fakeRunner{}
	f := testutil.NewDist("127.0.0.1:7946")
	n, err := Start(context.Background(), WithName("self"), WithDist(f), WithAdvertiseAddr(f.Self),
		WithSeeds(r), WithRefreshInterval(0))
	if err == nil {
		n.Close()
		t.Fatal("Start succeeded with a Runner and WithRefreshInterval(0)")
	}
	if !strings.Contains(err.Error(), "WithRefreshInterval(0)") || !strings.Contains(err.Error(), "fake-runner") {
		t.Errorf("Start = %v, want it to name the backend and WithRefreshInterval(0)", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started != "" {
		t.Error("the Runner was started although Start failed")
	}
}

// TestRunnerNeedsAdvertiseWithDist: with WithDist the Node knows its
// address only from WithAdvertiseAddr; a background backend, which
// announces it, is refused without it, before anything starts.
func TestRunnerNeedsAdvertiseWithDist(t *testing.T) {
	r := &fakeRunner{}
	f := testutil.NewDist("127.0.0.1:7946")
	n, err := Start(context.Background(), WithName("self"), WithDist(f), WithSeeds(r))
	if err == nil {
		n.Close()
		t.Fatal("Start succeeded with a Runner, WithDist and no WithAdvertiseAddr")
	}
	for _, want := range []string{"fake-runner", "WithDist", "WithAdvertiseAddr"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start = %v, want it to name %s", err, want)
		}
	}
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	if started != "" {
		t.Error("the Runner was started although Start failed")
	}
	// The control: with the address it starts and gets it.
	startNode(t, WithName("self"), WithDist(f), WithAdvertiseAddr(f.Self), WithSeeds(r))
	r.mu.Lock()
	if r.started != f.Self {
		t.Errorf("Start got self %q, want %s", r.started, f.Self)
	}
	r.mu.Unlock()
}

package refresh

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// hangingSeeds is a backend that does not answer until the test releases
// it or its context ends, as a Kubernetes API or a DNS server that drops
// queries does.
type hangingSeeds struct {
	release chan struct{}
	addr    string
}

func (h *hangingSeeds) Discover(ctx context.Context) ([]string, error) {
	select {
	case <-h.release:
		return []string{h.addr}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestDiscoveryBackendsConcurrent: a backend that hangs delays neither
// another backend's answer nor the join of its addresses. The hanging
// backend comes first: asked one after another, the fast one would not
// even be asked until the hanging one answered.
func TestDiscoveryBackendsConcurrent(t *testing.T) {
	const fastAddr, slowAddr = "10.0.0.2:7946", "10.0.0.8:7946"
	f := testutil.NewDist("10.0.0.1:7946", fastAddr, slowAddr)
	hang := &hangingSeeds{release: make(chan struct{}), addr: slowAddr}
	fast := &testutil.Seeds{}
	fast.Set(nil, fastAddr)
	c := config(f, hang, fast)
	c.Timeout = time.Minute // the hanging backend is released well before
	r := New(c)
	done := make(chan struct{})
	go func() { defer close(done); r.Pass(context.Background(), true) }()
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(hang.release) }); <-done })
	testutil.Eventually(t, 10*time.Second, func() bool { return len(f.CallTimes(fastAddr)) == 1 },
		"join of the fast backend's address while the other backend hangs")
	select {
	case <-done:
		t.Fatal("the pass ended while a backend had not answered")
	default:
	}
	if n := len(f.CallTimes(slowAddr)); n != 0 {
		t.Fatalf("%d joins of the hanging backend's address before it answered", n)
	}
	release.Do(func() { close(hang.release) })
	<-done
	if n := len(f.CallTimes(slowAddr)); n != 1 {
		t.Errorf("%d joins of %s once its backend answered, want 1", n, slowAddr)
	}
	if got := r.Addrs(); len(got) != 2 || got[0] != slowAddr || got[1] != fastAddr {
		t.Errorf("Addrs() = %v, want both, in backend order", got)
	}
}

// TestDiscoveryBackendTimeoutIsItsOwn: a backend that never answers is cut
// off by its own timeout, the pass ends, and the other backend's
// addresses are joined and kept.
func TestDiscoveryBackendTimeoutIsItsOwn(t *testing.T) {
	const fastAddr = "10.0.0.2:7946"
	f := testutil.NewDist("10.0.0.1:7946", fastAddr)
	hang := &hangingSeeds{release: make(chan struct{}), addr: "10.0.0.8:7946"}
	fast := &testutil.Seeds{}
	fast.Set(nil, fastAddr)
	c := config(f, hang, fast)
	c.Timeout = 200 * time.Millisecond
	obs := &discoveryLog{}
	c.Observer = obs
	r := New(c)
	joined, _ := r.Pass(context.Background(), true)
	if !joined || len(f.CallTimes(fastAddr)) != 1 {
		t.Errorf("joined %v, %d joins of %s: want the fast backend's address joined", joined, len(f.CallTimes(fastAddr)), fastAddr)
	}
	if got := r.Addrs(); len(got) != 1 || got[0] != fastAddr {
		t.Errorf("Addrs() = %v, want [%s]", got, fastAddr)
	}
	if !errors.Is(obs.err(), context.DeadlineExceeded) {
		t.Errorf("the hanging backend's error = %v, want its timeout", obs.err())
	}
}

// discoveryLog is an Observer that keeps the first discovery error.
type discoveryLog struct {
	nopObserver
	mu    sync.Mutex
	first error
}

func (d *discoveryLog) Discovered(_ string, _ int, _ time.Duration, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.first == nil {
		d.first = err
	}
}

func (d *discoveryLog) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.first
}

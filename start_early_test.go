package gencluster

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// slowSeedDist is a fake Dist with two seeds: good, whose join succeeds,
// and slow, whose join fails at once while nothing has been joined yet
// and, once good has been joined, blocks until release is closed (a seed
// that does not answer, whose dial would run to memberlist's TCPTimeout).
type slowSeedDist struct {
	*testutil.Dist
	good, slow string
	joined     atomic.Bool
	blocked    chan struct{} // closed when a join of slow blocks
	release    chan struct{}
}

func (d *slowSeedDist) Connect(ctx context.Context, addr string) error {
	if addr != d.slow {
		err := d.Dist.Connect(ctx, addr)
		if err == nil {
			d.joined.Store(true)
		}
		return err
	}
	if !d.joined.Load() {
		return errors.New("connection refused")
	}
	close(d.blocked)
	select {
	case <-d.release:
		return errors.New("i/o timeout")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestStartReturnsAtTheFirstJoin: Start returns once a join has
// succeeded, while the first pass's other joins are still under way (in a
// join storm each of them waits for CPU, and Start used to wait for them
// all). The seeds are tried in a random order: the runs where the slow
// seed comes after the good one are the ones that show it; the others
// show that a failed first join does not end Start either.
func TestStartReturnsAtTheFirstJoin(t *testing.T) {
	const good, slow, self = "10.9.0.2:7946", "10.9.0.3:7946", "10.9.0.1:7946"
	shown := 0
	for run := 0; run < 40 && shown < 3; run++ {
		d := &slowSeedDist{Dist: testutil.NewDist(self, good), good: good, slow: slow, blocked: make(chan struct{}), release: make(chan struct{})}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := Start(ctx, WithName("self"), WithDist(d), WithAdvertiseAddr(self), WithSeeds(seeds.Static(good, slow)))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(n.Members()) != 2 {
			t.Errorf("run %d: Start returned with members %v, want self and the good seed's", run, n.Members())
		}
		select {
		case <-d.blocked:
			shown++ // Start returned while the slow seed's join was still running
		default:
		}
		close(d.release)
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if shown == 0 {
		t.Fatal("in 40 runs the slow seed never came after the good one: nothing shown")
	}
}

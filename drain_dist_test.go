package gencluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// drainerDist is a Drainer that answers with fixed replies.
type drainerDist struct {
	*calls
	replies []DrainReply
}

func (d *drainerDist) Drain(ctx context.Context) ([]DrainReply, error) {
	return d.replies, d.recordCtx(ctx, "drain")
}

// TestDrainDist: with WithDist, Drain needs a Drainer: without one it is
// ErrDrainUnsupported and the node stays ready; with one, its replies are
// the response, and a member that did not acknowledge is
// ErrNotAcknowledged.
func TestDrainDist(t *testing.T) {
	plain := startFake(t, testutil.NewDist("10.0.0.1:7946"))
	if _, err := plain.Drain(context.Background()); !errors.Is(err, ErrDrainUnsupported) {
		t.Fatalf("Drain on a Dist without Drainer: %v, want ErrDrainUnsupported", err)
	}
	if plain.Draining() {
		t.Fatal("marked draining although the Dist cannot drain")
	}
	if ready, _ := plain.Ready(); !ready {
		t.Fatal("not ready after an unsupported Drain")
	}

	d := &drainerDist{calls: newCalls("10.0.0.2:7946", nil), replies: []DrainReply{
		{Name: "a", Addr: "10.0.0.3:7946", Status: DrainAcked},
		{Name: "b", Addr: "10.0.0.4:7946", Status: DrainGone, Err: "left"},
	}}
	n := startOn(t, d, d.Self)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := n.Drain(ctx)
	if err != nil || replies(res) != "a=acked b=gone" || d.lastCtx() != ctx {
		t.Fatalf("Drain = %s, %v; want the Dist's replies with no error, and ctx passed", replies(res), err)
	}
	if ready, _ := n.Ready(); ready || !n.Draining() {
		t.Fatal("ready after Drain")
	}
	if s := n.LocalMember().State; s != StateDraining {
		t.Fatalf("LocalMember of a Dist without Self: state %v after Drain, want draining", s)
	}
	d.replies = append(d.replies, DrainReply{Name: "c", Status: DrainTimeout, Err: "no answer"})
	if _, err := n.Drain(ctx); !errors.Is(err, ErrNotAcknowledged) {
		t.Fatalf("Drain with c timed out: %v, want ErrNotAcknowledged", err)
	}
	d.err = errors.New("boom")
	if _, err := n.Drain(ctx); err == nil || errors.Is(err, ErrNotAcknowledged) {
		t.Fatalf("Drain with a Dist error: %v, want that error", err)
	}
}

package gossip

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// stalled gossips never and probes once an hour: a broadcast it queues
// does not go out, so memberlist's wait for it would last until its
// timeout.
func stalled(mc *memberlist.Config) {
	fast(mc)
	mc.GossipInterval = 0
	mc.ProbeInterval = time.Hour
	mc.PushPullInterval = 0
}

// TestUpdateMetaCancelledWhileWaiting: a ctx without a deadline that is
// cancelled while memberlist waits for the broadcast ends the wait at once
// (before: a hidden 5s timeout), the update is kept, and Close does not
// wait out memberlist's timer nor leak its goroutine (goleak).
func TestUpdateMetaCancelledWhileWaiting(t *testing.T) {
	a, err := Start(Config{Name: "a", BindAddr: "127.0.0.1:0", Memberlist: stalled})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := start(t, "b", nil)
	if err := a.Connect(context.Background(), b.Addr()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return len(a.Members()) == 2 }, "a to list b")

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- a.UpdateMeta(ctx, map[string]string{"v": "2"}) }()
	time.Sleep(100 * time.Millisecond) // the scenario: the caller gives up after a while
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("UpdateMeta = %v after the cancel, want context.Canceled", err)
	}
	waited := time.Since(start)
	if a.LocalMember().Meta["v"] != "2" {
		t.Errorf("local meta %v, want the update kept", a.LocalMember().Meta)
	}
	closeStart := time.Now()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Close must not wait for memberlist's timer (an hour-scale bound
	// here): compare with the wait the caller chose.
	if took := time.Since(closeStart); took > 10*waited {
		t.Errorf("Close took %v, over ten times the %v UpdateMeta waited", took, waited)
	}
}

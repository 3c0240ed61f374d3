package gossip

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
)

// TestConcurrentLocalUpdates: metadata updates, a drain and Close at
// once. memberlist's UpdateNode reads the local node's address outside
// its lock while another UpdateNode writes it, so without localUpdates'
// gate `go test -race` reports a data race here (2 or 3 runs in 10).
func TestConcurrentLocalUpdates(t *testing.T) {
	for _, peers := range []int{0, 1} {
		t.Run(strconv.Itoa(peers)+"peers", func(t *testing.T) {
			g := start(t, "u", nil)
			if peers > 0 {
				joinTo(t, g, start(t, "p", nil))
			}
			var wg sync.WaitGroup
			updated := make(chan struct{}, 80)
			for w := range 4 {
				wg.Go(func() {
					for i := range 20 {
						err := g.UpdateMeta(context.Background(), map[string]string{"w": strconv.Itoa(w), "i": strconv.Itoa(i)})
						if err != nil && !errors.Is(err, ErrStopped) {
							t.Errorf("UpdateMeta: %v", err)
						}
						updated <- struct{}{}
					}
				})
			}
			wg.Go(func() {
				if _, err := g.Drain(context.Background()); err != nil && !errors.Is(err, ErrStopped) {
					t.Errorf("Drain: %v", err)
				}
			})
			wg.Go(func() {
				// Close once the updates are under way, so that it
				// supersedes some of them.
				for range 12 {
					<-updated
				}
				g.Close()
			})
			wg.Wait()
		})
	}
}

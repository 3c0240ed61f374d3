package vsim

import (
	"context"
	"slices"
	"sync"
)

// Registry is an in-memory seeds.Discoverer that lists the nodes that are
// up, in the order they came up, the way a headless Service lists ready
// pods: a node is added just before it starts and removed when it stops.
type Registry struct {
	mu    sync.Mutex
	addrs []string
}

// Add lists addr.
func (r *Registry) Add(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.addrs, addr) {
		r.addrs = append(r.addrs, addr)
	}
}

// Remove unlists addr.
func (r *Registry) Remove(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.addrs, addr); i >= 0 {
		r.addrs = slices.Delete(r.addrs, i, i+1)
	}
}

// Discover returns the listed addresses.
func (r *Registry) Discover(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.addrs), nil
}

// String names the backend in gencluster's logs and metrics.
func (r *Registry) String() string { return "vsim-registry" }

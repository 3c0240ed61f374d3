// Package discovery is the first stage of the data path: the discovery
// backends a Node asks, resolved once, when Start reads its options, into
// one list that the option checks, the Runner start-up, the metrics and
// the refresh loop all read. A seeds.Merge is expanded into its parts, so
// that each part is named, timed, counted and started on its own.
package discovery

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/seeds"
)

// Backend is one discovery backend and what the Node does with it,
// found once by type assertion.
type Backend struct {
	seeds.Discoverer
	// Name names the backend in logs, errors and the backend label of
	// the metrics: its String method (a spec string for every backend of
	// package seeds), else its Go type.
	Name string
	// Runner is the backend when it works in the background (a
	// seeds.Runner, such as multicast), else nil: the Node starts it
	// before its initial join.
	Runner seeds.Runner
	// Collector is the backend when it has metrics of its own (a
	// prometheus.Collector), else nil: the Node registers it with
	// WithMetrics.
	Collector prometheus.Collector
}

// merged is what a seeds.Merge of several backends implements.
type merged interface {
	Backends() []seeds.Discoverer
}

// Resolve expands ds into their backends: the parts of each seeds.Merge,
// every other Discoverer as itself, in order.
func Resolve(ds ...seeds.Discoverer) []Backend {
	var out []Backend
	for _, d := range ds {
		parts := []seeds.Discoverer{d}
		if m, ok := d.(merged); ok {
			parts = m.Backends()
		}
		for _, p := range parts {
			b := Backend{Discoverer: p, Name: name(p)}
			b.Runner, _ = p.(seeds.Runner)
			b.Collector, _ = p.(prometheus.Collector)
			out = append(out, b)
		}
	}
	return out
}

// Validate checks the backend's configuration when it can (a
// seeds.Validator), so that Start refuses a bad one.
func (b Backend) Validate() error {
	if v, ok := b.Discoverer.(seeds.Validator); ok {
		return v.Validate()
	}
	return nil
}

// name is the backend's String, else its Go type.
func name(d seeds.Discoverer) string {
	if s, ok := d.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", d)
}

package seeds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// merged is the Discoverer returned by Merge.
type merged []Discoverer

// Merge returns a Discoverer that asks every d at once and returns the
// union of their addresses, de-duplicated, in the order of ds (first seen
// first). A backend that fails does not hide the others: Discover returns
// what the rest found together with the joined errors, each prefixed with
// the backend's name (its String method). A slow backend delays the answer only by its own
// time, not by the sum of all of theirs: bound it with Discover's context.
func Merge(ds ...Discoverer) Discoverer {
	if len(ds) == 1 {
		return ds[0]
	}
	return merged(append([]Discoverer(nil), ds...))
}

// Discover asks every backend concurrently and merges the answers once
// all have answered.
func (m merged) Discover(ctx context.Context) ([]string, error) {
	type answer struct {
		addrs []string
		err   error
	}
	answers := make([]answer, len(m))
	var wg sync.WaitGroup
	for i, d := range m {
		wg.Go(func() {
			addrs, err := d.Discover(ctx)
			answers[i] = answer{addrs, err}
		})
	}
	wg.Wait()
	var (
		out  []string
		seen = make(map[string]bool)
		errs []error
	)
	for i, a := range answers {
		if a.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name(m[i]), a.err))
		}
		for _, addr := range a.addrs {
			if !seen[addr] {
				seen[addr] = true
				out = append(out, addr)
			}
		}
	}
	return out, errors.Join(errs...)
}

// Validate validates every backend.
func (m merged) Validate() error {
	var errs []error
	for _, d := range m {
		if err := validate(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Backends returns the merged backends, so that the Node can run and
// observe each one separately (it times and counts discovery per backend,
// and starts each Runner). The method is on an unexported type: it is for
// gencluster's own use, which finds it by type assertion.
func (m merged) Backends() []Discoverer { return append([]Discoverer(nil), m...) }

// String joins the backends' names with spaces, as a spec string would.
func (m merged) String() string {
	names := make([]string, len(m))
	for i, d := range m {
		names[i] = name(d)
	}
	return strings.Join(names, " ")
}

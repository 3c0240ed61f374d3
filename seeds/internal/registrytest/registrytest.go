// Package registrytest holds what the tests of the optional backends
// (seeds/mdns, seeds/multicast) share: a parser over a Registry that holds
// only the package's scheme, and the check of its Register function. It is
// apart from backendtest because it imports seeds, whose own tests import
// backendtest.
package registrytest

import (
	"strings"
	"testing"

	"github.com/gencluster/gencluster/seeds"
)

// Parser returns a parse function over a Registry holding only the scheme
// that register adds, as a program that registered it would have.
func Parser(register func(*seeds.Registry) error) func(string) (seeds.Discoverer, error) {
	return func(spec string) (seeds.Discoverer, error) {
		r := seeds.NewRegistry()
		if err := register(r); err != nil {
			return nil, err
		}
		return r.Parse(spec)
	}
}

// CheckRegister checks that register puts scheme on the Registry given,
// once, and refuses a nil Registry.
func CheckRegister(t *testing.T, register func(*seeds.Registry) error, scheme string) {
	t.Helper()
	r := seeds.NewRegistry()
	if err := register(r); err != nil {
		t.Fatal(err)
	}
	if err := register(r); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("a second Register = %v, want already registered", err)
	}
	if err := register(nil); err == nil || !strings.Contains(err.Error(), "nil Registry") {
		t.Errorf("Register(nil) = %v", err)
	}
	if got := r.Schemes(); len(got) != 1 || got[0] != scheme {
		t.Errorf("Schemes = %v, want [%s]", got, scheme)
	}
}

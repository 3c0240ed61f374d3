package multicast

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/seeds"
	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

// parse parses spec with a Registry holding only this package's scheme,
// as a program that registered it would.
func parse(spec string) (seeds.Discoverer, error) {
	r := seeds.NewRegistry()
	if err := Register(r); err != nil {
		return nil, err
	}
	return r.Parse(spec)
}

// name is the backend's name in logs and metric labels.
func name(d seeds.Discoverer) string { return d.(fmt.Stringer).String() }

func checkSpecErrors(t *testing.T, errs map[string]string) {
	t.Helper()
	backendtest.CheckSpecErrors(t, parse, errs)
}

func writeSeedFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRegister: the scheme goes on the Registry given, once.
func TestRegister(t *testing.T) {
	r := seeds.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	if err := Register(r); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("a second Register = %v, want already registered", err)
	}
	if err := Register(nil); err == nil || !strings.Contains(err.Error(), "nil Registry") {
		t.Errorf("Register(nil) = %v", err)
	}
	if got := r.Schemes(); len(got) != 1 || got[0] != Scheme {
		t.Errorf("Schemes = %v, want [%s]", got, Scheme)
	}
}

package multicast

import (
	"fmt"
	"testing"

	"github.com/gencluster/gencluster/seeds"
	"github.com/gencluster/gencluster/seeds/internal/backendtest"
	"github.com/gencluster/gencluster/seeds/internal/registrytest"
)

// parse parses spec with a Registry holding only this package's scheme,
// as a program that registered it would.
var parse = registrytest.Parser(Register)

// name is the backend's name in logs and metric labels.
func name(d seeds.Discoverer) string { return d.(fmt.Stringer).String() }

func checkSpecErrors(t *testing.T, errs map[string]string) {
	t.Helper()
	backendtest.CheckSpecErrors(t, parse, errs)
}

// TestRegister: the scheme goes on the Registry given, once.
func TestRegister(t *testing.T) { registrytest.CheckRegister(t, Register, Scheme) }

package backendtest

import (
	"fmt"
	"strings"
	"testing"
)

// CheckSpecNames parses each spec with parse and checks that the backend's
// name (its String method) is the given canonical spec.
func CheckSpecNames[D any](t *testing.T, parse func(string) (D, error), names map[string]string) {
	t.Helper()
	for spec, want := range names {
		d, err := parse(spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
			continue
		}
		s, ok := any(d).(fmt.Stringer)
		if !ok {
			t.Errorf("Parse(%q) = %T, which has no String method", spec, d)
			continue
		}
		if got := s.String(); got != want {
			t.Errorf("Parse(%q): Name = %q, want %q", spec, got, want)
		}
	}
}

// CheckSpecErrors checks that parse refuses each spec with an error naming
// the spec and containing the given text.
func CheckSpecErrors[D any](t *testing.T, parse func(string) (D, error), errs map[string]string) {
	t.Helper()
	for spec, want := range errs {
		_, err := parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), spec) {
			t.Errorf("Parse(%q) = %v, want an error naming the spec and %q", spec, err, want)
		}
	}
}

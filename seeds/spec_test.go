package seeds

import (
	"strings"
	"testing"
)

// checkSpecNames parses each spec and checks that the backend's Name is
// the given canonical spec.
func checkSpecNames(t *testing.T, names map[string]string) {
	t.Helper()
	for spec, want := range names {
		d, err := Parse(spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
			continue
		}
		if got := Name(d); got != want {
			t.Errorf("Parse(%q): Name = %q, want %q", spec, got, want)
		}
	}
}

// checkSpecErrors checks that each spec is refused with an error naming
// the spec and containing the given text.
func checkSpecErrors(t *testing.T, errs map[string]string) {
	t.Helper()
	for spec, want := range errs {
		_, err := Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), spec) {
			t.Errorf("Parse(%q) = %v, want an error naming the spec and %q", spec, err, want)
		}
	}
}

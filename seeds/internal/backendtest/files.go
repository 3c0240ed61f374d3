package backendtest

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes text to path (a seed file, a hosts file, a
// resolv.conf), failing t if it cannot.
func WriteFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TempFile writes text to a file called name in a directory of t's own and
// returns its path.
func TempFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	WriteFile(t, p, text)
	return p
}

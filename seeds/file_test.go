package seeds

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

func TestFileHappyPathAndReload(t *testing.T) {
	backendtest.CheckLeaks(t)
	path := filepath.Join(t.TempDir(), "seeds")
	backendtest.WriteFile(t, path, "# cluster seeds\n\n10.0.0.1:7946\n  10.0.0.2:7946   # rack 2\r\n[fd00::3]:7946\n10.0.0.1:7946\nnode-4.example.com:7946")
	f := File(path)
	if err := validate(f); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got, err := f.Discover(context.Background())
	want := []string{"10.0.0.1:7946", "10.0.0.2:7946", "[fd00::3]:7946", "node-4.example.com:7946"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Discover = %q, %v; want %q", got, err, want)
	}

	// The file is re-read on every call.
	backendtest.WriteFile(t, path, "10.0.0.9:7946\n")
	got, err = f.Discover(context.Background())
	if err != nil || !reflect.DeepEqual(got, []string{"10.0.0.9:7946"}) {
		t.Fatalf("after rewrite: Discover = %q, %v", got, err)
	}

	// A comment-only file clears the list on purpose.
	backendtest.WriteFile(t, path, "# nobody\n")
	got, err = f.Discover(context.Background())
	if err != nil || len(got) != 0 {
		t.Fatalf("comment-only file: Discover = %q, %v", got, err)
	}
	if s := name(f); s != "file+"+path {
		t.Errorf("String = %q", s)
	}
}

func TestFileMalformedKeepsLastGood(t *testing.T) {
	backendtest.CheckLeaks(t)
	path := filepath.Join(t.TempDir(), "seeds")
	backendtest.WriteFile(t, path, "10.0.0.1:7946\n10.0.0.2:7946\n")
	f := File(path)
	good, err := f.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// A half-written file: the last line lost its port.
	backendtest.WriteFile(t, path, "10.0.0.1:7946\n# comment\n10.0.0.2:79x\n")
	got, err := f.Discover(context.Background())
	if !reflect.DeepEqual(got, good) {
		t.Errorf("malformed file: got %q, want last good %q", got, good)
	}
	for _, part := range []string{path, "line 3", `"10.0.0.2:79x"`} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("malformed file: error %v does not name %s", err, part)
		}
	}

	// A truncated (zero-byte) file keeps the last good list too.
	backendtest.WriteFile(t, path, "")
	got, err = f.Discover(context.Background())
	if err == nil || !reflect.DeepEqual(got, good) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: got %q, %v; want last good and an error", got, err)
	}

	// So does a vanished file.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	got, err = f.Discover(context.Background())
	if err == nil || !reflect.DeepEqual(got, good) || !strings.Contains(err.Error(), path) {
		t.Errorf("missing file: got %q, %v; want last good and an error naming the file", got, err)
	}
}

func TestFileErrors(t *testing.T) {
	backendtest.CheckLeaks(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")

	// Validate refuses a missing file and an empty path.
	if err := validate(File(missing)); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Validate(missing) = %v, want an error naming the file", err)
	}
	if err := validate(File("")); err == nil {
		t.Error("Validate(\"\") = nil, want an error")
	}
	if _, err := File("").Discover(context.Background()); err == nil {
		t.Error("Discover with empty path: no error")
	}

	// A directory is unreadable as a file.
	if err := validate(File(dir)); err == nil {
		t.Error("Validate(directory) = nil, want an error")
	}

	// Missing file and no good list yet: nothing and an error.
	got, err := File(missing).Discover(context.Background())
	if err == nil || got != nil {
		t.Errorf("Discover(missing) = %q, %v", got, err)
	}

	// A zero-byte file before any good read is simply empty.
	empty := filepath.Join(dir, "empty")
	backendtest.WriteFile(t, empty, "")
	if err := validate(File(empty)); err != nil {
		t.Errorf("Validate(empty file) = %v", err)
	}
	if got, err := File(empty).Discover(context.Background()); err != nil || len(got) != 0 {
		t.Errorf("Discover(empty file) = %q, %v", got, err)
	}

	// Each kind of bad line, named by number and text; first read has no
	// good list to fall back on.
	for _, tc := range []struct{ text, line, bad string }{
		{"10.0.0.1\n", "line 1", "want host:port"},
		{"ok:1\n:7946\n", "line 2", "empty host"},
		{"ok:1\n\n\nhost:0\n", "line 4", "port"},
		{"host:65536\n", "line 1", "port"},
		{"a:1 b:2\n", "line 1", "host:port"},
		{"ho/st:1\n", "line 1", "invalid host"},
		{strings.Repeat("x", 200) + "\n", "line 1", "..."},
	} {
		path := filepath.Join(dir, "bad")
		backendtest.WriteFile(t, path, tc.text)
		f := File(path)
		verr := validate(f)
		got, err := f.Discover(context.Background())
		for _, e := range []error{verr, err} {
			if e == nil || !strings.Contains(e.Error(), tc.line) || !strings.Contains(e.Error(), tc.bad) || !strings.Contains(e.Error(), path) {
				t.Errorf("%q: error %v, want it to name %s and %q", tc.text, e, tc.line, tc.bad)
			}
		}
		if got != nil {
			t.Errorf("%q: Discover returned %q with no good list", tc.text, got)
		}
	}
}

func TestFileSpec(t *testing.T) {
	backendtest.CheckLeaks(t)
	path := filepath.Join(t.TempDir(), "seeds")
	backendtest.WriteFile(t, path, "10.0.0.1:7946\n")
	d, err := Parse("file+" + path)
	if err != nil {
		t.Fatal(err)
	}
	if name(d) != "file+"+path {
		t.Errorf("Name = %q", name(d))
	}
	if _, err := Parse("file+" + path + ".missing"); err == nil || !strings.Contains(err.Error(), "file+") {
		t.Errorf("Parse(missing file) = %v, want an error naming the spec", err)
	}
}

func FuzzFileLines(f *testing.F) {
	f.Add([]byte("10.0.0.1:7946\n# c\n\n[::1]:1 # x\n"))
	f.Add([]byte("a:1\r\nb:2\r\n"))
	f.Add([]byte("bad\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		addrs, err := parseFileLines(data)
		if err != nil {
			if addrs != nil {
				t.Fatalf("error %v with addresses %q", err, addrs)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q does not start with a line number", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, a := range addrs {
			if err := backendkit.CheckAddr(a); err != nil {
				t.Fatalf("returned bad address %q: %v", a, err)
			}
			if seen[a] {
				t.Fatalf("duplicate %q", a)
			}
			seen[a] = true
			if strings.ContainsAny(a, "#\n") {
				t.Fatalf("address %q holds a comment or newline", a)
			}
		}
	})
}

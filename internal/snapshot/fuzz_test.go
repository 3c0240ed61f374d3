package snapshot

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode checks that Decode never panics, that its errors are of the
// documented kinds, and that what it accepts encodes back to the same
// bytes (the format has one spelling per snapshot).
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 30s ./internal/snapshot
func FuzzDecode(f *testing.F) {
	good, err := Encode(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("gencluster-snapshot 1\ncluster \"\"\nend 0 00000000\n"))
	f.Add([]byte("gencluster-snapshot 2\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b)
		if err != nil {
			var v *VersionError
			var c *CorruptError
			if !errors.Is(err, ErrNotSnapshot) && !errors.As(err, &v) && !errors.As(err, &c) {
				t.Fatalf("Decode(%q): undocumented error %T: %v", b, err, err)
			}
			return
		}
		wantSameBytes(t, b, file)
	})
}

// FuzzDecodeSealed fuzzes the body of a snapshot and seals it with a
// valid end line, so that the fuzzer reaches the line parsers behind the
// checksum.
func FuzzDecodeSealed(f *testing.F) {
	f.Add("cluster \"x\"\nmember \"a\" 10.0.0.1:7946 alive 1700000000\n", 1)
	f.Add("cluster \"\"\nmember \"a \\\"b\\\"\" [::1]:1 failed 0\n", 1)
	f.Add("cluster \"\"\n", 0)
	f.Fuzz(func(t *testing.T, body string, count int) {
		body = "gencluster-snapshot 1\n" + body
		b := []byte(body + endLine(body, count))
		file, err := Decode(b)
		if err != nil {
			var c *CorruptError
			if !errors.As(err, &c) {
				t.Fatalf("Decode(%q): %T %v, want a *CorruptError", b, err, err)
			}
			return
		}
		wantSameBytes(t, b, file)
	})
}

// wantSameBytes fails t unless file, what Decode made of b, encodes back
// to b: the format has one spelling per snapshot.
func wantSameBytes(t *testing.T, b []byte, file File) {
	t.Helper()
	again, err := Encode(file)
	if err != nil {
		t.Fatalf("Decode(%q) = %+v, which Encode refuses: %v", b, file, err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("Decode then Encode changed the bytes:\n%q\n%q", b, again)
	}
}

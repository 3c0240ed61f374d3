package snapshot

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func sample() File {
	return File{Cluster: "prod \"eu\"", Members: []Member{
		{Name: "b node", Addr: "10.0.0.2:7946", State: Failed, Since: time.Unix(1700000100, 0)},
		{Name: "a", Addr: "[fd00::1]:7946", State: Alive, Since: time.Unix(1700000000, 0)},
		{Name: "ünï\"code", Addr: "host.example:1", State: Alive, Since: time.Unix(0, 0)},
	}}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "gencluster-snapshot 1\ncluster \"prod \\\"eu\\\"\"\nmember \"a\" [fd00::1]:7946 alive 1700000000\n") {
		t.Fatalf("unexpected encoding:\n%s", b)
	}
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Cluster != "prod \"eu\"" || len(f.Members) != 3 {
		t.Fatalf("decoded %+v", f)
	}
	want := map[string]Member{}
	for _, m := range sample().Members {
		want[m.Name] = m
	}
	for _, m := range f.Members {
		w := want[m.Name]
		if m.Addr != w.Addr || m.State != w.State || !m.Since.Equal(w.Since) {
			t.Errorf("member %q: got %+v, want %+v", m.Name, m, w)
		}
	}
}

func TestEncodeEmpty(t *testing.T) {
	b, err := Encode(File{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(b)
	if err != nil || f.Cluster != "" || len(f.Members) != 0 {
		t.Fatalf("Decode(Encode(File{})) = %+v, %v", f, err)
	}
}

func TestEncodeRefusesWhatDecodeWould(t *testing.T) {
	for _, m := range []Member{
		{Name: "", Addr: "a:1", State: Alive},
		{Name: "x\ny", Addr: "a:1", State: Alive},
		{Name: strings.Repeat("n", MaxNameLen+1), Addr: "a:1", State: Alive},
		{Name: "n", Addr: "a", State: Alive},
		{Name: "n", Addr: "a b:1", State: Alive},
		{Name: "n", Addr: "a:0", State: Alive},
		{Name: "n", Addr: "a:1", State: 0},
	} {
		if _, err := Encode(File{Members: []Member{m}}); err == nil {
			t.Errorf("Encode accepted %+v", m)
		}
	}
	dup := []Member{{Name: "n", Addr: "a:1", State: Alive}, {Name: "n", Addr: "b:1", State: Alive}}
	if _, err := Encode(File{Members: dup}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("Encode of a duplicate name: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	flip := []byte(s)
	flip[len("gencluster-snapshot 1\ncluster \"prod \\\"eu\\\"\"\nmember \"a\" [fd00::1]:79")] = '5'
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for _, tc := range []struct {
		name, in string
		is       func(error) bool
		want     string
	}{
		{"empty", "", isNot, "not a gencluster snapshot"},
		{"json", `{"members":[]}`, isNot, "not a gencluster snapshot"},
		{"other file", "root:x:0:0:root:/root:/bin/bash\n", isNot, ""},
		{"version 2", "gencluster-snapshot 2\ncluster \"\"\nend 0 00000000\n", isVersion, `version "2"`},
		{"no version", "gencluster-snapshot\n", isVersion, `version ""`},
		{"truncated mid-line", s[:len(s)-5], isCorrupt, "truncated"},
		{"truncated at a line", strings.Join(lines[:3], "\n") + "\n", isCorrupt, "end"},
		{"magic only", "gencluster-snapshot 1\n", isCorrupt, "truncated"},
		{"bit flip", string(flip), isCorrupt, "checksum"},
		{"count", reseal(t, strings.Join(lines[:len(lines)-2], "\n")+"\n", 3), isCorrupt, "counts 3"},
		{"bad cluster", reseal(t, "gencluster-snapshot 1\ncluster prod\n", 0), isCorrupt, "line 2"},
		{"no cluster line", reseal(t, "gencluster-snapshot 1\nmember \"a\" a:1 alive 1\nmember \"b\" b:1 alive 1\n", 1), isCorrupt, "line 2"},
		{"bad state", reseal(t, "gencluster-snapshot 1\ncluster \"\"\nmember \"a\" a:1 suspect 1\n", 1), isCorrupt, `state "suspect"`},
		{"bad addr", reseal(t, "gencluster-snapshot 1\ncluster \"\"\nmember \"a\" a:99999 alive 1\n", 1), isCorrupt, "line 3"},
		{"bad time", reseal(t, "gencluster-snapshot 1\ncluster \"\"\nmember \"a\" a:1 alive -1\n", 1), isCorrupt, "Unix time"},
		{"unquoted name", reseal(t, "gencluster-snapshot 1\ncluster \"\"\nmember a a:1 alive 1\n", 1), isCorrupt, "quoted"},
		{"extra field", reseal(t, "gencluster-snapshot 1\ncluster \"\"\nmember \"a\" a:1 alive 1 x\n", 1), isCorrupt, "want"},
		{"duplicate", reseal(t, "gencluster-snapshot 1\ncluster \"\"\nmember \"a\" a:1 alive 1\nmember \"a\" b:1 alive 1\n", 2), isCorrupt, "twice"},
		{"oversized", "gencluster-snapshot 1\n" + strings.Repeat("x", MaxFileSize), isCorrupt, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if err == nil || !tc.is(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode: %v, want an error of the right kind containing %q", err, tc.want)
			}
		})
	}
}

// reseal appends a valid end line for count members to body.
func reseal(t *testing.T, body string, count int) string {
	t.Helper()
	return body + endLine(body, count)
}

func isNot(err error) bool { return errors.Is(err, ErrNotSnapshot) }
func isVersion(err error) bool {
	var e *VersionError
	return errors.As(err, &e)
}
func isCorrupt(err error) bool {
	var e *CorruptError
	return errors.As(err, &e)
}

package seeds

import (
	"context"
	"slices"
	"testing"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

func TestExecSpec(t *testing.T) {
	checkSpecNames(t, map[string]string{
		"exec+true": "exec+true",
		"exec+/bin/echo?arg=+short&arg=@127.0.0.1":     "exec+/bin/echo?arg=+short&arg=@127.0.0.1",
		"exec+echo?arg=a%20b&arg=&arg=%26%3F%23%3D%25": "exec+echo?arg=a%20b&arg=&arg=%26%3F%23%3D%25",
		"exec+true?port=7946&timeout=2s&column=1":      "exec+true?port=7946&timeout=2s&column=1",
		"exec+true?max-output=100&max-lines=5":         "exec+true?max-output=100&max-lines=5",
		"exec+true?timeout=10s":                        "exec+true", // the default
	})
	checkSpecErrors(t, map[string]string{
		"exec+true?port=0":              "option port: port \"0\"",
		"exec+true?timeout=soon":        "option timeout",
		"exec+true?timeout=-1s":         "exec timeout -1s: want more than 0",
		"exec+true?column=x":            "option column=x: want a number",
		"exec+true?column=0":            "exec column 0: want 1 or more",
		"exec+true?max-lines=0":         "exec max lines 0",
		"exec+true?port=1&port=2":       "option port given twice",
		"exec+true?shell=1":             `unknown option "shell"`,
		"exec+true?arg":                 `option "arg": want key=value`,
		"exec+true?arg=%zz":             "invalid URL escape",
		"exec+/nonexistent/peers?arg=x": "exec /nonexistent/peers x:",
		"exec+%3F":                      `exec ?: exec: "?": executable file not found`,
		"exec+?arg=x":                   "empty command",
	})
}

// TestExecSpecArgs checks that the spec's arguments reach the command as
// they are: one arg= is one argument, percent-decoded, '+' kept.
func TestExecSpecArgs(t *testing.T) {
	backendtest.CheckLeaks(t)
	d, err := Parse("exec+printf?arg=%25s%5Cn&arg=10.0.0.1&arg=+peer%20two&arg=peer-3:1&port=7946&column=1")
	if err != nil {
		t.Fatal(err)
	}
	// printf "%s\n" prints each argument on its own line; "+peer two"
	// reached it as one argument, '+' kept, so line 2 has two columns, of
	// which the first is no host name.
	_, err = d.Discover(context.Background())
	wantErrParts(t, err, `exec printf "%s\\n" 10.0.0.1 "+peer two" peer-3:1: output line 2: "+peer two": host dns name "+peer"`)
	d, err = Parse("exec+printf?arg=%25s%5Cn&arg=10.0.0.1&arg=peer%20two&arg=peer-3:1&port=7946&column=1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.1:7946", "peer:7946", "peer-3:1"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

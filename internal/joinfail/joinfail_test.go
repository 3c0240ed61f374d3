package joinfail

import (
	"errors"
	"strings"
	"testing"
)

// The texts are what memberlist v0.7.0 returned to a joining node in
// in-process runs (see TestIsolatedNodeSaysWhy in the root package, which
// makes each failure with real nodes).
func TestWrapFlattensAndClassifies(t *testing.T) {
	const addr = "127.0.0.1:7946"
	for _, tc := range []struct {
		text  string
		kind  Kind
		cause string
	}{
		{"1 error occurred:\n\t* failed to join 127.0.0.1:7946: no installed keys could decrypt the message\n\n", KeyMismatch, "no installed keys could decrypt the message"},
		{"1 error occurred:\n\t* failed to join 127.0.0.1:7946: remote state is encrypted and encryption is not configured\n\n", PeerEncrypts, "remote state is encrypted and encryption is not configured"},
		{"1 error occurred:\n\t* failed to join 127.0.0.1:7946: encryption is configured but remote state is not encrypted\n\n", PeerPlaintext, "encryption is configured but remote state is not encrypted"},
		{"1 error occurred:\n\t* failed to join 127.0.0.1:7946: EOF\n\n", LabelMismatch, "EOF"},
		{"1 error occurred:\n\t* failed to join 127.0.0.1:7946: dial tcp 127.0.0.1:7946: connect: connection refused\n\n", Refused, "dial tcp: connect: connection refused"},
		{"1 error occurred:\n\t* failed to join 127.0.0.1:7946: read tcp 127.0.0.1:5000->127.0.0.1:7946: i/o timeout\n\n", Unreachable, "read tcp 127.0.0.1:5000: i/o timeout"},
		{"1 error occurred:\n\t* failed to join 127.0.0.1:7946: received invalid msgType (72), expected pushPullMsg (6) from=127.0.0.1:7946\n\n", NotGossip, "received invalid msgType (72), expected pushPullMsg (6)"},
		{"something else", Unknown, "something else"},
	} {
		e := Wrap(addr, errors.New(tc.text))
		if e.Kind != tc.kind || e.Cause != tc.cause {
			t.Errorf("Wrap(%q) = %v, %q; want %v, %q", tc.text, e.Kind, e.Cause, tc.kind, tc.cause)
		}
		if strings.Contains(e.Error(), "\n") || strings.Count(e.Error(), addr) != 1 {
			t.Errorf("Error() = %q: want one line naming %s once", e.Error(), addr)
		}
		if again := Wrap(addr, e); again != e {
			t.Errorf("Wrap of an *Error made another: %v", again)
		}
	}
}

func TestAdviceNamesTheSideThatActs(t *testing.T) {
	for _, k := range []Kind{KeyMismatch, PeerEncrypts, PeerPlaintext, LabelMismatch} {
		if a := k.Advice(true); !strings.Contains(a, "this node") || strings.Contains(a, "nothing to change") {
			t.Errorf("%v alone: %q", k, a)
		}
		if a := k.Advice(false); !strings.Contains(a, "that node") || !strings.Contains(a, "nothing to change on this node") {
			t.Errorf("%v in a cluster: %q", k, a)
		}
		if !k.Mismatch() {
			t.Errorf("%v is not a mismatch", k)
		}
	}
	for _, k := range []Kind{Refused, Unreachable, Unknown} {
		if k.Mismatch() {
			t.Errorf("%v is a mismatch", k)
		}
	}
	if w := Worst(Refused, KeyMismatch, Unreachable); w != KeyMismatch {
		t.Errorf("Worst = %v", w)
	}
}

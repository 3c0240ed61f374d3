package drainproto

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

var (
	sampleReq = request{id: ID{1, 2, 3, 4, 5, 6, 7, 8}, boot: 0xfeedface, name: "api-1"}
	sampleRep = reply{id: ID{9, 8, 7}, seen: true, boot: 42, name: "api-2"}
)

// reencode encodes again what decode made of b: exactly one of req and
// rep, or the test fails.
func reencode(t *testing.T, b []byte, req *request, rep *reply) []byte {
	t.Helper()
	switch {
	case req != nil && rep == nil:
		return encodeRequest(*req)
	case rep != nil && req == nil:
		return encodeReply(*rep)
	}
	t.Fatalf("decode %x: request %v, reply %v: want exactly one", b, req, rep)
	return nil
}

// TestRoundTrip: every message decodes to what was encoded; every
// truncation and a trailing byte are refused.
func TestRoundTrip(t *testing.T) {
	for _, b := range [][]byte{encodeRequest(sampleReq), encodeReply(sampleRep), encodeReply(reply{id: ID{1}, boot: 1, name: strings.Repeat("n", MaxName)})} {
		req, rep, err := decode(b)
		if err != nil {
			t.Fatalf("decode %x: %v", b, err)
		}
		if again := reencode(t, b, req, rep); !bytes.Equal(again, b) {
			t.Fatalf("round trip: %x, want %x", again, b)
		}
		for i := range b {
			if _, _, err := decode(b[:i]); err == nil {
				t.Fatalf("decode of %d of %d bytes accepted", i, len(b))
			}
		}
		if _, _, err := decode(append(bytes.Clone(b), 'x')); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
	req, _, _ := decode(encodeRequest(sampleReq))
	if !reflect.DeepEqual(*req, sampleReq) {
		t.Fatalf("request %+v, want %+v", *req, sampleReq)
	}
	_, rep, _ := decode(encodeReply(sampleRep))
	if !reflect.DeepEqual(*rep, sampleRep) {
		t.Fatalf("reply %+v, want %+v", *rep, sampleRep)
	}
}

// TestDecodeRejects: each malformed message is refused with an error that
// names what is wrong.
func TestDecodeRejects(t *testing.T) {
	req := encodeRequest(sampleReq)
	rep := encodeReply(sampleRep)
	set := func(b []byte, i int, v byte) []byte { b = bytes.Clone(b); b[i] = v; return b }
	long := encodeRequest(request{id: ID{1}, boot: 1, name: strings.Repeat("n", MaxName+1)})
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than its 10-byte header"},
		{"prefix", set(req, 0, 'K'), "starts with 0x4b"},
		{"kind", set(req, 1, 7), "kind 7"},
		{"zero boot", encodeRequest(request{id: ID{1}, name: "a"}), "boot id is zero"},
		{"short boot", req[:header+5], "truncated boot id: 5 of 8"},
		{"empty name", encodeRequest(request{id: ID{1}, boot: 1}), "empty name"},
		{"long name", long, "over the limit of 512"},
		{"name length", set(req, header+8, 9), "name length 9, but 5 bytes are left"},
		{"seen byte", set(rep, header, 2), "seen byte 2"},
		{"reply truncated", rep[:header], "truncated before its seen byte"},
		{"bad varint", append(req[:header+8:header+8], 0x80), "bad name length"},
		{"long varint", append(req[:header+8:header+8], 0x81, 0x00, 'a'), "not in its shortest encoding"},
	} {
		_, _, err := decode(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// FuzzDecode feeds decode what a hostile member could send: it never
// panics, and what it accepts encodes back to the same bytes (a message
// means one thing).
func FuzzDecode(f *testing.F) {
	f.Add(encodeRequest(sampleReq))
	f.Add(encodeReply(sampleRep))
	f.Add(encodeReply(reply{id: ID{1}, boot: 1, name: "x"}))
	f.Add([]byte{Prefix, kindReply})
	f.Add([]byte{Prefix, kindRequest, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, rep, err := decode(b)
		if err != nil {
			if req != nil || rep != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		if again := reencode(t, b, req, rep); !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which encodes back as %x", b, again)
		}
	})
}

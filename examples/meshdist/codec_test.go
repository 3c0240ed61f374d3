package meshdist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func validHello() hello {
	return hello{Version: protocolVersion, Name: "a", Addr: "127.0.0.1:7946", Meta: map[string]string{"zone": "z1"}, Boot: 42,
		Peers: []hint{{Name: "b", Addr: "127.0.0.2:7946"}}}
}

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := validHello()
	if err := writeFrame(&buf, frameHello, in, MinFrameSize); err != nil {
		t.Fatal(err)
	}
	if err := writeFrame(&buf, frameHeartbeat, nil, MinFrameSize); err != nil {
		t.Fatal(err)
	}
	typ, payload, err := readFrame(&buf, MinFrameSize)
	if err != nil || typ != frameHello {
		t.Fatalf("readFrame = %d, %v", typ, err)
	}
	var out hello
	if err := decode(typ, payload, &out); err != nil {
		t.Fatal(err)
	}
	if out.Name != in.Name || out.Addr != in.Addr || out.Boot != in.Boot || out.Meta["zone"] != "z1" || len(out.Peers) != 1 || out.Peers[0] != in.Peers[0] {
		t.Errorf("decoded %+v, want %+v", out, in)
	}
	typ, payload, err = readFrame(&buf, MinFrameSize)
	if err != nil || typ != frameHeartbeat || len(payload) != 0 || expectEmpty(typ, payload) != nil {
		t.Fatalf("heartbeat: %d %q %v", typ, payload, err)
	}
	if _, _, err := readFrame(&buf, MinFrameSize); !errors.Is(err, io.EOF) {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
}

func TestWriteFrameRefusesOversize(t *testing.T) {
	var buf bytes.Buffer
	err := writeFrame(&buf, frameUpdate, update{Meta: map[string]string{"k": strings.Repeat("x", 100)}}, 50)
	if err == nil || !strings.Contains(err.Error(), "exceeds the 50-byte limit") {
		t.Fatalf("err = %v, want the limit named", err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written for a refused frame", buf.Len())
	}
}

// frameBytes builds a raw frame: the length n, then body.
func frameBytes(n uint32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	return append(b, body...)
}

func TestReadFrameRejectsGarbage(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		protocol       bool
	}{
		{"empty frame", string(frameBytes(0, nil)), "empty frame", true},
		{"over the limit", string(frameBytes(1<<31, nil)), "exceeds the 16384-byte limit", true},
		{"unknown type", string(frameBytes(1, []byte{99})), "unknown frame type 99", true},
		{"type zero", string(frameBytes(1, []byte{0})), "unknown frame type 0", true},
		{"truncated header", "\x00\x00", "unexpected EOF", false},
		{"truncated body", string(frameBytes(10, []byte{frameHello, '{'})), "unexpected EOF", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readFrame(strings.NewReader(tc.in), MinFrameSize)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if errors.Is(err, errProtocol) != tc.protocol {
				t.Errorf("errors.Is(err, errProtocol) = %v, want %v", !tc.protocol, tc.protocol)
			}
		})
	}
}

func TestDecodeChecksWhatItReads(t *testing.T) {
	mod := func(f func(h *hello)) hello { h := validHello(); f(&h); return h }
	for _, tc := range []struct {
		name string
		h    hello
		want string
	}{
		{"version", mod(func(h *hello) { h.Version = 2 }), "protocol version 2, want 1"},
		{"empty name", mod(func(h *hello) { h.Name = "" }), "name: empty"},
		{"long name", mod(func(h *hello) { h.Name = strings.Repeat("n", MaxNameLen+1) }), "256 bytes, more than 255"},
		{"no port", mod(func(h *hello) { h.Addr = "127.0.0.1" }), "addr:"},
		{"unspecified addr", mod(func(h *hello) { h.Addr = "0.0.0.0:7946" }), "cannot be dialed"},
		{"port 0", mod(func(h *hello) { h.Addr = "127.0.0.1:0" }), "non-zero port"},
		{"boot 0", mod(func(h *hello) { h.Boot = 0 }), "boot id 0"},
		{"huge meta", mod(func(h *hello) { h.Meta = map[string]string{"k": strings.Repeat("x", MaxMetaSize)} }), "more than 4096"},
		{"bad hint", mod(func(h *hello) { h.Peers = []hint{{Name: "c", Addr: "nope"}} }), `peer "c" addr`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeFrame(&buf, frameHello, tc.h, DefaultMaxFrameSize); err != nil {
				t.Fatal(err)
			}
			typ, payload, err := readFrame(&buf, DefaultMaxFrameSize)
			if err != nil {
				t.Fatal(err)
			}
			var h hello
			err = decode(typ, payload, &h)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errProtocol) {
				t.Fatalf("err = %v, want a protocol error with %q", err, tc.want)
			}
		})
	}
	var h hello
	if err := decode(frameHello, []byte("{not json"), &h); !errors.Is(err, errProtocol) {
		t.Errorf("bad JSON: %v, want a protocol error", err)
	}
	if err := expectEmpty(frameHeartbeat, []byte("{}")); err == nil || !strings.Contains(err.Error(), "2-byte payload") {
		t.Errorf("heartbeat with a payload: %v", err)
	}
}

// FuzzReadFrame feeds arbitrary bytes to the reader and the decoders, as a
// hostile peer would: they may fail, never panic, and never accept a frame
// over the limit.
func FuzzReadFrame(f *testing.F) {
	var good bytes.Buffer
	writeFrame(&good, frameHello, validHello(), MinFrameSize)
	f.Add(good.Bytes())
	f.Add(frameBytes(5, []byte{frameUpdate, '{', '}', ' ', ' '}))
	f.Add(frameBytes(1<<20, nil))
	f.Add([]byte{0, 0, 0, 3, framePeers, 'n', 'u'})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			typ, payload, err := readFrame(r, 1024)
			if err != nil {
				return
			}
			if len(payload)+1 > 1024 {
				t.Fatalf("accepted a frame of %d bytes over the 1024 limit", len(payload)+1)
			}
			for _, v := range []any{&hello{}, &update{}, &peersMsg{}, &refuse{}} {
				_ = decode(typ, payload, v)
			}
		}
	})
}

package keyproto

import (
	"bytes"
	"reflect"
	"testing"
)

func sampleMsgs() []keyMsg {
	return []keyMsg{
		{kind: kindRequest, op: Install, id: [16]byte{1, 2, 3}, time: 1700000000123456789, from: "node-1", key: k(7)},
		{kind: kindRequest, op: List, id: [16]byte{9}, time: -5, from: ""},
		{kind: kindResponse, op: Use, id: [16]byte{4}, time: 42, from: "n2", status: respRefused, message: "key is not installed",
			keys: [][fingerprintSz]byte{fingerprint(k(1)), fingerprint(k(2))}},
		{kind: kindResponse, op: Encrypt, id: [16]byte{5}, time: 43, from: "n3", plaintext: true, keys: [][fingerprintSz]byte{fingerprint(k(3))}},
	}
}

func TestKeyMsgRoundTrip(t *testing.T) {
	for _, m := range sampleMsgs() {
		b, err := encodeKeyMsg(m)
		if err != nil {
			t.Fatalf("encode %+v: %v", m, err)
		}
		got, err := decodeKeyMsg(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
		// Every truncation is refused, and so is a trailing byte.
		for i := range b {
			if _, err := decodeKeyMsg(b[:i]); err == nil {
				t.Fatalf("decode of %d of %d bytes accepted", i, len(b))
			}
		}
		if _, err := decodeKeyMsg(append(bytes.Clone(b), 0)); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

func TestKeyMsgRejects(t *testing.T) {
	if _, err := encodeKeyMsg(keyMsg{kind: kindRequest, op: Install, key: make([]byte, 33)}); err == nil {
		t.Fatal("33-byte key encoded")
	}
	if _, err := encodeKeyMsg(keyMsg{kind: 9, op: List}); err == nil {
		t.Fatal("unknown kind encoded")
	}
	b, _ := encodeKeyMsg(keyMsg{kind: kindRequest, op: List})
	b[1] = 99 // unknown op
	if _, err := decodeKeyMsg(b); err == nil {
		t.Fatal("unknown op decoded")
	}
}

func TestSealOpen(t *testing.T) {
	body := []byte("hello")
	b, err := seal(k(1), body)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := open([][]byte{k(2), k(1)}, b); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("open with the key second: %q, %v", got, err)
	}
	if _, err := open([][]byte{k(2)}, b); err == nil {
		t.Fatal("opened without the key")
	}
	b[len(b)-1] ^= 1
	if _, err := open([][]byte{k(1)}, b); err == nil {
		t.Fatal("opened a changed message")
	}
	if _, err := seal(k(1)[:5], body); err == nil {
		t.Fatal("sealed with a 5-byte key")
	}
	if fp := Fingerprint(k(1)); len(fp) != 16 || bytes.Contains([]byte(fp), k(1)) {
		t.Fatalf("fingerprint %q", fp)
	}
}

// FuzzKeyMsg: no input panics the decoder or the opener, and whatever
// decodes re-encodes to the same bytes (one encoding per message).
func FuzzKeyMsg(f *testing.F) {
	for _, m := range sampleMsgs() {
		b, _ := encodeKeyMsg(m)
		f.Add(b)
		s, _ := seal(k(1), b)
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{Prefix, sealVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = open([][]byte{k(1)}, b)
		m, err := decodeKeyMsg(b)
		if err != nil {
			return
		}
		again, err := encodeKeyMsg(m)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("%x decoded to %+v, which encodes to %x", b, m, again)
		}
	})
}

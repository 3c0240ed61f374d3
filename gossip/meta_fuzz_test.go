package gossip

import (
	"bytes"
	"maps"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeMeta feeds decodeMeta bytes as a hostile peer could gossip
// them: it must never panic, and whatever it accepts must survive a round
// trip through EncodeMeta (when EncodeMeta accepts it: a peer may send an
// empty key or invalid UTF-8, which we decode but would never send).
func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []map[string]string{
		nil,
		{"zone": "eu-1"},
		{"zone": "eu-1", "version": "1.4.2", "empty": ""},
		{"ключ": "значение ✓"},
	} {
		b, err := EncodeMeta(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, v := range []byte{metaV1, metaV2} {
		leaving, _ := encodeMeta(map[string]string{"a": "b"}, flagLeaving, life{boot: 0xfeed, start: 1767225600000}, v)
		f.Add(leaving)
		draining, _ := encodeMeta(map[string]string{"a": "b"}, flagDraining|flagLeaving, life{boot: 0xfeed, start: 1767225600000}, v)
		f.Add(draining)
	}
	// metaV2 truncated in its life, and with a zero boot id.
	f.Add([]byte{metaV2, 0, 1, 2, 3})
	f.Add(append([]byte{metaV2, 0}, make([]byte, lifeLenV2)...))
	// A node of a version before boot ids: no empty-key entry.
	f.Add([]byte{metaV1, 0, 1, 'k', 1, 'v'})
	// A bad boot id entry.
	f.Add(append([]byte{metaV1, 0, 0, lifeLen}, "0000000000000000000000000000"...))
	f.Add([]byte{})
	f.Add([]byte{metaV1})
	f.Add([]byte{metaV1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{metaV1, 0, 5, 'a'})
	f.Add([]byte{2, 0})

	f.Fuzz(func(t *testing.T, b []byte) {
		m, flags, id, err := decodeMeta(b)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with a non-nil map", err)
			}
			return
		}
		if len(b) > 0 && len(b) < 2 {
			t.Fatalf("accepted %d bytes, shorter than the header", len(b))
		}
		// Re-encoded in the encoding it came in (empty input: metaV1).
		version := metaV1
		if len(b) > 0 {
			version = b[0]
		}
		enc, err := encodeMeta(m, flags, id, version)
		if err != nil {
			// Only what we refuse to send may fail to re-encode.
			// Metadata must fit metaV1, the fallback encoding, which
			// is 16 bytes longer than metaV2 for a node with a life.
			limit := maxMetaSize
			if version == metaV2 && id != (life{}) {
				limit -= lifeOverhead - lifeLenV2
			}
			if len(b) <= limit && validForEncode(m) {
				t.Fatalf("decoded %q from %x but cannot encode it: %v", m, b, err)
			}
			return
		}
		if len(enc) > maxMetaSize {
			t.Fatalf("encoded %d bytes, over the limit", len(enc))
		}
		back, backFlags, backID, err := decodeMeta(enc)
		if err != nil {
			t.Fatalf("decode(encode(%q)): %v", m, err)
		}
		if backFlags != flags || !maps.Equal(back, m) || backID != id {
			t.Fatalf("round trip: %q flags %d life %v became %q flags %d life %v", m, flags, id, back, backFlags, backID)
		}
		// The encoding is canonical: encoding again gives the same bytes.
		if again, _ := encodeMeta(back, backFlags, backID, version); !bytes.Equal(again, enc) {
			t.Fatalf("encoding not canonical: %x then %x", enc, again)
		}
	})
}

func validForEncode(m map[string]string) bool {
	for k, v := range m {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

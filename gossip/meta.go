package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

// MaxMetaSize is the most bytes of encoded metadata memberlist gossips per
// node (memberlist.MetaMaxSize). Metadata that encodes larger is refused,
// never truncated.
const MaxMetaSize = memberlist.MetaMaxSize

// metaVersion is the first byte of every encoding, so the format can change
// without old nodes misreading new ones.
const metaVersion = 1

// flagLeaving marks a node that is about to leave gracefully. memberlist
// does not tell its EventDelegate whether a node left or failed (the State
// field of the Node it passes is never set: memberlist issue #293), so a
// leaving node first gossips this flag in its metadata, and the others read
// it when the node disappears.
const flagLeaving = 1 << 0

// encodeMeta encodes user metadata and internal flags as
//
//	version(1) flags(1) { uvarint(len(key)) key uvarint(len(val)) val }*
//
// with keys sorted, so equal maps encode to equal bytes and memberlist's
// "meta changed" check is exact.
func encodeMeta(meta map[string]string, flags byte) ([]byte, error) {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := []byte{metaVersion, flags}
	for _, k := range keys {
		if err := checkMetaString("key", k); err != nil {
			return nil, err
		}
		if k == "" {
			return nil, errors.New("metadata key is empty")
		}
		v := meta[k]
		if err := checkMetaString("value of "+k, v); err != nil {
			return nil, err
		}
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	if len(buf) > MaxMetaSize {
		return nil, fmt.Errorf("metadata encodes to %d bytes, over memberlist's limit of %d bytes", len(buf), MaxMetaSize)
	}
	return buf, nil
}

func checkMetaString(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("metadata %s %q is not valid UTF-8", what, s)
	}
	return nil
}

// EncodeMeta returns the bytes gossiped for meta, or an error naming the
// problem (invalid UTF-8, an empty key, or over MaxMetaSize). Use it to
// check metadata before starting a node.
func EncodeMeta(meta map[string]string) ([]byte, error) { return encodeMeta(meta, 0) }

// decodeMeta is the inverse of encodeMeta. Its input comes from the
// network, so it checks every length and returns an error, never panics,
// on bad bytes. Empty input (a node that set no metadata, or a plain
// memberlist node) decodes to a nil map.
func decodeMeta(b []byte) (map[string]string, byte, error) {
	if len(b) == 0 {
		return nil, 0, nil
	}
	if b[0] != metaVersion {
		return nil, 0, fmt.Errorf("metadata version %d, want %d", b[0], metaVersion)
	}
	if len(b) < 2 {
		return nil, 0, errors.New("metadata truncated after version")
	}
	flags := b[1]
	rest := b[2:]
	var m map[string]string
	for len(rest) > 0 {
		k, r, err := readString(rest)
		if err != nil {
			return nil, 0, fmt.Errorf("metadata key: %w", err)
		}
		v, r, err := readString(r)
		if err != nil {
			return nil, 0, fmt.Errorf("metadata value of %q: %w", k, err)
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = v
		rest = r
	}
	return m, flags, nil
}

func readString(b []byte) (string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return "", nil, errors.New("bad length")
	}
	b = b[w:]
	if n > uint64(len(b)) {
		return "", nil, fmt.Errorf("length %d exceeds the %d bytes left", n, len(b))
	}
	return string(b[:n]), b[n:], nil
}

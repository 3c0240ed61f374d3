package gossip

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

// maxMetaSize is the most bytes of encoded metadata memberlist gossips per
// node (memberlist.MetaMaxSize). Metadata that encodes larger is refused,
// never truncated.
const maxMetaSize = memberlist.MetaMaxSize

// The metadata encodings. The first byte of every encoding is its
// version, so old nodes refuse what they cannot read instead of misreading
// it. Every node decodes both; which one a node sends is decided by what
// every live member can read (wire.go).
const (
	// metaV1: version, flags, then the entries, the life among them as
	// the entry with the empty key (28 hex digits). Every gencluster
	// version decodes it.
	metaV1 byte = 1
	// metaV2: version, flags, the life in 14 bytes (boot id, start
	// time), then the entries. 16 bytes shorter than metaV1 for every
	// node in every alive message: with few seeds, formation runs on
	// gossip packets of alive messages, and the 32 bytes metaV1 adds to
	// each (against none in plain memberlist) cost the members that
	// learn of a late starter by gossip a third of a second at N = 100
	// (docs/benchmarks.md, section 7).
	metaV2 byte = 2
)

// flagLeaving marks a node that is about to leave gracefully. memberlist
// does not tell its EventDelegate whether a node left or failed (the State
// field of the Node it passes is never set: memberlist issue #293), so a
// leaving node first gossips this flag in its metadata, and the others read
// it when the node disappears.
const flagLeaving = 1 << 0

// flagDraining marks a node that called Drain: it stays a live member
// until it leaves, but owns no work (membership.StateDraining). It is
// never cleared in the node's life, and a leaving node keeps it, so the
// others see draining, then the leave, and never alive in between.
// gencluster versions that predate it ignore it and see the node alive.
const flagDraining = 1 << 1

// life identifies one Start of a node: its boot id (membership.BootID)
// and when it started, in Unix milliseconds. The start time decides which
// of two live nodes with one name is the claimant (the later one, see
// conflict.go). The zero life is a node that sent none.
type life struct {
	boot  uint64
	start int64
}

// lifeLen is the length of the life in metaV1: 16 hex digits of boot id,
// 12 of start time (milliseconds up to the year 10889).
const lifeLen = 28

// lifeLenV2 is the length of the life in metaV2: the boot id in 8 bytes
// and the start time in 6, both big-endian.
const lifeLenV2 = 14

// encodeMeta encodes user metadata, internal flags and the node's life in
// encoding version (metaV1 or metaV2):
//
//	metaV1: version(1) flags(1) { uvarint(len(key)) key uvarint(len(val)) val }*
//	metaV2: version(1) flags(1) boot(8) start(6) { same entries }*
//
// with keys sorted, so equal maps encode to equal bytes and memberlist's
// "meta changed" check is exact. In metaV1 the life, when non-zero, is the
// entry with the empty key (a key user metadata may not have, so it sorts
// first): its value is lifeLen hex digits; gencluster versions that
// predate it decode the same bytes and show the entry as metadata with an
// empty key. In metaV2 the zero life is 14 zero bytes.
//
// Metadata is refused when either encoding would be over maxMetaSize, so
// a node can always fall back to metaV1 (wire.go).
func encodeMeta(meta map[string]string, flags byte, id life, version byte) ([]byte, error) {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := []byte{version, flags}
	v1Extra := 0 // how much longer metaV1 is than buf will be
	switch version {
	case metaV1:
		if id != (life{}) {
			buf = binary.AppendUvarint(buf, 0)
			buf = binary.AppendUvarint(buf, lifeLen)
			buf = fmt.Appendf(buf, "%016x%012x", id.boot, uint64(id.start)&(1<<48-1))
		}
	case metaV2:
		buf = binary.BigEndian.AppendUint64(buf, id.boot)
		var start [8]byte
		binary.BigEndian.PutUint64(start[:], uint64(id.start))
		buf = append(buf, start[2:]...) // its low 48 bits, as in metaV1
		v1Extra = -lifeLenV2
		if id != (life{}) {
			v1Extra += lifeOverhead
		}
	default:
		return nil, fmt.Errorf("metadata version %d unknown", version)
	}
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
	if n := max(len(buf), len(buf)+v1Extra); n > maxMetaSize {
		return nil, fmt.Errorf("metadata encodes to %d bytes, over memberlist's limit of %d bytes (%d of them this node's boot id)", n, maxMetaSize, lifeOverhead)
	}
	return buf, nil
}

// lifeOverhead is what the life takes of maxMetaSize.
const lifeOverhead = 2 + lifeLen

// parseLife decodes the value of the empty-key entry.
func parseLife(v string) (life, error) {
	if len(v) != lifeLen || strings.ToLower(v) != v {
		return life{}, fmt.Errorf("metadata boot id %q: want %d lower-case hex digits", v, lifeLen)
	}
	boot, err1 := strconv.ParseUint(v[:16], 16, 64)
	start, err2 := strconv.ParseUint(v[16:], 16, 64)
	if err1 != nil || err2 != nil || boot == 0 {
		return life{}, fmt.Errorf("metadata boot id %q: want %d lower-case hex digits, a non-zero id first", v, lifeLen)
	}
	return life{boot: boot, start: int64(start)}, nil
}

func checkMetaString(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("metadata %s %q is not valid UTF-8", what, s)
	}
	return nil
}

// EncodeMeta returns the bytes gossiped for meta, or an error naming the
// problem (invalid UTF-8, an empty key, or over maxMetaSize). Use it to
// check metadata before starting a node: a running node also gossips its
// boot id, which takes 30 of the maxMetaSize bytes in the encoding every
// gencluster version reads (metaV1, which a node falls back to when an
// older member is live, wire.go), and this check counts them.
func EncodeMeta(meta map[string]string) ([]byte, error) {
	return encodeMeta(meta, 0, life{boot: 1}, metaV1)
}

// decodeMeta is the inverse of encodeMeta, for either encoding. Its input
// comes from the network, so it checks every length and returns an error,
// never panics, on bad bytes. Empty input (a node that set no metadata, or
// a plain memberlist node) decodes to a nil map and the zero life.
func decodeMeta(b []byte) (map[string]string, byte, life, error) {
	if len(b) == 0 {
		return nil, 0, life{}, nil
	}
	if b[0] != metaV1 && b[0] != metaV2 {
		return nil, 0, life{}, fmt.Errorf("metadata version %d, want %d or %d", b[0], metaV1, metaV2)
	}
	if len(b) < 2 {
		return nil, 0, life{}, errors.New("metadata truncated after version")
	}
	flags := b[1]
	rest := b[2:]
	var id life
	if b[0] == metaV2 {
		if len(rest) < lifeLenV2 {
			return nil, 0, life{}, fmt.Errorf("metadata truncated in the boot id: %d bytes, want %d", len(rest), lifeLenV2)
		}
		boot := binary.BigEndian.Uint64(rest)
		var st [8]byte
		copy(st[2:], rest[8:lifeLenV2])
		start := binary.BigEndian.Uint64(st[:])
		if boot == 0 && start != 0 {
			return nil, 0, life{}, fmt.Errorf("metadata boot id 0 with start time %d: want a non-zero id, or neither", start)
		}
		id, rest = life{boot: boot, start: int64(start)}, rest[lifeLenV2:]
	}
	var m map[string]string
	for len(rest) > 0 {
		k, r, err := readString(rest)
		if err != nil {
			return nil, 0, life{}, fmt.Errorf("metadata key: %w", err)
		}
		v, r, err := readString(r)
		if err != nil {
			return nil, 0, life{}, fmt.Errorf("metadata value of %q: %w", k, err)
		}
		rest = r
		if k == "" {
			if b[0] == metaV2 {
				return nil, 0, life{}, errors.New("metadata key is empty")
			}
			if id, err = parseLife(v); err != nil {
				return nil, 0, life{}, err
			}
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = v
	}
	return m, flags, id, nil
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

// newLife draws this Start's boot id (random, non-zero) and notes the
// start time.
func newLife() (life, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return life{}, fmt.Errorf("boot id: %w", err)
		}
		if boot := binary.BigEndian.Uint64(b[:]); boot != 0 {
			return life{boot: boot, start: time.Now().UnixMilli()}, nil
		}
	}
}

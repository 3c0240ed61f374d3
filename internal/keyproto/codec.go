package keyproto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// The wire format of the cluster-wide key operations (endpoint.go).
//
// A key operation message is a memberlist user message sent with
// SendReliable (one TCP stream, encrypted by memberlist with its primary
// key). Its payload is sealed once more, with AES-GCM under a key of the
// sender's keyring: memberlist accepts plaintext user messages while
// GossipVerifyIncoming is off (during a migration), and the inner seal
// makes a key operation readable and acceptable only by key holders in
// every mode.
//
//	sealed: Prefix, sealVersion, nonce (12 bytes), AES-GCM(body), AAD sealAAD
//	body:   kind, op, id (16 bytes), time (int64 Unix ns, big-endian),
//	        from (uvarint length + bytes), then
//	        request:  key (uvarint length + bytes; empty for list/encrypt)
//	        response: status, flags, message (uvarint length + bytes),
//	                  key count (1 byte), fingerprints (8 bytes each,
//	                  primary first)
const (
	// Prefix is the first byte of every key operation message: the
	// host hands the messages that start with it to Endpoint.Notify.
	Prefix      byte = 0x4b // 'K'
	sealVersion byte = 1
	sealNonce        = 12

	kindRequest  byte = 1
	kindResponse byte = 2

	maxNameLen    = 512
	maxMessageLen = 1024
	maxKeys       = 64
	fingerprintSz = 8
)

var sealAAD = []byte("gencluster keyops v1")

// keyMsg is one decoded key operation message: a request or a response.
type keyMsg struct {
	kind byte
	op   Op
	id   [16]byte
	time int64 // Unix ns, set by the sender
	from string

	key []byte // request: the key of install, use and remove

	status    byte // response: 0 done, 1 refused
	plaintext bool // response: the member has keys pending (migration), not in use
	message   string
	keys      [][fingerprintSz]byte // response: the member's keys, primary first
}

const (
	respDone    byte = 0
	respRefused byte = 1

	flagPlaintext byte = 1
)

var errBadKeyMsg = errors.New("malformed key operation message")

// encodeKeyMsg serialises m. It fails only on values no peer would accept.
func encodeKeyMsg(m keyMsg) ([]byte, error) {
	if len(m.from) > maxNameLen || len(m.message) > maxMessageLen || len(m.keys) > maxKeys || len(m.key) > 32 {
		return nil, fmt.Errorf("key operation message over the limits (name %d, message %d, keys %d)", len(m.from), len(m.message), len(m.keys))
	}
	b := make([]byte, 0, 64+len(m.from)+len(m.key)+len(m.message)+fingerprintSz*len(m.keys))
	b = append(b, m.kind, byte(m.op))
	b = append(b, m.id[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.time))
	b = appendString(b, m.from)
	switch m.kind {
	case kindRequest:
		b = appendString(b, string(m.key))
	case kindResponse:
		var flags byte
		if m.plaintext {
			flags |= flagPlaintext
		}
		b = append(b, m.status, flags)
		b = appendString(b, m.message)
		b = append(b, byte(len(m.keys)))
		for _, fp := range m.keys {
			b = append(b, fp[:]...)
		}
	default:
		return nil, fmt.Errorf("key operation message of kind %d", m.kind)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeKeyMsg parses a body. Any input is safe: errors, never panics.
func decodeKeyMsg(b []byte) (keyMsg, error) {
	var m keyMsg
	r := reader{b: b}
	m.kind = r.byte()
	m.op = Op(r.byte())
	copy(m.id[:], r.bytes(16))
	m.time = int64(binary.BigEndian.Uint64(pad8(r.bytes(8))))
	m.from = string(r.str(maxNameLen))
	switch m.kind {
	case kindRequest:
		if k := r.str(32); len(k) > 0 {
			m.key = append([]byte(nil), k...)
		}
	case kindResponse:
		m.status = r.byte()
		flags := r.byte()
		m.plaintext = flags&flagPlaintext != 0
		m.message = string(r.str(maxMessageLen))
		n := int(r.byte())
		if n > maxKeys {
			r.err = true
		}
		for i := 0; i < n && !r.err; i++ {
			var fp [fingerprintSz]byte
			copy(fp[:], r.bytes(fingerprintSz))
			m.keys = append(m.keys, fp)
		}
		if m.status > respRefused || flags&^flagPlaintext != 0 {
			r.err = true
		}
	default:
		r.err = true
	}
	if r.err || len(r.b) != 0 || !m.op.valid() {
		return keyMsg{}, errBadKeyMsg
	}
	return m, nil
}

// reader consumes a byte slice; after the first short read every read
// returns zero values and err stays set.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) bytes(n int) []byte {
	if r.err || n < 0 || len(r.b) < n {
		r.err = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) str(max int) []byte {
	if r.err {
		return nil
	}
	n, k := binary.Uvarint(r.b)
	// One encoding per value: a padded (non-minimal) varint is refused.
	if k <= 0 || n > uint64(max) || k != len(binary.AppendUvarint(nil, n)) {
		r.err = true
		return nil
	}
	r.b = r.b[k:]
	return r.bytes(int(n))
}

func pad8(b []byte) []byte {
	if len(b) != 8 {
		return make([]byte, 8)
	}
	return b
}

// seal encrypts body under key into a user message payload.
func seal(key, body []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 2+sealNonce, 2+sealNonce+len(body)+gcm.Overhead())
	out[0], out[1] = Prefix, sealVersion
	if _, err := rand.Read(out[2 : 2+sealNonce]); err != nil {
		return nil, err
	}
	return gcm.Seal(out, out[2:2+sealNonce], body, sealAAD), nil
}

// open decrypts a payload made by seal with any of keys.
func open(keys [][]byte, b []byte) ([]byte, error) {
	if len(b) < 2+sealNonce || b[0] != Prefix || b[1] != sealVersion {
		return nil, errBadKeyMsg
	}
	nonce, ct := b[2:2+sealNonce], b[2+sealNonce:]
	for _, k := range keys {
		gcm, err := newGCM(k)
		if err != nil {
			continue
		}
		if plain, err := gcm.Open(nil, nonce, ct, sealAAD); err == nil {
			return plain, nil
		}
	}
	return nil, errors.New("key operation message not sealed with a key of this node")
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func fingerprint(key []byte) [fingerprintSz]byte {
	sum := sha256.Sum256(key)
	var fp [fingerprintSz]byte
	copy(fp[:], sum[:])
	return fp
}

// Fingerprint names a key without revealing it: the first 8 bytes of
// its SHA-256, in hex. Key listings report fingerprints, never keys.
func Fingerprint(key []byte) string {
	fp := fingerprint(key)
	return hex.EncodeToString(fp[:])
}

package drainproto

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The wire format. Both messages start with Prefix, the byte the host's
// message router dispatches on, and a kind:
//
//	request: Prefix kindRequest id(8) boot(8) uvarint(len(name)) name
//	reply:   Prefix kindReply   id(8) seen(1) boot(8) uvarint(len(name)) name
//
// A request names the asker and the boot id of its current life; id is
// the drain's random call id, which the reply repeats. A reply names the
// answerer and its boot id, and says whether the answerer's view holds the
// asker draining in that life (seen 1) or not yet (seen 0). The name runs
// to the end of the message: a length that does not match what is left is
// an error, as is anything else out of place, so a message means one
// thing. Integers are big-endian.
//
// The bytes travel inside the host's channel (memberlist's TCP user
// messages, encrypted and labelled as the cluster's gossip is): they carry
// no key material and need no sealing of their own, unlike the key
// operations (internal/keyproto).

// Prefix is the first byte of every drain message.
const Prefix byte = 0x44 // 'D'

// The message kinds.
const (
	kindRequest byte = 1
	kindReply   byte = 2
)

// MaxName is the longest member name a message may carry, in bytes.
const MaxName = 512

// ID identifies one drain call.
type ID [8]byte

// request asks: does your view hold me (name, boot) draining?
type request struct {
	id   ID
	boot uint64
	name string
}

// reply answers a request.
type reply struct {
	id   ID
	seen bool
	boot uint64 // the answerer's
	name string // the answerer's
}

func appendName(b []byte, name string) []byte {
	b = binary.AppendUvarint(b, uint64(len(name)))
	return append(b, name...)
}

func encodeRequest(r request) []byte {
	b := append([]byte{Prefix, kindRequest}, r.id[:]...)
	b = binary.BigEndian.AppendUint64(b, r.boot)
	return appendName(b, r.name)
}

func encodeReply(r reply) []byte {
	b := append([]byte{Prefix, kindReply}, r.id[:]...)
	seen := byte(0)
	if r.seen {
		seen = 1
	}
	b = append(b, seen)
	b = binary.BigEndian.AppendUint64(b, r.boot)
	return appendName(b, r.name)
}

// header is Prefix, kind and id.
const header = 2 + len(ID{})

// decode parses one message: exactly one of the results is set, or the
// error says what is wrong with b. Its input comes from the network: it
// checks every length and never panics.
func decode(b []byte) (*request, *reply, error) {
	if len(b) < header {
		return nil, nil, fmt.Errorf("drain message of %d bytes, shorter than its %d-byte header", len(b), header)
	}
	if b[0] != Prefix {
		return nil, nil, fmt.Errorf("drain message starts with %#x, want %#x", b[0], Prefix)
	}
	var id ID
	copy(id[:], b[2:header])
	rest := b[header:]
	switch b[1] {
	case kindRequest:
		boot, rest, err := readBoot(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("drain request: %w", err)
		}
		name, err := readName(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("drain request: %w", err)
		}
		return &request{id: id, boot: boot, name: name}, nil, nil
	case kindReply:
		if len(rest) < 1 {
			return nil, nil, errors.New("drain reply: truncated before its seen byte")
		}
		if rest[0] > 1 {
			return nil, nil, fmt.Errorf("drain reply: seen byte %d, want 0 or 1", rest[0])
		}
		seen := rest[0] == 1
		boot, rest, err := readBoot(rest[1:])
		if err != nil {
			return nil, nil, fmt.Errorf("drain reply: %w", err)
		}
		name, err := readName(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("drain reply: %w", err)
		}
		return nil, &reply{id: id, seen: seen, boot: boot, name: name}, nil
	}
	return nil, nil, fmt.Errorf("drain message kind %d, want %d (request) or %d (reply)", b[1], kindRequest, kindReply)
}

func readBoot(b []byte) (uint64, []byte, error) {
	if len(b) < 8 {
		return 0, nil, fmt.Errorf("truncated boot id: %d of 8 bytes", len(b))
	}
	boot := binary.BigEndian.Uint64(b)
	if boot == 0 {
		return 0, nil, errors.New("boot id is zero")
	}
	return boot, b[8:], nil
}

// readName reads the name that ends the message: its length must match
// exactly the bytes left.
func readName(b []byte) (string, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return "", errors.New("bad name length")
	}
	if w != len(binary.AppendUvarint(nil, n)) {
		return "", fmt.Errorf("name length %d not in its shortest encoding", n)
	}
	b = b[w:]
	switch {
	case n == 0:
		return "", errors.New("empty name")
	case n > MaxName:
		return "", fmt.Errorf("name length %d over the limit of %d", n, MaxName)
	case n != uint64(len(b)):
		return "", fmt.Errorf("name length %d, but %d bytes are left", n, len(b))
	}
	return string(b), nil
}

package multicast

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// Wire format constants of a multicast announcement.
const (
	mcMagic     = "GCMC"
	mcVersion   = 1
	mcFlagMAC   = 1
	mcMACLen    = sha256.Size
	mcMaxPacket = 1024
)

// announcement is the decoded form of a multicast announcement. On the wire:
//
//	"GCMC" | version (1 byte, 1) | flags (1 byte, bit 0: MAC follows)
//	| cluster length (1) | cluster | address length (1) | address
//	| timestamp (8, big-endian Unix nanoseconds) | nonce (8)
//	| HMAC-SHA256 of all the preceding bytes (32, when flagged)
type announcement struct {
	Version uint8
	Cluster string
	Addr    string
	Time    int64
	Nonce   uint64
	MAC     []byte // nil when unsigned
	signed  []byte // the bytes the MAC covers
}

// encodeAnnouncement encodes a, signing it when secret is not nil.
func encodeAnnouncement(a announcement, secret []byte) []byte {
	b := make([]byte, 0, 4+3+len(a.Cluster)+1+len(a.Addr)+16+mcMACLen)
	b = append(b, mcMagic...)
	flags := byte(0)
	if secret != nil {
		flags |= mcFlagMAC
	}
	b = append(b, mcVersion, flags, byte(len(a.Cluster)))
	b = append(b, a.Cluster...)
	b = append(b, byte(len(a.Addr)))
	b = append(b, a.Addr...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Time))
	b = binary.BigEndian.AppendUint64(b, a.Nonce)
	if secret != nil {
		h := hmac.New(sha256.New, secret)
		h.Write(b)
		b = h.Sum(b)
	}
	return b
}

var errMalformed = errors.New("malformed announcement")

// decodeAnnouncement parses b. It checks the framing only, not the MAC.
func decodeAnnouncement(b []byte) (announcement, error) {
	var a announcement
	if len(b) > mcMaxPacket || len(b) < 4+3 || string(b[:4]) != mcMagic {
		return a, errMalformed
	}
	a.Version = b[4]
	flags := b[5]
	if a.Version != mcVersion || flags&^mcFlagMAC != 0 {
		return a, errMalformed
	}
	rest := b[6:]
	field := func() (string, bool) {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return "", false
		}
		s := string(rest[1 : 1+int(rest[0])])
		rest = rest[1+int(rest[0]):]
		return s, true
	}
	var ok bool
	if a.Cluster, ok = field(); !ok || a.Cluster == "" {
		return a, errMalformed
	}
	if a.Addr, ok = field(); !ok || a.Addr == "" {
		return a, errMalformed
	}
	if len(rest) < 16 {
		return a, errMalformed
	}
	a.Time = int64(binary.BigEndian.Uint64(rest))
	a.Nonce = binary.BigEndian.Uint64(rest[8:])
	rest = rest[16:]
	a.signed = b[:len(b)-len(rest)]
	if flags&mcFlagMAC != 0 {
		if len(rest) != mcMACLen {
			return a, errMalformed
		}
		a.MAC = rest
	} else if len(rest) != 0 {
		return a, errMalformed
	}
	return a, nil
}

// verify reports whether a is authentic under secret: signed with it when
// there is one, unsigned when there is none.
func (a announcement) verify(secret []byte) bool {
	if secret == nil || a.MAC == nil {
		return secret == nil && a.MAC == nil
	}
	h := hmac.New(sha256.New, secret)
	h.Write(a.signed)
	return hmac.Equal(h.Sum(nil), a.MAC)
}

package vsim

import (
	"bytes"
	"compress/lzw"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// The calibration sends memberlist messages it builds itself, in
// memberlist's wire format (net.go, util.go, security.go of v0.7.0),
// so that a real memberlist receives a push-pull of any size or a
// compound packet of any number of messages. The struct mirrors below
// are decoded by field name, as memberlist's own are.

// Message types (memberlist's messageType values).
const (
	wirePing     = 0
	wireAlive    = 4
	wireUser     = 8
	wireCompress = 9
	wireEncrypt  = 10
)

type wirePushPullHeader struct {
	Nodes        int
	UserStateLen int
	Join         bool
}

type wirePushNodeState struct {
	Name        string
	Addr        []byte
	Port        uint16
	Meta        []byte
	Incarnation uint32
	State       int
	Vsn         []uint8
}

type wireAliveMsg struct {
	Incarnation uint32
	Node        string
	Addr        []byte
	Port        uint16
	Meta        []byte
	Vsn         []uint8
}

type wirePingMsg struct {
	SeqNo      uint32
	Node       string
	SourceAddr []byte `codec:",omitempty"`
	SourcePort uint16 `codec:",omitempty"`
	SourceNode string `codec:",omitempty"`
}

type wireCompressMsg struct {
	Algo uint8
	Buf  []byte
}

// vsn is what DefaultLANConfig speaks: protocol 1 to 5, current 2;
// delegate protocol 0.
var vsn = []uint8{1, 5, 2, 0, 0, 0}

// framing is how a calibrated profile frames what it sends: memberlist
// compresses whole messages with LZW and encrypts them with AES-GCM
// (encryption version 1, DefaultLANConfig's protocol).
type framing struct {
	compress bool
	key      []byte // nil: no encryption
}

// fakeMember is member i of a crafted state: names and addresses shaped
// as the simulator's (v00042, 10.x.y.z:7946), no metadata.
func fakeMember(prefix string, i int) wirePushNodeState {
	ip := net.IPv4(10, 200+byte(i>>16), byte(i>>8), byte(i)).To4()
	return wirePushNodeState{Name: fmt.Sprintf("%s%05d", prefix, i), Addr: ip, Port: Port, Incarnation: 1, Vsn: vsn}
}

func msgpackEncode(buf *bytes.Buffer, v any) {
	var mh codec.MsgpackHandle
	mh.TimeNotBuiltin = true
	if err := codec.NewEncoder(buf, &mh).Encode(v); err != nil {
		panic(err) // only fixed, valid structs are encoded
	}
}

// pushPullMsg is a push-pull stream message carrying members, framed.
func (f framing) pushPullMsg(members []wirePushNodeState, join bool) []byte {
	var b bytes.Buffer
	b.WriteByte(wirePushPull)
	msgpackEncode(&b, wirePushPullHeader{Nodes: len(members), Join: join})
	for i := range members {
		msgpackEncode(&b, &members[i])
	}
	out := b.Bytes()
	if f.compress {
		out = compressed(out)
	}
	if f.key != nil {
		// A stream's ciphertext is preceded by its type and length,
		// which are also its authenticated data.
		hdr := make([]byte, 5, 5+encLen(len(out)))
		hdr[0] = wireEncrypt
		binary.BigEndian.PutUint32(hdr[1:], uint32(encLen(len(out))))
		out = append(hdr, f.seal(out, hdr)...)
	}
	return out
}

// packet frames one packet: compressed, then encrypted (the label, empty
// here, is the authenticated data).
func (f framing) packet(msg []byte) []byte {
	if f.compress {
		if c := compressed(msg); len(c) < len(msg) {
			msg = c
		}
	}
	if f.key != nil {
		msg = f.seal(msg, nil)
	}
	return msg
}

func compressed(msg []byte) []byte {
	var z bytes.Buffer
	w := lzw.NewWriter(&z, lzw.LSB, 8)
	_, _ = w.Write(msg)
	_ = w.Close()
	var b bytes.Buffer
	b.WriteByte(wireCompress)
	msgpackEncode(&b, wireCompressMsg{Algo: 0, Buf: z.Bytes()})
	return b.Bytes()
}

func encLen(n int) int { return 1 + 12 + n + 16 }

// seal is memberlist's encryptPayload, version 1.
func (f framing) seal(msg, data []byte) []byte {
	block, err := aes.NewCipher(f.key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	out := make([]byte, 13, encLen(len(msg)))
	out[0] = 1
	_, _ = rand.Read(out[1:13])
	return gcm.Seal(out, out[1:13], msg, data)
}

// aliveMsg is one alive message, unframed (a compound's part).
func aliveMsg(m wirePushNodeState) []byte {
	var b bytes.Buffer
	b.WriteByte(wireAlive)
	msgpackEncode(&b, wireAliveMsg{Incarnation: m.Incarnation, Node: m.Name, Addr: m.Addr, Port: m.Port, Vsn: m.Vsn})
	return b.Bytes()
}

// pingMsg is a ping to node, with the sender's address for the ack.
func pingMsg(seq uint32, node string, from *net.UDPAddr) []byte {
	var b bytes.Buffer
	b.WriteByte(wirePing)
	msgpackEncode(&b, wirePingMsg{SeqNo: seq, Node: node, SourceAddr: from.IP.To4(), SourcePort: uint16(from.Port), SourceNode: "calibrator"})
	return b.Bytes()
}

// compound is memberlist's makeCompoundMessage.
func compound(parts [][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte(wireCompound)
	b.WriteByte(uint8(len(parts)))
	for _, p := range parts {
		_ = binary.Write(&b, binary.BigEndian, uint16(len(p)))
	}
	for _, p := range parts {
		b.Write(p)
	}
	return b.Bytes()
}

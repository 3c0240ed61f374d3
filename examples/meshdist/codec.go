package meshdist

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// protocolVersion is sent in the handshake; a peer speaking another one is
// refused.
const protocolVersion = 1

// A frame on the wire is a 4-byte big-endian length n, then n bytes: one
// type byte and a JSON payload (empty for the types that carry nothing).
// n is at least 1 and at most the reader's limit.
const (
	frameHello     byte = 1 + iota // hello: the handshake, both ways
	frameRefuse                    // refuse: the handshake failed, why
	frameAck                       // (empty): the dialer accepts the acceptor's hello
	frameHeartbeat                 // (empty): I am alive
	frameUpdate                    // update: my metadata changed
	framePeers                     // peersMsg: members to connect to
	frameGoodbye                   // (empty): I am leaving, gracefully
	frameLast      = frameGoodbye
)

var frameNames = [...]string{"", "hello", "refuse", "ack", "heartbeat", "update", "peers", "goodbye"}

// errProtocol marks input that breaks the protocol (as opposed to an I/O
// error): the connection is closed and the reason logged as a warning.
var errProtocol = errors.New("protocol violation")

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// hello is one side's introduction in the handshake.
type hello struct {
	Version int               `json:"v"`
	Name    string            `json:"name"`
	Addr    string            `json:"addr"` // where peers dial it
	Meta    map[string]string `json:"meta,omitempty"`
	Boot    uint64            `json:"boot"` // new at every start
	MetaVer uint64            `json:"mv"`   // the version of Meta
	Peers   []hint            `json:"peers,omitempty"`
}

// hint names a member to connect to.
type hint struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

// refuse ends a handshake. Conflict marks a name held by a live member.
type refuse struct {
	Reason   string `json:"reason"`
	Conflict bool   `json:"conflict,omitempty"`
}

type update struct {
	Meta map[string]string `json:"meta"`
	Ver  uint64            `json:"v"` // newer than the handshake's MetaVer and earlier updates
}

type peersMsg struct {
	Peers []hint `json:"peers"`
}

// writeFrame writes one frame in a single Write. v nil means an empty
// payload.
func writeFrame(w io.Writer, typ byte, v any, limit int) error {
	var payload []byte
	if v != nil {
		var err error
		if payload, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode %s: %w", frameNames[typ], err)
		}
	}
	n := 1 + len(payload)
	if n > limit {
		return fmt.Errorf("%s frame of %d bytes exceeds the %d-byte limit", frameNames[typ], n, limit)
	}
	buf := make([]byte, 4+n)
	binary.BigEndian.PutUint32(buf, uint32(n))
	buf[4] = typ
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

// readFrame reads one frame of at most limit bytes. It allocates only once
// the length is known to be within the limit.
func readFrame(r io.Reader, limit int) (typ byte, payload []byte, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	switch {
	case n == 0:
		return 0, nil, protocolErr("empty frame")
	case uint64(n) > uint64(limit):
		return 0, nil, protocolErr("frame of %d bytes exceeds the %d-byte limit", n, limit)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	if buf[0] == 0 || buf[0] > frameLast {
		return 0, nil, protocolErr("unknown frame type %d", buf[0])
	}
	return buf[0], buf[1:], nil
}

// decode decodes a frame's payload into v and checks what it says.
func decode(typ byte, payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return protocolErr("%s frame: %v", frameNames[typ], err)
	}
	var err error
	switch m := v.(type) {
	case *hello:
		err = m.check()
	case *update:
		err = checkMeta(m.Meta)
	case *peersMsg:
		err = checkHints(m.Peers)
	}
	if err != nil {
		return protocolErr("%s frame: %v", frameNames[typ], err)
	}
	return nil
}

// expectEmpty checks that a frame of a type that carries nothing is empty.
func expectEmpty(typ byte, payload []byte) error {
	if len(payload) != 0 {
		return protocolErr("%s frame with a %d-byte payload, want none", frameNames[typ], len(payload))
	}
	return nil
}

func (h *hello) check() error {
	if h.Version != protocolVersion {
		return fmt.Errorf("protocol version %d, want %d", h.Version, protocolVersion)
	}
	if err := checkName(h.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if err := checkAddr(h.Addr, false); err != nil {
		return fmt.Errorf("addr: %w", err)
	}
	if err := checkMeta(h.Meta); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	if h.Boot == 0 {
		return errors.New("boot id 0")
	}
	return checkHints(h.Peers)
}

func checkHints(hs []hint) error {
	for _, h := range hs {
		if err := checkName(h.Name); err != nil {
			return fmt.Errorf("peer name: %w", err)
		}
		if err := checkAddr(h.Addr, false); err != nil {
			return fmt.Errorf("peer %q addr: %w", h.Name, err)
		}
	}
	return nil
}

// metaSize is the encoded size of meta, as the handshake carries it.
func metaSize(meta map[string]string) int {
	b, err := json.Marshal(meta)
	if err != nil { // unreachable: a map of strings
		return MaxMetaSize + 1
	}
	return len(b)
}

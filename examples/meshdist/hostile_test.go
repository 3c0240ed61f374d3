package meshdist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// rawPeer is a hand-driven peer: a TCP connection to a Dist.
func rawPeer(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(wait))
	return nc
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// handshake shakes hands with the Dist at nc as the member fake.
func handshake(t *testing.T, nc net.Conn, fake hello) {
	t.Helper()
	if err := writeFrame(nc, frameHello, fake, DefaultMaxFrameSize); err != nil {
		t.Fatal(err)
	}
	typ, _, err := readFrame(nc, DefaultMaxFrameSize)
	if err != nil || typ != frameHello {
		t.Fatalf("handshake reply: %s, %v", frameNames[typ], err)
	}
	if err := writeFrame(nc, frameAck, nil, DefaultMaxFrameSize); err != nil {
		t.Fatal(err)
	}
	if err := readAck(nc, DefaultMaxFrameSize); err != nil {
		t.Fatalf("handshake: %v", err)
	}
}

// expectClosed reads nc until the Dist closes it, which it must.
func expectClosed(t *testing.T, nc net.Conn, what string) {
	t.Helper()
	_, err := io.Copy(io.Discard, nc)
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		t.Fatalf("%s: the connection stayed open", what)
	}
}

// TestHostileInputClosesWithAReason: garbage, in the handshake or after
// it, closes the connection with a logged reason; the Dist keeps serving.
func TestHostileInputClosesWithAReason(t *testing.T) {
	rh := testutil.NewRecordHandler()
	d := startDist(t, "a", "", slog.New(rh))
	fake := hello{Version: protocolVersion, Name: "fake", Addr: closedAddr(t), Boot: 7}
	frame := func(n uint32, body ...byte) []byte { return append(binary.BigEndian.AppendUint32(nil, n), body...) }
	var goodHello bytes.Buffer
	writeFrame(&goodHello, frameHello, fake, DefaultMaxFrameSize)

	for _, tc := range []struct {
		name       string
		afterShake bool // shake hands first
		send       []byte
		msg, err   string
	}{
		{"oversize length", false, frame(1 << 30), "handshake failed: the peer broke the protocol", "exceeds the 1048576-byte limit"},
		{"heartbeat first", false, frame(1, frameHeartbeat), "handshake failed: the peer broke the protocol", "got a heartbeat frame, want hello"},
		{"bad json hello", false, frame(3, frameHello, '{', 'x'), "handshake failed: the peer broke the protocol", "hello frame"},
		{"unknown type", true, frame(1, 200), "closing connection: the peer broke the protocol", "unknown frame type 200"},
		{"second hello", true, goodHello.Bytes(), "closing connection: the peer broke the protocol", "unexpected hello frame"},
		{"garbled update", true, frame(2, frameUpdate, '['), "closing connection: the peer broke the protocol", "update frame"},
		{"heartbeat payload", true, frame(3, frameHeartbeat, 'h', 'i'), "closing connection: the peer broke the protocol", "2-byte payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := rawPeer(t, d.Addr())
			if tc.afterShake {
				handshake(t, nc, fake)
				testutil.Eventually(t, wait, func() bool { return d.rec.has(gencluster.EventJoin, "fake") }, "the fake to join")
			}
			nc.Write(tc.send)
			expectClosed(t, nc, tc.name)
			testutil.Eventually(t, wait, func() bool { return logged(rh, slog.LevelWarn, tc.msg, tc.err) }, "a warning %q with %q", tc.msg, tc.err)
			if tc.afterShake { // its address is closed: the redial fails
				testutil.Eventually(t, wait, func() bool { return len(d.Members()) == 1 }, "the fake to be gone")
			}
		})
	}
	if got := d.rec.types("fake"); len(got) != 8 || got[7] != gencluster.EventFail {
		t.Errorf("events of the fake: %v, want join and fail, 4 times", got)
	}
}

// TestSilentPeerFails: a peer that shakes hands and then says nothing is
// reported failed within MissedHeartbeats×Interval + DialTimeout.
func TestSilentPeerFails(t *testing.T) {
	d := startDist(t, "a", "", nil)
	nc := rawPeer(t, d.Addr())
	handshake(t, nc, hello{Version: protocolVersion, Name: "mute", Addr: closedAddr(t), Boot: 9})
	testutil.Eventually(t, wait, func() bool { return d.rec.has(gencluster.EventJoin, "mute") }, "the mute peer to join")
	start := time.Now()
	testutil.Eventually(t, wait, func() bool { return d.rec.has(gencluster.EventFail, "mute") }, "the mute peer to fail")
	took := time.Since(start)
	if took < (testMissed-1)*testInterval || took > testBound+200*time.Millisecond {
		t.Errorf("silent peer reported failed after %v, want about %v and at most %v", took, testMissed*testInterval, testBound)
	}
	// The Dist heartbeated meanwhile: read them.
	nc.SetReadDeadline(time.Now().Add(wait))
	typ, _, err := readFrame(nc, DefaultMaxFrameSize)
	if err != nil || typ != frameHeartbeat {
		t.Errorf("first frame after the handshake: %s, %v, want a heartbeat", frameNames[typ], err)
	}
}

// TestHandshakeTimesOut: a connection that never speaks is closed after
// DialTimeout.
func TestHandshakeTimesOut(t *testing.T) {
	d := startDist(t, "a", "", nil)
	nc := rawPeer(t, d.Addr())
	start := time.Now()
	expectClosed(t, nc, "a mute handshake")
	if took := time.Since(start); took < testDial/2 || took > testDial+time.Second {
		t.Errorf("closed after %v, want about %v", took, testDial)
	}
}

// logged reports whether rh has a record of level and msg whose err
// attribute contains errText (any record of them, when errText is empty).
func logged(rh *testutil.RecordHandler, level slog.Level, msg, errText string) bool {
	for _, r := range rh.Records() {
		found := errText == ""
		r.Attrs(func(a slog.Attr) bool {
			found = found || a.Key == "err" && strings.Contains(a.Value.String(), errText)
			return !found
		})
		if found && r.Level == level && r.Message == msg {
			return true
		}
	}
	return false
}

// TestHintFloodBounded: a peer that hints at more members than
// maxHintDials gets that many dials at once, and a warning for the rest.
func TestHintFloodBounded(t *testing.T) {
	rh := testutil.NewRecordHandler()
	d := startDist(t, "a", "", slog.New(rh))
	// Listeners that accept and never answer: each dial waits DialTimeout.
	var hints []hint
	accepted := make(chan net.Conn, 2*maxHintDials)
	for i := range maxHintDials + 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- c
			}
		}()
		hints = append(hints, hint{Name: "h" + strconv.Itoa(i), Addr: ln.Addr().String()})
	}
	nc := rawPeer(t, d.Addr())
	handshake(t, nc, hello{Version: protocolVersion, Name: "flood", Addr: closedAddr(t), Boot: 5})
	if err := writeFrame(nc, framePeers, peersMsg{Peers: hints}, DefaultMaxFrameSize); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, wait, func() bool {
		return logged(rh, slog.LevelWarn, "not dialing a hinted member: too many dials under way", "")
	}, "the warning")
	testutil.Eventually(t, wait, func() bool { return len(accepted) == maxHintDials }, "%d dials (%d so far)", maxHintDials, len(accepted))
	d.Close()
	if n := len(accepted); n != maxHintDials {
		t.Errorf("%d dials at once, want %d", n, maxHintDials)
	}
	for len(accepted) > 0 {
		(<-accepted).Close()
	}
}

package cluster

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

// memberlist's wire message types (net.go) used to build hostile input.
const (
	mlPing     = 0
	mlAlive    = 4
	mlPushPull = 6
	mlCompound = 7
	mlCompress = 9
	mlEncrypt  = 10
	mlHasCRC   = 12
	mlLabel    = 244
)

// msgpack header of a push/pull claiming 2^32-1 nodes and user state bytes.
var hugePushPull = append([]byte{mlPushPull,
	0x83,
	0xa5, 'N', 'o', 'd', 'e', 's', 0xce, 0xff, 0xff, 0xff, 0xff,
	0xac, 'U', 's', 'e', 'r', 'S', 't', 'a', 't', 'e', 'L', 'e', 'n', 0xce, 0xff, 0xff, 0xff, 0xff,
	0xa4, 'J', 'o', 'i', 'n', 0xc3},
	bytes.Repeat([]byte{0xde, 0xad}, 64)...)

// compress message whose buffer claims 4 GiB and stops.
var hugeCompress = []byte{mlCompress,
	0x82, 0xa4, 'A', 'l', 'g', 'o', 0x00,
	0xa3, 'B', 'u', 'f', 0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3}

// hostileInputs are malformed memberlist messages: truncated headers,
// lengths that exceed what follows, huge claimed sizes.
func hostileInputs(rng *rand.Rand) [][]byte {
	in := [][]byte{
		{},
		{mlLabel},                            // label header without length
		{mlLabel, 200, 'x'},                  // label longer than the rest
		{mlLabel, 0},                         // empty label
		{mlLabel, 4, 'p', 'r', 'o', 'd'},     // label and nothing after
		{mlCompound},                         // compound without count
		{mlCompound, 255},                    // 255 parts, no lengths
		{mlCompound, 2, 0xff, 0xff, 1},       // part longer than the packet
		{mlEncrypt},                          // encrypted, no payload
		{mlEncrypt, 0xff, 0xff, 0xff, 0xff},  // encrypted, 4 GiB length
		{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // encryption version 1, short nonce
		{mlHasCRC, 0, 0, 0, 0, mlPing},       // wrong CRC
		{mlHasCRC, 1},                        // truncated CRC
		{mlAlive, 0x81, 0xa4, 'N', 'o', 'd', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff}, // str32 of 4 GiB
		{mlPing, 0xdf, 0xff, 0xff, 0xff, 0xff},                                  // map32 of 4G entries
		{mlAlive, 0xdd, 0x7f, 0xff, 0xff, 0xff},                                 // array32 of 2G entries
		hugePushPull,
		hugeCompress,
	}
	for typ := range 256 {
		in = append(in, []byte{byte(typ)}, []byte{byte(typ), 0xc1}) // every type, bare and with an invalid msgpack byte
	}
	for range 200 {
		b := make([]byte, rng.IntN(1400))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if len(b) > 0 && rng.IntN(2) == 0 {
			b[0] = byte(rng.IntN(14)) // a valid type, garbage after it
		}
		in = append(in, b)
	}
	return in
}

// TestHostileInput sends garbage UDP packets and TCP streams to a node's
// gossip port, and holds connections open without sending. The cluster
// must not notice: same members, no events; a new node can still join;
// and after Close no goroutine is left.
func TestHostileInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []gencluster.Option
	}{
		{"plain", nil},
		{"encrypted", []gencluster.Option{gencluster.WithSecretKey(key(7, 32)), gencluster.WithLabel("h")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Registered first, so it runs after every node's Close;
			// the goroutines running now are not the test's.
			before := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, before) })
			testHostileInput(t, tc.opts)
		})
	}
}

func testHostileInput(t *testing.T, opts []gencluster.Option) {
	recs := testutil.NewRecordHandler()
	// Tolerant timers: the test asserts that no member is reported gone,
	// and FastGossip's 100ms probe timeout is missed on a loaded machine
	// (a false fail of h-1, then its rejoin, seen at load 22).
	opts = append(opts, gencluster.WithMemberlistConfig(testutil.Tolerant))
	cluster := startCluster(t, "h", 2, append(opts, gencluster.WithLogger(slog.New(recs)))...)
	w := watchCluster(t, cluster, "h-0", "h-1")
	target := cluster[0].Addr()
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := hostileInputs(rng)

	// Connections that never send, or send a partial header and stall:
	// memberlist drops them at its TCP timeout (1s here) or when we close.
	var idle []net.Conn
	for i := range 10 {
		c, err := net.Dial("tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		switch i % 3 {
		case 1:
			c.Write([]byte{mlEncrypt, 0x01, 0x00, 0x00, 0x00}) // 16 MiB announced, none sent
		case 2:
			c.Write([]byte{mlLabel, 10, 'x'})
		}
		idle = append(idle, c)
	}

	udp, err := net.Dial("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, b := range inputs {
		udp.Write(b)
	}
	big := make([]byte, 65000)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	udp.Write(big)

	for _, b := range inputs {
		c, err := net.Dial("tcp", target)
		if err != nil {
			t.Fatalf("dial %d: %v", len(idle), err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(b)
		if tcp, ok := c.(*net.TCPConn); ok {
			tcp.CloseWrite()
		}
		// Read whatever the node answers (an error message) until it
		// closes, so that every stream is handled before we go on.
		var sink [512]byte
		for {
			if _, err := c.Read(sink[:]); err != nil {
				break
			}
		}
		c.Close()
	}
	// Long enough for a probe interval and a suspicion timeout of the
	// Tolerant timers (500ms and 2s): a node the garbage had stalled would
	// be reported failed by then.
	w.hold(t, 3*time.Second, addrsOf(cluster...))

	// The node still answers: a new node joins through it, and the
	// original members never saw anything but that join.
	n := startNode(t, append(append(testOpts(t, "h-2"), gencluster.WithSeeds(seeds.Static(target))), opts...)...)
	testutil.WaitMembers(t, 10*time.Second, append(cluster, n), "h-0", "h-1", "h-2")
	for i, l := range w.logs {
		for _, ev := range l.All() {
			if ev.Type != gencluster.EventJoin || ev.Member.Name != "h-2" {
				t.Errorf("%s saw %v", cluster[i].Name(), ev)
			}
		}
	}
	for _, c := range idle {
		c.Close()
	}
	// The garbage did reach memberlist's parsers, which refused it (a
	// warning or error per stream, and per packet that was not lost; the
	// refusals that read as another key, encryption setting or label are
	// condensed to one Warn per host per refresh interval, the others
	// being Debug records).
	refused := 0
	for _, r := range recs.Records() {
		if r.Level >= slog.LevelWarn || r.Message == "refused gossip from a node that cannot join this one" {
			refused++
		}
	}
	if refused < len(inputs)/2 {
		t.Errorf("only %d warnings for %d inputs: did they reach the node?", refused, 2*len(inputs))
	}
}

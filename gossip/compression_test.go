package gossip

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// memberlist's message types (net.go) that open a push-pull stream:
// plain, or wrapped in LZW.
const (
	pushPullMsgType = 6
	compressMsgType = 9
)

// streamSniffer is a transport that notes the first byte of every stream
// it dials: the message type memberlist sends first.
type streamSniffer struct {
	*memberlist.NetTransport
	mu    sync.Mutex
	first []byte
}

func (s *streamSniffer) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := s.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &sniffedConn{Conn: c, s: s}, nil
}

func (s *streamSniffer) firstBytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.first...)
}

type sniffedConn struct {
	net.Conn
	s    *streamSniffer
	once sync.Once
}

func (c *sniffedConn) Write(b []byte) (int, error) {
	if len(b) > 0 {
		c.once.Do(func() {
			c.s.mu.Lock()
			c.s.first = append(c.s.first, b[0])
			c.s.mu.Unlock()
		})
	}
	return c.Conn.Write(b)
}

// startSniffed starts a Gossip whose dialed streams are sniffed; tune
// runs after the test timers.
func startSniffed(t *testing.T, name string, tune func(*memberlist.Config)) (*Gossip, *streamSniffer) {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	sn := &streamSniffer{NetTransport: nt}
	g, err := Start(Config{Name: name, BindAddr: "127.0.0.1:0", Memberlist: func(mc *memberlist.Config) {
		fast(mc)
		mc.Transport = sn
		mc.BindPort = nt.GetAutoBindPort()
		mc.AdvertisePort = mc.BindPort
		if tune != nil {
			tune(mc)
		}
	}})
	if err != nil {
		_ = nt.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g, sn
}

// TestPushPullNotCompressedByDefault: gencluster turns memberlist's LZW
// off (a join storm's CPU went mostly to it; docs/benchmarks.md, section
// 6, rule 11), so a join's push-pull goes out as a plain pushPullMsg;
// WithMemberlistConfig can turn it back on, and a node that compresses
// and one that does not still join each other both ways.
func TestPushPullNotCompressedByDefault(t *testing.T) {
	plain, plainSniff := startSniffed(t, "plain", nil)
	lzw, lzwSniff := startSniffed(t, "lzw", func(mc *memberlist.Config) { mc.EnableCompression = true })
	other := start(t, "other", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := plain.Connect(ctx, other.Addr()); err != nil {
		t.Fatalf("plain joins other: %v", err)
	}
	if err := lzw.Connect(ctx, plain.Addr()); err != nil {
		t.Fatalf("a compressing node joins a plain one: %v", err)
	}
	if err := plain.Connect(ctx, lzw.Addr()); err != nil {
		t.Fatalf("a plain node joins a compressing one: %v", err)
	}
	if got := plainSniff.firstBytes(); len(got) == 0 || got[0] != pushPullMsgType {
		t.Errorf("the default node's first stream began with message types %v, want a plain push-pull (%d)", got, pushPullMsgType)
	}
	if got := lzwSniff.firstBytes(); len(got) == 0 || got[0] != compressMsgType {
		t.Errorf("with EnableCompression set back on, the first stream began with %v, want a compressed message (%d)", got, compressMsgType)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, g := range []*Gossip{plain, lzw, other} {
		for len(g.Members()) != 3 {
			if time.Now().After(deadline) {
				t.Fatalf("%s lists %d members, want 3 (plain and compressing nodes in one cluster)", g.name, len(g.Members()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

package faultnet

import (
	"errors"
	"io"
	"log"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newNetTransport(t *testing.T) *memberlist.NetTransport {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return nt
}

// pair returns two wrapped transports that know their addresses.
func pair(t *testing.T, n *Network) (a, b *Transport) {
	t.Helper()
	a, b = n.Wrap(newNetTransport(t)), n.Wrap(newNetTransport(t))
	for _, tr := range []*Transport{a, b} {
		if _, _, err := tr.FinalAdvertiseAddr("", 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Shutdown() })
	}
	return a, b
}

func recvPacket(t *testing.T, tr *Transport, within time.Duration) (*memberlist.Packet, bool) {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		return p, true
	case <-time.After(within):
		return nil, false
	}
}

func TestPartitionDropsPacketsAndRefusesDials(t *testing.T) {
	n := New()
	a, b := pair(t, n)

	if _, err := a.WriteTo([]byte("hello"), b.Addr()); err != nil {
		t.Fatal(err)
	}
	if p, ok := recvPacket(t, b, 2*time.Second); !ok || string(p.Buf) != "hello" {
		t.Fatalf("open network: got %v, %v", p, ok)
	}

	n.Partition([]string{a.Addr()}, []string{b.Addr()})
	if !n.Blocked(a.Addr(), b.Addr()) || !n.Blocked(b.Addr(), a.Addr()) {
		t.Fatal("Partition did not block both ways")
	}
	for _, s := range [][2]*Transport{{a, b}, {b, a}} {
		if _, err := s[0].WriteToAddress([]byte("lost"), memberlist.Address{Addr: s[1].Addr()}); err != nil {
			t.Fatalf("dropped write reported %v, want nil (as UDP)", err)
		}
		if p, ok := recvPacket(t, s[1], 200*time.Millisecond); ok {
			t.Fatalf("partitioned packet delivered: %q", p.Buf)
		}
		if _, err := s[0].DialTimeout(s[1].Addr(), time.Second); !errors.Is(err, ErrBlocked) {
			t.Fatalf("partitioned dial: err %v, want ErrBlocked", err)
		}
	}
	if d, r := n.Stats(); d != 2 || r != 2 {
		t.Fatalf("Stats = %d dropped, %d refused; want 2, 2", d, r)
	}

	n.Heal()
	if _, err := b.WriteTo([]byte("again"), a.Addr()); err != nil {
		t.Fatal(err)
	}
	if p, ok := recvPacket(t, a, 2*time.Second); !ok || string(p.Buf) != "again" {
		t.Fatalf("after Heal: got %v, %v", p, ok)
	}
	c, err := b.DialTimeout(a.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial after Heal: %v", err)
	}
	_ = c.Close()
	select {
	case sc := <-a.StreamCh():
		_ = sc.Close()
	case <-time.After(2 * time.Second):
		t.Fatal("accepted stream not delivered")
	}
}

func TestBlockIsOneWay(t *testing.T) {
	n := New()
	a, b := pair(t, n)
	n.Block(a.Addr(), b.Addr())
	if _, err := a.DialTimeout(b.Addr(), time.Second); !errors.Is(err, ErrBlocked) {
		t.Fatalf("blocked direction: %v", err)
	}
	if _, err := b.WriteTo([]byte("x"), a.Addr()); err != nil {
		t.Fatal(err)
	}
	if _, ok := recvPacket(t, a, 2*time.Second); !ok {
		t.Fatal("open direction dropped")
	}
}

func TestUnknownSelfBlocksNothing(t *testing.T) {
	n := New()
	tr := n.Wrap(newNetTransport(t))
	defer tr.Shutdown()
	n.Partition([]string{""}, []string{"127.0.0.1:1"})
	if tr.Addr() != "" || tr.blocked("127.0.0.1:1") {
		t.Fatal("a transport that does not know its address must block nothing")
	}
}

// TestMemberlistPartition checks the wrapper end to end: two memberlists
// declare each other dead while partitioned.
func TestMemberlistPartition(t *testing.T) {
	n := New()
	var mls []*memberlist.Memberlist
	var addrs []string
	for _, name := range []string{"a", "b"} {
		mc := memberlist.DefaultLANConfig()
		mc.Name = name
		mc.LogOutput = io.Discard
		mc.ProbeInterval = 100 * time.Millisecond
		mc.ProbeTimeout = 50 * time.Millisecond
		mc.GossipInterval = 20 * time.Millisecond
		mc.SuspicionMult = 1
		tr := n.Wrap(newNetTransport(t))
		mc.Transport = tr
		ml, err := memberlist.Create(mc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ml.Shutdown() })
		mls = append(mls, ml)
		addrs = append(addrs, tr.Addr())
	}
	if _, err := mls[1].Join([]string{addrs[0]}); err != nil {
		t.Fatal(err)
	}
	waitNum := func(want int) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, func() bool {
			return mls[0].NumMembers() == want && mls[1].NumMembers() == want
		}, "both memberlists to have %d members", want)
	}
	waitNum(2)
	n.Partition(addrs[:1], addrs[1:])
	waitNum(1)
	if _, err := mls[1].Join([]string{addrs[0]}); err == nil {
		t.Fatal("join across the partition succeeded")
	}
	n.Heal()
	if _, err := mls[1].Join([]string{addrs[0]}); err != nil {
		t.Fatalf("join after Heal: %v", err)
	}
	waitNum(2)
}

func TestIsolate(t *testing.T) {
	n := New()
	a, b := pair(t, n)
	n.Isolate(a.Addr())
	if !n.Blocked(a.Addr(), b.Addr()) || !n.Blocked(b.Addr(), a.Addr()) || !n.Blocked(a.Addr(), "127.0.0.9:9") {
		t.Fatal("Isolate must cut every address both ways")
	}
	if _, err := b.DialTimeout(a.Addr(), time.Second); !errors.Is(err, ErrBlocked) {
		t.Fatalf("dial to isolated: %v", err)
	}
	n.Heal()
	if n.Blocked(a.Addr(), b.Addr()) {
		t.Fatal("Heal kept the isolation")
	}
}

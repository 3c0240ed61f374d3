package vsim

import (
	"io"
	"testing"
	"testing/synctest"
	"time"
)

// TestCPUQueuesPackets: a node serves its packets one at a time in
// arrival order, each for Packet plus Message per further message, so a
// busy node delays what comes after.
func TestCPUQueuesPackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw, err := NewNetwork(Link{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := nw.SetCPU(CPU{Packet: 10 * time.Millisecond, Message: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		defer nw.Stop()
		a, _ := nw.NewTransport()
		b, _ := nw.NewTransport()
		t0 := time.Now()
		three := compound([][]byte{{wireAlive}, {wireAlive}, {wireAlive}})
		for _, p := range [][]byte{three, {wirePing}, {wirePing}} {
			if _, err := a.WriteTo(p, b.Addr()); err != nil {
				t.Fatal(err)
			}
		}
		// 10 + 2 ms for the compound, then 10 ms for each ping.
		for i, want := range []time.Duration{12 * time.Millisecond, 22 * time.Millisecond, 32 * time.Millisecond} {
			<-b.PacketCh()
			if got := time.Since(t0); got != want {
				t.Errorf("packet %d delivered after %v, want %v", i, got, want)
			}
		}
		if s := nw.CPUStats(); s.Packets != 32*time.Millisecond || s.MaxWait != 22*time.Millisecond {
			t.Errorf("CPU stats %+v: want 32ms of packets, a longest wait of 22ms", s)
		}
	})
}

// TestCPUChargesStreams: accepting a stream costs the acceptor Stream; a
// push-pull of n members costs its writer n × Send before it goes out and
// its reader n × Recv once it has arrived; learning a member costs Learn
// and delays the node's next packet.
func TestCPUChargesStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw, err := NewNetwork(Link{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		c := CPU{Packet: time.Millisecond, Stream: 5 * time.Millisecond, Send: 100 * time.Microsecond, Recv: 300 * time.Microsecond, Learn: 7 * time.Millisecond}
		if err := nw.SetCPU(c); err != nil {
			t.Fatal(err)
		}
		defer nw.Stop()
		a, _ := nw.NewTransport()
		b, _ := nw.NewTransport()
		t0 := time.Now()
		done := make(chan time.Duration)
		go func() {
			conn := <-b.StreamCh()
			if _, err := io.ReadAll(conn); err != nil {
				t.Error(err)
			}
			done <- time.Since(t0)
		}()
		conn, err := a.DialTimeout(b.Addr(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(t0); got != c.Stream {
			t.Errorf("stream accepted after %v, want %v", got, c.Stream)
		}
		msg := framing{}.pushPullMsg(fakeStates("v", 100), false)
		if n := pushPullMembers(msg); n != 100 {
			t.Fatalf("pushPullMembers: %d, want 100", n)
		}
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(t0), c.Stream+100*c.Send; got != want {
			t.Errorf("state written after %v, want %v", got, want)
		}
		_ = conn.Close()
		if got, want := <-done, c.Stream+100*c.Send+100*c.Recv; got != want {
			t.Errorf("state read after %v, want %v", got, want)
		}
		// Learning books the CPU; the next packet waits for it.
		t1 := time.Now()
		b.Learned()
		if _, err := a.WriteTo([]byte{wirePing}, b.Addr()); err != nil {
			t.Fatal(err)
		}
		<-b.PacketCh()
		if got, want := time.Since(t1), c.Learn+c.Packet; got != want {
			t.Errorf("packet after a learned member delivered after %v, want %v", got, want)
		}
	})
}

// TestCPUValidate: a negative cost is an error naming it, as are an
// unknown profile and a CPU set after the first transport.
func TestCPUValidate(t *testing.T) {
	if err := (CPU{Recv: -1}).Validate(); err == nil {
		t.Error("a negative recv cost was accepted")
	}
	if _, err := CPUProfile("zstd"); err == nil {
		t.Error("the unknown profile zstd was accepted")
	}
	for _, name := range []string{"off", "plain", "lzw", "lzw+aes"} {
		if _, err := CPUProfile(name); err != nil {
			t.Errorf("profile %s: %v", name, err)
		}
	}
	// defaults charges each implementation its own default configuration:
	// gencluster turns compression off, the baseline keeps it.
	if g, m := ProfileOf(Defaults, Gencluster), ProfileOf(Defaults, Raw); g != "plain" || m != "lzw" {
		t.Errorf("ProfileOf(defaults) = %s for gencluster, %s for memberlist; want plain, lzw", g, m)
	}
	if p := ProfileOf("lzw", Gencluster); p != "lzw" {
		t.Errorf("ProfileOf(lzw, gencluster) = %s, want lzw", p)
	}
	nw, err := NewNetwork(Link{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Stop()
	if _, err := nw.NewTransport(); err != nil {
		t.Fatal(err)
	}
	if err := nw.SetCPU(CPU{Packet: 1}); err == nil {
		t.Error("SetCPU after a transport was created was accepted")
	}
}

package multicast

import (
	"bytes"
	"context"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"

	"github.com/gencluster/gencluster/seeds"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

var testSecret = []byte("0123456789abcdef-test-secret")

// mcGroup returns a test group on a free port, so that tests and other
// programs on the host do not hear each other.
func mcGroup(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return "239.193.7.46:" + strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

// loopback returns the loopback interface's name. Linux delivers multicast
// on lo when it is chosen explicitly, even without the MULTICAST flag.
func loopback(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return ifi.Name
		}
	}
	t.Fatal("no loopback interface that is up: the multicast tests need one")
	return ""
}

// runMC starts m with self and returns a function that cancels it, waits
// for it and returns the error that stopped its receiver (nil after a clean
// stop), failing t if Start fails or the work does not stop in 5s.
func runMC(t *testing.T, m *multicast, self string) func() error {
	t.Helper()
	stop := backendtest.StartRunner(t, m, self)
	testutil.Eventually(t, 5*time.Second, func() bool { return m.stats().Sent > 0 }, self+" announcing")
	return func() error {
		stop()
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.readErr
	}
}

func has(m *multicast, addr string) func() bool {
	return func() bool {
		got, _ := m.Discover(context.Background())
		return slices.Contains(got, addr)
	}
}

func TestMulticastTwoNodesDiscoverEachOther(t *testing.T) {
	backendtest.CheckLeaks(t)
	group, lo := mcGroup(t), loopback(t)
	opts := []Option{Group(group), Interface(lo), Interval(20 * time.Millisecond), PeerTTL(300 * time.Millisecond), Secret(testSecret)}
	a, b := newMulticast("chat", opts...), newMulticast("chat", opts...)
	if got, err := a.Discover(context.Background()); err != nil || len(got) != 0 {
		t.Fatalf("Discover before Start = %q, %v", got, err)
	}
	stopA := runMC(t, a, "127.0.0.1:10001")
	stopB := runMC(t, b, "127.0.0.1:10002")
	testutil.Eventually(t, 5*time.Second, has(a, "127.0.0.1:10002"), "a to hear b")
	testutil.Eventually(t, 5*time.Second, has(b, "127.0.0.1:10001"), "b to hear a")
	if got, _ := a.Discover(context.Background()); !reflect.DeepEqual(got, []string{"127.0.0.1:10002"}) {
		t.Errorf("a.Discover = %q, want only b (not itself)", got)
	}

	// Start refuses a second call while the first one's work runs.
	ctx, cancel := context.WithCancel(context.Background())
	if wait, err := a.Start(ctx, "127.0.0.1:10001"); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Start = %v", err)
		if wait != nil {
			cancel()
			wait()
		}
	}
	cancel()

	// b stops; a forgets it after the peer TTL.
	if err := stopB(); err != nil {
		t.Errorf("b stopped with %v, want nil on cancel", err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return !has(a, "127.0.0.1:10002")() }, "a to forget b")
	if err := stopA(); err != nil {
		t.Errorf("a stopped with %v, want nil on cancel", err)
	}
	st := a.stats()
	if st.Sent == 0 || st.Accepted == 0 || st.BadMAC+st.Malformed+st.OtherCluster+st.RateLimited+st.TableFull != 0 {
		t.Errorf("a.Stats = %+v", st)
	}
}

// TestMulticastRestart: once a Start's work has stopped, Start works again
// and the backend announces anew.
func TestMulticastRestart(t *testing.T) {
	backendtest.CheckLeaks(t)
	m := newMulticast("chat", Group(mcGroup(t)), Interface(loopback(t)), Interval(20*time.Millisecond))
	if err := runMC(t, m, "127.0.0.1:10001")(); err != nil {
		t.Fatalf("first run stopped with %v", err)
	}
	sent := m.stats().Sent
	runMC(t, m, "127.0.0.1:10001")
	testutil.Eventually(t, 5*time.Second, func() bool { return m.stats().Sent > sent }, "announcements of the second run")
}

// inject sends raw packets to group on the loopback interface.
func inject(t *testing.T, group, lo string, pkts ...[]byte) {
	t.Helper()
	ifi, err := net.InterfaceByName(lo)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openMulticastSender(ifi, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ga, err := net.ResolveUDPAddr("udp4", group)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if _, err := s.WriteTo(p, nil, ga); err != nil {
			t.Fatal(err)
		}
	}
}

func ann(cluster, addr string, ts time.Time) announcement {
	return announcement{Cluster: cluster, Addr: addr, Time: ts.UnixNano(), Nonce: 42}
}

func TestMulticastRejectsBadPackets(t *testing.T) {
	backendtest.CheckLeaks(t)
	group, lo := mcGroup(t), loopback(t)
	m := newMulticast("chat", Group(group), Interface(lo), Interval(time.Hour), Secret(testSecret))
	runMC(t, m, "127.0.0.1:10001")

	now := time.Now()
	good := encodeAnnouncement(ann("chat", "10.0.0.2:7946", now), testSecret)
	inject(t, group, lo,
		encodeAnnouncement(ann("chat", "10.6.6.6:7946", now), []byte("wrong-secret-0123456789")), // BadMAC
		encodeAnnouncement(ann("chat", "10.6.6.7:7946", now), nil),                               // BadMAC: unsigned
		encodeAnnouncement(ann("other", "10.6.6.8:7946", now), testSecret),                       // OtherCluster
		[]byte("garbage"),            // Malformed
		good[:len(good)-1],           // Malformed: truncated MAC
		append(bytes.Clone(good), 0), // Malformed: trailing byte
		encodeAnnouncement(ann("chat", "not-an-address", now), testSecret),                // Malformed address
		encodeAnnouncement(ann("chat", "10.6.6.9:7946", now.Add(-time.Hour)), testSecret), // Stale
		encodeAnnouncement(ann("chat", "10.6.6.9:7946", now.Add(time.Hour)), testSecret),  // Stale (future)
		good,
		good, // a replay: Stale
		encodeAnnouncement(ann("chat", "127.0.0.1:10001", now), testSecret), // itself: ignored
		encodeAnnouncement(ann("chat", "0.0.0.0:7946", now), testSecret),    // host filled in from the source
		encodeAnnouncement(ann("chat", "10.0.0.3:7946", now), testSecret),   // last: marks the end
	)
	testutil.Eventually(t, 5*time.Second, has(m, "10.0.0.3:7946"), "the last good announcement")
	got, _ := m.Discover(context.Background())
	if len(got) != 3 || got[0] != "10.0.0.2:7946" || got[1] != "10.0.0.3:7946" || strings.HasPrefix(got[2], "0.0.0.0:") || !strings.HasSuffix(got[2], ":7946") {
		t.Errorf("Discover = %q, want 10.0.0.2, 10.0.0.3 and the source of the 0.0.0.0 announcement", got)
	}
	st := m.stats()
	want := mcStats{Received: st.Received, Accepted: 3, Malformed: 4, BadMAC: 2, OtherCluster: 1, Stale: 3, Sent: st.Sent}
	if st != want || st.Received != 15 { // 14 injected + its own announcement
		t.Errorf("Stats = %+v\nwant    %+v with Received 15", st, want)
	}
}

func TestMulticastLimits(t *testing.T) {
	backendtest.CheckLeaks(t)
	group, lo := mcGroup(t), loopback(t)
	m := newMulticast("chat", Group(group), Interface(lo), Interval(time.Hour), MaxPeers(2))
	runMC(t, m, "127.0.0.1:10001")
	now := time.Now()
	inject(t, group, lo,
		encodeAnnouncement(ann("chat", "10.0.0.1:7946", now), nil),
		encodeAnnouncement(ann("chat", "10.0.0.2:7946", now), nil),
		encodeAnnouncement(ann("chat", "10.0.0.3:7946", now), nil),        // TableFull
		encodeAnnouncement(ann("chat", "10.0.0.1:7946", now.Add(1)), nil), // refresh of a known peer: fine
		encodeAnnouncement(ann("chat", "10.0.0.2:7946", now), testSecret), // BadMAC: signed, but m has no secret
	)
	testutil.Eventually(t, 5*time.Second, func() bool { return m.stats().Received >= 6 }, "all packets")
	st := m.stats()
	if st.Accepted != 3 || st.TableFull != 1 || st.BadMAC != 1 {
		t.Errorf("Stats = %+v, want Accepted 3, TableFull 1, BadMAC 1", st)
	}
	if got, _ := m.Discover(context.Background()); !reflect.DeepEqual(got, []string{"10.0.0.1:7946", "10.0.0.2:7946"}) {
		t.Errorf("Discover = %q", got)
	}

	// The per-source rate limit, driven directly: a burst of 3, refilled at
	// one packet a second (all packets below arrive at the same instant).
	r := newMulticast("chat")
	r.limits = newSourceLimitsOf(1, 3, mcMaxSources)
	src := net.ParseIP("192.0.2.7")
	for range 10 {
		r.handle([]byte("x"), src, now)
	}
	r.handle([]byte("x"), net.ParseIP("192.0.2.8"), now) // another source has its own bucket
	if st := r.stats(); st.RateLimited != 7 || st.Malformed != 4 || st.Received != 11 {
		t.Errorf("rate limit: Stats = %+v, want RateLimited 7, Malformed 4", st)
	}
	// The bucket refills with time.
	r.handle([]byte("x"), src, now.Add(2*time.Second))
	if st := r.stats(); st.RateLimited != 7 {
		t.Errorf("after refill: RateLimited = %d, want 7", st.RateLimited)
	}
}

func TestMulticastStartErrors(t *testing.T) {
	backendtest.CheckLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	group := mcGroup(t)
	for _, tc := range []struct {
		m    *multicast
		self string
		want string
	}{
		{newMulticast("chat", Group(group)), "nohost", "self"},
		{newMulticast("chat", Group(group)), "h:" + strings.Repeat("1", 300), "self"},
		{newMulticast("", Group(group)), "127.0.0.1:1", "cluster name"},
		{newMulticast("chat", Group(group), Interface("no-such-if0")), "127.0.0.1:1", `interface "no-such-if0"`},
	} {
		if wait, err := tc.m.Start(ctx, tc.self); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%q) = %v, want %q", tc.self, err, tc.want)
			if wait != nil {
				cancel()
				wait()
			}
		}
	}
}

func TestMulticastValidate(t *testing.T) {
	backendtest.CheckLeaks(t)
	if err := newMulticast("chat").Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, tc := range []struct {
		m    *multicast
		want string
	}{
		{newMulticast(""), "cluster name"},
		{newMulticast(strings.Repeat("x", MaxClusterName+1)), "1 to 64"},
		{newMulticast("a b"), `cluster name "a b"`},
		{newMulticast("c", Group("10.0.0.1:7947")), "not an IPv4 multicast"},
		{newMulticast("c", Group("[ff02::1]:7947")), "not an IPv4 multicast"},
		{newMulticast("c", Group("239.1.1.1")), "want ip:port"},
		{newMulticast("c", Group("239.1.1.1:0")), `port "0"`},
		{newMulticast("c", Interval(time.Millisecond)), "at least 10ms"},
		{newMulticast("c", PeerTTL(time.Second)), "shorter than the announce interval"},
		{newMulticast("c", TTL(256)), "TTL 256"},
		{newMulticast("c", Secret([]byte("short"))), "secret of 5 bytes: want at least 16"},
		{newMulticast("c", Secret([]byte{})), "secret of 0 bytes"},
		{newMulticast("c", MaxPeers(0)), "max peers 0"},
	} {
		if err := tc.m.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", tc.m, err, tc.want)
		}
	}
}

func TestMulticastSpec(t *testing.T) {
	backendtest.CheckLeaks(t)
	dir := t.TempDir()
	keyFile := dir + "/key"
	backendtest.WriteFile(t, keyFile, string(testSecret)+"\n")
	shortKey := dir + "/short"
	backendtest.WriteFile(t, shortKey, "short\n")

	d, err := parse("mcast+chat")
	if err != nil || name(d) != "mcast+chat" {
		t.Fatalf("Parse(mcast+chat) = %v, %v", d, err)
	}
	m, ok := d.(*multicast)
	if _, runs := d.(seeds.Runner); !ok || !runs {
		t.Fatalf("Parse(mcast+chat) gave %T, not a seeds.Runner", d)
	}
	if m.group != DefaultGroup || m.interval != DefaultInterval || m.peerTTL != 3*DefaultInterval || m.hops != 1 {
		t.Errorf("defaults: %+v", m)
	}
	d, err = parse("mcast+chat?group=239.193.1.2:9000&iface=lo&interval=1s&peer-ttl=10s&ttl=2&max-peers=9&secret-file=" + keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m = d.(*multicast)
	if m.group != "239.193.1.2:9000" || m.iface != "lo" || m.interval != time.Second || m.peerTTL != 10*time.Second || m.hops != 2 || m.maxPeers != 9 || !bytes.Equal(m.secret, testSecret) {
		t.Errorf("options: %+v", m)
	}
	if name(d) != "mcast+chat?group=239.193.1.2:9000" {
		t.Errorf("Name = %q", name(d))
	}
	checkSpecErrors(t, map[string]string{
		"mcast+chat?x=1":                          `unknown option "x"`,
		"mcast+chat?ttl=1&ttl=2":                  "given 2 times",
		"mcast+chat?interval=fast":                "interval",
		"mcast+chat?ttl=one":                      `ttl "one": want a number`,
		"mcast+chat?secret-file=" + dir + "/nope": "secret-file",
		"mcast+chat?secret-file=" + shortKey:      "want at least 16",
		"mcast+chat?group=1.2.3.4:5":              "not an IPv4 multicast",
		"mcast+chat?%zz":                          "bad options",
		"mcast+a/b":                               "cluster name",
	})
}

// TestNilOptions: a nil option is an error naming its position, never a
// panic.
func TestNilOptions(t *testing.T) {
	if err := New("c", nil).(seeds.Validator).Validate(); err == nil || !strings.Contains(err.Error(), "multicast: option 0 is nil") {
		t.Errorf("Validate = %v, want %q", err, "multicast: option 0 is nil")
	}
}

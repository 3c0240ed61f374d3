package multicast

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

func TestAnnouncementRoundTrip(t *testing.T) {
	backendtest.CheckLeaks(t)
	a := ann("chat", "[fd00::1]:7946", time.Unix(1700000000, 5))
	for _, secret := range [][]byte{nil, testSecret} {
		b := encodeAnnouncement(a, secret)
		got, err := decodeAnnouncement(b)
		if err != nil || got.Cluster != a.Cluster || got.Addr != a.Addr || got.Time != a.Time || got.Nonce != a.Nonce || got.Version != mcVersion {
			t.Fatalf("round trip: %+v, %v", got, err)
		}
		if !got.verify(secret) {
			t.Errorf("verify with the signing secret failed")
		}
		if got.verify([]byte("another-secret-of-16+")) {
			t.Errorf("verify with another secret succeeded")
		}
		// Flipping any byte of a signed packet breaks it.
		if secret != nil {
			for i := range b {
				c := bytes.Clone(b)
				c[i] ^= 0x40
				if d, err := decodeAnnouncement(c); err == nil && d.verify(secret) {
					t.Fatalf("flipped byte %d still verifies", i)
				}
			}
		}
	}
}

func FuzzMulticastAnnouncement(f *testing.F) {
	now := time.Unix(1700000000, 0)
	f.Add(encodeAnnouncement(ann("chat", "10.0.0.1:7946", now), nil))
	f.Add(encodeAnnouncement(ann("chat", "[::1]:7946", now), testSecret))
	f.Add([]byte("GCMC\x01\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAnnouncement(b)
		if err != nil {
			return
		}
		// A decodable packet re-encodes to the same bytes.
		var secret []byte
		if a.MAC != nil {
			secret = testSecret
		}
		re := encodeAnnouncement(a, secret)
		if !bytes.Equal(re[:len(a.signed)], a.signed) || len(re) != len(b) {
			t.Fatalf("re-encoding %q gave %q", b, re)
		}
		a.verify(testSecret)
		a.verify(nil)
		// And the receive path never panics on it.
		m := newMulticast("chat", Secret(testSecret))
		m.handle(b, net.IPv4(192, 0, 2, 1), now)
		m.handle(b, nil, now)
	})
}

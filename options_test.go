package gencluster

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestOptionsRejectBadValues: every option refuses a bad value with an
// error that names the option and the value (or what is wrong with it).
func TestOptionsRejectBadValues(t *testing.T) {
	key16 := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name string
		opt  Option
		want []string // substrings of the error
	}{
		{"WithName empty", WithName(""), []string{"WithName", "empty"}},
		{"WithName long", WithName(strings.Repeat("n", 129)), []string{"WithName", "128"}},
		{"WithName control", WithName("a\nb"), []string{"WithName", `"a\nb"`}},
		{"WithBindAddr bad template", WithBindAddr("{{ GetNoSuchThing }}:7946"), []string{"WithBindAddr", "GetNoSuchThing"}},
		{"WithBindAddr hostname", WithBindAddr("example.com:7946"), []string{"WithBindAddr", "example.com"}},
		{"WithBindAddr port", WithBindAddr("127.0.0.1:70000"), []string{"WithBindAddr", "70000"}},
		{"WithBindAddr no port", WithBindAddr("127.0.0.1"), []string{"WithBindAddr", "127.0.0.1"}},
		{"WithBindAddr empty", WithBindAddr(""), []string{"WithBindAddr", "empty"}},
		{"WithAdvertiseAddr unspecified", WithAdvertiseAddr("0.0.0.0:7946"), []string{"WithAdvertiseAddr", "0.0.0.0"}},
		{"WithAdvertiseAddr hostname", WithAdvertiseAddr("node1:7946"), []string{"WithAdvertiseAddr", "node1"}},
		{"WithSeeds nil", WithSeeds(nil), []string{"WithSeeds", "nil"}},
		{"WithSeedSpec bad", WithSeedSpec("bogus+x"), []string{"WithSeedSpec", "bogus"}},
		{"WithRefreshInterval negative", WithRefreshInterval(-time.Second), []string{"WithRefreshInterval", "-1s"}},
		{"WithRefreshInterval 1ns", WithRefreshInterval(time.Nanosecond), []string{"WithRefreshInterval", "1ns"}},
		{"WithMeta too large", WithMeta(map[string]string{"k": strings.Repeat("v", 600)}), []string{"WithMeta", "512"}},
		{"WithMeta empty key", WithMeta(map[string]string{"": "v"}), []string{"WithMeta", "empty"}},
		{"WithMeta invalid UTF-8", WithMeta(map[string]string{"k": "\xff"}), []string{"WithMeta", "UTF-8"}},
		{"WithLogger nil", WithLogger(nil), []string{"WithLogger", "nil"}},
		{"WithDist nil", WithDist(nil), []string{"WithDist", "nil"}},
		{"WithMemberlistConfig nil", WithMemberlistConfig(nil), []string{"WithMemberlistConfig", "nil"}},
		{"WithRetryBackoff 0", WithRetryBackoff(0), []string{"WithRetryBackoff", "0s"}},
		{"WithRetryBackoff negative", WithRetryBackoff(-time.Millisecond), []string{"WithRetryBackoff", "-1ms"}},
		{"WithSecretKey nil", WithSecretKey(nil), []string{"WithSecretKey", "0 bytes"}},
		{"WithSecretKey 15", WithSecretKey(make([]byte, 15)), []string{"WithSecretKey", "15 bytes", "16, 24 or 32"}},
		{"WithSecretKey 33", WithSecretKey(make([]byte, 33)), []string{"WithSecretKey", "33 bytes"}},
		{"WithKeyring bad other", WithKeyring(key16, make([]byte, 20)), []string{"WithKeyring", "key 1", "20 bytes"}},
		{"WithKeyring duplicate", WithKeyring(key16, make([]byte, 32), key16), []string{"WithKeyring", "key 2", "primary key"}},
		{"WithLabel empty", WithLabel(""), []string{"WithLabel", "empty"}},
		{"WithLabel too long", WithLabel(strings.Repeat("l", 256)), []string{"WithLabel", "256 bytes", "255"}},
		{"WithAllowedCIDRs none", WithAllowedCIDRs(), []string{"WithAllowedCIDRs", "no CIDR"}},
		{"WithAllowedCIDRs bad", WithAllowedCIDRs("10.0.0.0/8", "10.0.0.300/8"), []string{"WithAllowedCIDRs", `"10.0.0.300/8"`}},
		{"WithAllowedCIDRs plain IP", WithAllowedCIDRs("127.0.0.1"), []string{"WithAllowedCIDRs", `"127.0.0.1"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			err := tc.opt(&c)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			// The option adds its context; Start adds the one prefix.
			if strings.Contains(err.Error(), "gencluster:") {
				t.Errorf("option error %q has a package prefix: Start adds it", err)
			}
			_, serr := Start(context.Background(), tc.opt)
			if serr == nil || serr.Error() != "gencluster: "+err.Error() {
				t.Errorf("Start = %v, want %q", serr, "gencluster: "+err.Error())
			}
		})
	}
}

// TestOptionsAcceptGoodValues: the limits are inclusive, and the security
// options accept every AES key size.
func TestOptionsAcceptGoodValues(t *testing.T) {
	for _, o := range []Option{
		WithName(strings.Repeat("n", 128)),
		WithBindAddr("[::1]:0"),
		WithRefreshInterval(0),
		WithRefreshInterval(10 * time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithSecretKey(make([]byte, 16)),
		WithSecretKey(make([]byte, 24)),
		WithKeyring(make([]byte, 32), make([]byte, 16), make([]byte, 24)),
		WithLabel(strings.Repeat("l", MaxLabelSize)),
		WithAllowedCIDRs("10.0.0.0/8", " fd00::/8 ", "127.0.0.1/32"),
	} {
		c := defaultConfig()
		if err := o(&c); err != nil {
			t.Errorf("rejected: %v", err)
		}
	}
}

// TestStartReportsEveryBadOption: Start returns one error listing every bad
// option, not just the first.
func TestStartReportsEveryBadOption(t *testing.T) {
	_, err := Start(context.Background(),
		WithName(""),
		WithBindAddr("127.0.0.1:70000"),
		nil,
		WithRefreshInterval(-time.Second),
		WithSecretKey(make([]byte, 7)),
		WithLabel(strings.Repeat("l", 300)),
		WithAllowedCIDRs("nope"),
	)
	if err == nil {
		t.Fatal("Start accepted bad options")
	}
	for _, w := range []string{"WithName", "70000", "nil Option", "WithRefreshInterval", "7 bytes", "WithLabel", `"nope"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

// TestSecretNeverInErrors: no error shows key bytes, even a bad key's.
func TestSecretNeverInErrors(t *testing.T) {
	secret := "SECRETSECRETSECRETSECRE" // 23 bytes: refused
	c := defaultConfig()
	err := WithSecretKey([]byte(secret))(&c)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %v", err)
	}
	err = WithKeyring([]byte(secret+"T"), []byte(secret+"T"))(&c)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %v", err)
	}
}

// TestAllowedCIDRsMustIncludeSelf: a node whose own address is outside
// the allowed networks does not start (memberlist would run without a
// local node).
func TestAllowedCIDRsMustIncludeSelf(t *testing.T) {
	_, err := Start(context.Background(), append(testOpts(t, "outside"), WithAllowedCIDRs("10.0.0.0/8"))...)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "allowed CIDRs") {
		t.Fatalf("Start = %v, want an error naming the node's address", err)
	}
}

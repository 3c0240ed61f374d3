package meshdist

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Name: "a", Addr: "127.0.0.1:0"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != time.Second || c.MissedHeartbeats != 5 || c.DialTimeout != 2*time.Second || c.MaxFrameSize != 1<<20 || c.Logger == nil {
		t.Errorf("defaults: %+v", c)
	}
	if got := (Config{}).FailureBound(); got != 7*time.Second {
		t.Errorf("default FailureBound = %v, want 7s", got)
	}
	if got := (Config{Interval: 100 * time.Millisecond, MissedHeartbeats: 3, DialTimeout: time.Second}).FailureBound(); got != 1300*time.Millisecond {
		t.Errorf("FailureBound = %v, want 1.3s", got)
	}
}

// TestConfigErrorsNameTheBadValue: every bad field is reported at once,
// with its value.
func TestConfigErrorsNameTheBadValue(t *testing.T) {
	_, err := Config{
		Addr:             "127.0.0.1:99999",
		AdvertiseAddr:    "0.0.0.0:7946",
		Meta:             map[string]string{"": "v"},
		Interval:         time.Millisecond,
		MissedHeartbeats: 1,
		DialTimeout:      -time.Second,
		MaxFrameSize:     100,
	}.withDefaults()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"Config.Name: empty",
		`Config.Addr: "127.0.0.1:99999": port "99999"`,
		`Config.AdvertiseAddr: "0.0.0.0:7946": 0.0.0.0 cannot be dialed`,
		"Config.Meta: empty key",
		"Config.Interval: 1ms is below the 10ms minimum",
		"Config.MissedHeartbeats: 1 is below the minimum of 2",
		"Config.DialTimeout: -1s is negative",
		"Config.MaxFrameSize: 100 is below the minimum of 16384",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, c := range []Config{
		{Name: "a"},
		{Name: strings.Repeat("a", 300), Addr: ":0"},
		{Name: "a\xff", Addr: ":0"},
		{Name: "a", Addr: ":0", Meta: map[string]string{"k": strings.Repeat("v", MaxMetaSize)}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v): no error", c)
		}
	}
}

func TestNewNeedsADialableAddress(t *testing.T) {
	_, err := New(Config{Name: "a", Addr: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "give AdvertiseAddr") {
		t.Fatalf("New on 0.0.0.0 without AdvertiseAddr: %v", err)
	}
	d, err := New(Config{Name: "a", Addr: "0.0.0.0:0", AdvertiseAddr: "127.0.0.1:7946"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Addr() != "127.0.0.1:7946" || d.LocalMember().Addr != "127.0.0.1:7946" {
		t.Errorf("Addr = %s, LocalMember = %v", d.Addr(), d.LocalMember())
	}
}

package gencluster

import (
	"strings"
	"testing"
	"time"
)

// configFromEnv reads env as FromEnv does and returns the config its
// options make, failing t if env or the options are refused. (What the
// config's security fields do to memberlist is package gossip's
// TestSecurityApply.)
func configFromEnv(t *testing.T, env map[string]string) config {
	t.Helper()
	opts, err := fromVars(env)
	if err != nil {
		t.Fatalf("%v: %v", env, err)
	}
	c, err := newConfig(opts)
	if err != nil {
		t.Fatalf("%v: %v", env, err)
	}
	return c
}

// primaryKey is the key c encrypts with, nil for none.
func primaryKey(c config) []byte {
	if len(c.keys) == 0 {
		return nil
	}
	return c.keys[0]
}

func TestFromEnv(t *testing.T) {
	opts, err := fromVars(map[string]string{
		EnvName:            "api-1",
		EnvBindAddr:        "127.0.0.1:7000",
		EnvAdvertiseAddr:   "10.0.0.5:7946",
		EnvSeeds:           "static+10.0.0.1:7946,10.0.0.2:7946 dns+svc.example.com:7946",
		EnvRefreshInterval: "2s",
		EnvMeta:            "zone=eu-1, version=1.4.2,empty=",
		EnvSnapshot:        "/var/lib/api/members.snap",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.name != "api-1" || c.bindAddr != "127.0.0.1:7000" || c.advertiseAddr != "10.0.0.5:7946" {
		t.Errorf("name/bind/advertise = %q %q %q", c.name, c.bindAddr, c.advertiseAddr)
	}
	if c.snapshotPath != "/var/lib/api/members.snap" {
		t.Errorf("snapshot = %q", c.snapshotPath)
	}
	if c.refreshInterval != 2*time.Second {
		t.Errorf("refresh = %v", c.refreshInterval)
	}
	if len(c.seeds) != 1 || c.meta["zone"] != "eu-1" || c.meta["version"] != "1.4.2" || c.meta["empty"] != "" || len(c.meta) != 3 {
		t.Errorf("seeds %v meta %v", c.seeds, c.meta)
	}
}

func TestFromEnvInfinityAndEmpty(t *testing.T) {
	opts, err := fromVars(map[string]string{EnvRefreshInterval: "infinity", EnvName: "  "})
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConfig(append([]Option{WithRefreshInterval(time.Second)}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	if c.refreshInterval != 0 {
		t.Errorf("infinity gave %v", c.refreshInterval)
	}
	if c.name == "" || c.name == "  " {
		t.Errorf("blank GENCLUSTER_NAME should leave the default name, got %q", c.name)
	}
}

func TestFromEnvRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ key, val, want string }{
		{EnvName, strings.Repeat("x", 200), EnvName},
		{EnvBindAddr, "nohost", "nohost"},
		{EnvBindAddr, "{{ GetInterfaceIP \"nosuch0\" }}:7946", EnvBindAddr},
		{EnvAdvertiseAddr, "0.0.0.0:7946", "0.0.0.0"},
		{EnvSeeds, "bogus+x", "bogus"},
		{EnvSeeds, "dns+name-without-port", "name-without-port"},
		{EnvRefreshInterval, "5 parsecs", "5 parsecs"},
		{EnvRefreshInterval, "-1s", "-1s"},
		{EnvMeta, "novalue", "novalue"},
		{EnvMeta, "a=1,a=2", `"a"`},
		{EnvMeta, "k=" + strings.Repeat("v", 600), EnvMeta},
	} {
		_, err := fromVars(map[string]string{tc.key: tc.val})
		if err == nil {
			t.Errorf("%s=%q: no error", tc.key, tc.val)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%q: error %q does not name %q and the variable", tc.key, tc.val, err, tc.want)
		}
	}
}

package gencluster

import (
	"context"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/seeds"
)

// TestStartReportsSeedErrorsWithTheOthers: a bad seed backend is reported
// in the same error as every other bad option, not after they are fixed.
func TestStartReportsSeedErrorsWithTheOthers(t *testing.T) {
	_, err := Start(context.Background(),
		WithName(""),
		WithSeeds(seeds.Static("10.0.0.1:7946", "no-port"), seeds.DNS("web.test", 0)),
		WithRefreshInterval(-1),
	)
	if err == nil {
		t.Fatal("Start accepted bad options")
	}
	for _, w := range []string{"WithName", "WithRefreshInterval", `"no-port"`, "dns port 0"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

// TestErrorMessages pins the exact text of representative errors: one
// "gencluster:" per line, each layer adding its context once.
func TestErrorMessages(t *testing.T) {
	env := func(m map[string]string) func() error {
		return func() error { _, err := fromVars(m); return err }
	}
	start := func(opts ...Option) func() error {
		return func() error { _, err := Start(context.Background(), opts...); return err }
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"bad key in env", env(map[string]string{EnvSecretKey: "c2VjcmV0IQ=="}),
			"gencluster: FromEnv: GENCLUSTER_SECRET_KEY: read as base64, key is 7 bytes, want 16, 24 or 32 (AES-128, AES-192 or AES-256)"},
		{"ambiguous key in env", env(map[string]string{EnvSecretKey: "0123456789abcdef0123456789abcdef"}),
			"gencluster: FromEnv: GENCLUSTER_SECRET_KEY: ambiguous key (value not shown): its 32 characters could be a 32-byte key written as is, or the base64 of a 24-byte key; " +
				"if it is base64, write base64:<the same text>, else write the key encoded: hex:<hex digits> (openssl rand -hex 32) or base64:<standard base64> (openssl rand -base64 32)"},
		{"misspelt variables", env(map[string]string{"GENCLUSTER_SEED": "dns+web.test:7946", "GENCLUSTER_LABLE": "x", EnvRefreshInterval: "soon"}),
			"gencluster: FromEnv: GENCLUSTER_LABLE: no such variable; did you mean GENCLUSTER_LABEL?\n" +
				"gencluster: FromEnv: GENCLUSTER_SEED: no such variable; did you mean GENCLUSTER_SEEDS?\n" +
				`gencluster: FromEnv: GENCLUSTER_REFRESH_INTERVAL="soon": want a duration such as 5s, or infinity`},
		{"bad key size in code", start(WithSecretKey(make([]byte, 20))),
			"gencluster: WithSecretKey: primary key: key is 20 bytes, want 16, 24 or 32 (AES-128, AES-192 or AES-256)"},
		{"bad seeds in env", env(map[string]string{EnvSeeds: "dns+web.test"}),
			`gencluster: FromEnv: GENCLUSTER_SEEDS="dns+web.test": WithSeedSpec: seeds: spec "dns+web.test": "web.test": want name:port`},
		{"two bad options", start(WithName(""), WithRefreshInterval(-1)),
			"gencluster: WithName: empty name\ngencluster: WithRefreshInterval -1ns: negative"},
		{"bad seed backend", start(WithSeeds(seeds.Static("a:1", "b"))),
			`gencluster: WithSeeds: static+a:1,b: seed address "b": want host:port: address b: missing port in address`},
		{"seed option of another backend", start(WithName(""), WithSeeds(seeds.Merge(seeds.Static("a:1"), seeds.DNS("web.test", 0, seeds.SRVHostNames())))),
			"gencluster: WithName: empty name\n" +
				"gencluster: WithSeeds: dns+web.test:0: dns port 0: want a number from 1 to 65535\n" +
				"gencluster: WithSeeds: dns+web.test:0: option SRVHostNames applies only to seeds.SRV, not to seeds.DNS"},
		{"second key option", start(WithSecretKey(make([]byte, 16)), WithKeyring(make([]byte, 32))),
			"gencluster: WithKeyring: the keys are already set by WithSecretKey; give one of WithSecretKey, WithKeyring, WithKeyringMigration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n%s\nwant\n%s", err, tc.want)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.Count(line, "gencluster:") != 1 {
					t.Errorf("line %q: want exactly one gencluster: prefix", line)
				}
			}
		})
	}
}

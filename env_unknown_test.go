package gencluster

import (
	"strings"
	"testing"
)

// TestFromEnvUnknownVariable: a GENCLUSTER_* variable FromEnv does not
// read is a typo to report, naming the closest variable it does read.
func TestFromEnvUnknownVariable(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"GENCLUSTER_SEED", EnvSeeds},
		{"GENCLUSTER_SECRETKEY", EnvSecretKey},
		{"GENCLUSTER_BIND_ADDR", EnvBindAddr},
		{"GENCLUSTER_refresh_interval", EnvRefreshInterval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, "x")
			_, err := FromEnv()
			if err == nil {
				t.Fatalf("FromEnv accepted %s", tc.name)
			}
			if !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), "did you mean "+tc.want+"?") {
				t.Errorf("error %q does not name %s and suggest %s", err, tc.name, tc.want)
			}
		})
	}
}

package seeds

import (
	"strings"
	"testing"
)

func TestHostPort(t *testing.T) {
	for _, tc := range []struct {
		text    string
		port    int
		want    string
		wantErr string
	}{
		{"10.0.0.1", 7946, "10.0.0.1:7946", ""},
		{"10.0.0.1:7000", 7946, "10.0.0.1:7000", ""},
		{"fd00::1", 7946, "[fd00::1]:7946", ""},
		{"[fd00::1]", 7946, "[fd00::1]:7946", ""},
		{"[FD00:0::1]:7000", 0, "[fd00::1]:7000", ""},
		{"fe80::1%eth0", 1, "[fe80::1%eth0]:1", ""},
		{"peer.internal", 7946, "peer.internal:7946", ""},
		{"peer.internal:7000", 0, "peer.internal:7000", ""},
		{"10.0.0.1", 0, "", "no port, and no default port"},
		{"10.0.0.1", 70000, "", "default port 70000"},
		{"10.0.0.1:0", 1, "", `port "0"`},
		{"[10.0.0.1]:1", 1, "", "need brackets"},
		{"[peer]:1", 1, "", `"peer" in brackets is not an IPv6 address`},
		{"peer!:1", 1, "", `dns name "peer!"`},
		{"a:b:c", 1, "", "want host, host:port"},
	} {
		got, err := HostPort(tc.text, tc.port)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("HostPort(%q, %d) = %q, %v; want an error containing %q", tc.text, tc.port, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("HostPort(%q, %d) = %q, %v; want %q", tc.text, tc.port, got, err, tc.want)
		}
	}
}

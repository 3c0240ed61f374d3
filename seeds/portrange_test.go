package seeds

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

func TestPortRange(t *testing.T) {
	backendtest.CheckLeaks(t)
	for _, tc := range []struct {
		d    Discoverer
		want []string
		name string
	}{
		{PortRange("127.0.0.1", 7946, 7948), []string{"127.0.0.1:7946", "127.0.0.1:7947", "127.0.0.1:7948"}, "ports+127.0.0.1:7946-7948"},
		{PortRange("::1", 1, 1), []string{"[::1]:1"}, "ports+[::1]:1-1"},
		{PortRange("h", 65535-MaxPortRange+1, 65535), nil, "ports+h:64512-65535"},
	} {
		if err := validate(tc.d); err != nil {
			t.Fatalf("%s: Validate: %v", tc.name, err)
		}
		got, err := tc.d.Discover(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if tc.want == nil && len(got) != MaxPortRange {
			t.Errorf("%s: %d addresses, want %d", tc.name, len(got), MaxPortRange)
		}
		if name(tc.d) != tc.name {
			t.Errorf("Name = %q, want %q", name(tc.d), tc.name)
		}
	}
}

func TestPortRangeErrors(t *testing.T) {
	backendtest.CheckLeaks(t)
	for _, tc := range []struct {
		host        string
		first, last int
		want        string
	}{
		{"", 1, 2, "empty host"},
		{"a b", 1, 2, `invalid host "a b"`},
		{"h", 0, 2, "port 0"},
		{"h", 1, 65536, "port 65536"},
		{"h", -5, 3, "port -5"},
		{"h", 20, 10, "20-10: first port is above last"},
		{"h", 1000, 1000 + MaxPortRange, "1000-2024: 1025 ports, more than the limit of 1024"},
	} {
		d := PortRange(tc.host, tc.first, tc.last)
		err := validate(d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("PortRange(%q, %d, %d): Validate = %v, want %q", tc.host, tc.first, tc.last, err, tc.want)
		}
		if got, err := d.Discover(context.Background()); err == nil || got != nil {
			t.Errorf("PortRange(%q, %d, %d): Discover = %q, %v; want an error", tc.host, tc.first, tc.last, got, err)
		}
	}
}

func TestPortRangeSpec(t *testing.T) {
	backendtest.CheckLeaks(t)
	checkSpecNames(t, map[string]string{
		"ports+127.0.0.1:7946-7955": "ports+127.0.0.1:7946-7955",
		"ports+[::1]:7946-7947":     "ports+[::1]:7946-7947",
		"ports+localhost:7946":      "ports+localhost:7946-7946",
	})
	checkSpecErrors(t, map[string]string{
		"ports+127.0.0.1":             "want host:first-last",
		"ports+h:x-2":                 `first port "x"`,
		"ports+h:1-y":                 `last port "y"`,
		"ports+h:1-":                  `last port ""`,
		"ports+h:9-1":                 "first port is above last",
		"ports+h:1-2000":              "more than the limit",
		"ports+:1-2":                  "empty host",
		"ports+127.0.0.1:7946-7955-7": `last port "7955-7"`,
	})
}

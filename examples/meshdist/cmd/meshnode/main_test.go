package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them (the readers of
// the processes' output end when the processes do).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-name", "a", "-seeds", "10.0.0.2:7946,10.0.0.3:7946", "-meta", "zone=z1,role=api", "-interval", "100ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.dist.Name != "a" || c.dist.Addr != "127.0.0.1:7946" || len(c.seeds) != 2 || c.seeds[1] != "10.0.0.3:7946" ||
		c.dist.Meta["zone"] != "z1" || c.dist.Meta["role"] != "api" || c.dist.Interval != 100*time.Millisecond || c.httpAddr != "" {
		t.Errorf("parsed %+v", c)
	}
	for args, want := range map[string]string{
		"-meta zone":        `-meta: "zone" is not k=v`,
		"-leave-timeout 0s": "-leave-timeout 0s: must be positive",
		"extra":             "unexpected arguments",
		"-interval soon":    "invalid value",
	} {
		if _, err := parseFlags(strings.Fields(args), io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseFlags(%s) = %v, want %q", args, err, want)
		}
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-name", "", "-interval", "1ms"}, io.Discard, &out); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for _, want := range []string{"Config.Name: empty", "Config.Interval: 1ms is below the 10ms minimum"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, out.String())
		}
	}
}

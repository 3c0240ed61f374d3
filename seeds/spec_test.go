package seeds

import (
	"strings"
	"testing"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

// checkSpecNames parses each spec and checks that the backend's Name is
// the given canonical spec.
func checkSpecNames(t *testing.T, names map[string]string) {
	t.Helper()
	backendtest.CheckSpecNames(t, Parse, names)
}

// checkSpecErrors checks that each spec is refused with an error naming
// the spec and containing the given text.
func checkSpecErrors(t *testing.T, errs map[string]string) {
	t.Helper()
	backendtest.CheckSpecErrors(t, Parse, errs)
}

// TestOptionalSchemesSayWhatToImport: mdns+ and mcast+ are not built in,
// so that a program that never names them does not link them; a spec
// naming one on a Registry without it says which package registers it,
// instead of only "unknown scheme".
func TestOptionalSchemesSayWhatToImport(t *testing.T) {
	for spec, want := range map[string][]string{
		"mdns+_chat._udp": {`scheme "mdns" is not registered`, "github.com/gencluster/gencluster/seeds/mdns", "mdns.Register", "SeedRegistry"},
		"mcast+chat":      {`scheme "mcast" is not registered`, "github.com/gencluster/gencluster/seeds/multicast", "multicast.Register"},
	} {
		_, err := Parse(spec)
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", spec, err, w)
			}
		}
	}
	_, err := Parse("nosuch+x")
	if err == nil || !strings.Contains(err.Error(), `unknown scheme "nosuch"`) {
		t.Errorf("Parse(nosuch+x) = %v, want unknown scheme", err)
	}
}

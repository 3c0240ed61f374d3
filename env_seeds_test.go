package gencluster

import (
	"slices"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/seeds"
	"github.com/gencluster/gencluster/seeds/mdns"
)

// TestFromEnvSeedRegistry: GENCLUSTER_SEEDS naming mdns+ fails with
// seeds.Default(), saying which package registers it, and works with a
// Registry that has it; a nil Registry or EnvOption is an error.
func TestFromEnvSeedRegistry(t *testing.T) {
	vars := map[string]string{EnvSeeds: "mdns+_chat._udp static+10.0.0.1:7946"}
	_, err := fromVars(vars)
	for _, want := range []string{EnvSeeds, `scheme "mdns" is not registered`, "github.com/gencluster/gencluster/seeds/mdns", "SeedRegistry"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without the scheme: %v, want an error containing %q", err, want)
		}
	}
	r := seeds.Default()
	if err := mdns.Register(r); err != nil {
		t.Fatal(err)
	}
	opts, err := fromVars(vars, SeedRegistry(r))
	if err != nil {
		t.Fatalf("with mdns registered: %v", err)
	}
	c, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range c.backends {
		names = append(names, b.Name)
	}
	if want := []string{"mdns+_chat._udp", "static+10.0.0.1:7946"}; !slices.Equal(names, want) {
		t.Errorf("backends %v, want %v", names, want)
	}
	if _, err := fromVars(vars, SeedRegistry(nil), nil); err == nil || !strings.Contains(err.Error(), "SeedRegistry: nil Registry") || !strings.Contains(err.Error(), "EnvOption 1 is nil") {
		t.Errorf("nil Registry and nil EnvOption: %v", err)
	}
}

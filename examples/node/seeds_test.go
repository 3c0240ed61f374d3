package main

import (
	"slices"
	"testing"

	"github.com/gencluster/gencluster/seeds"
)

// TestSeedRegistryHasEveryBackend: GENCLUSTER_SEEDS can name every
// backend of the module, the built-in ones and mdns+ and mcast+, whose
// packages the program registers.
func TestSeedRegistryHasEveryBackend(t *testing.T) {
	r, err := seedRegistry()
	if err != nil {
		t.Fatal(err)
	}
	want := append(seeds.Default().Schemes(), "mcast", "mdns")
	slices.Sort(want)
	if got := r.Schemes(); !slices.Equal(got, want) {
		t.Errorf("schemes %v, want %v", got, want)
	}
	for _, spec := range []string{"mdns+_gencluster._udp?interval=1s&timeout=300ms", "mcast+chat?interval=1s", "static+10.0.0.1:7946"} {
		if _, err := r.Parse(spec); err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
		}
	}
}

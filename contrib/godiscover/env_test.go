package godiscover

import (
	"context"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

// TestFromEnvNamesDiscover: GENCLUSTER_SEEDS can name discover+ when the
// program hands FromEnv the Registry it registered the scheme in; without
// it, FromEnv refuses the spec. The started node asks the provider.
func TestFromEnvNamesDiscover(t *testing.T) {
	t.Setenv(gencluster.EnvSeeds, "discover+provider=fake&tag=x&port=7946")
	t.Setenv("GENCLUSTER_BIND", "127.0.0.1:0")
	if _, err := gencluster.FromEnv(); err == nil {
		t.Fatal("FromEnv with the default Registry accepted discover+")
	}
	reg := seeds.Default()
	p := &fakeProvider{addrs: []string{"127.0.0.1"}}
	if err := Register(reg, with(p)); err != nil {
		t.Fatal(err)
	}
	opts, err := gencluster.FromEnv(gencluster.SeedRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node, err := gencluster.Start(ctx, append(opts, gencluster.WithName("env-discover"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	p.mu.Lock()
	calls, tag := p.calls, p.args["tag"]
	p.mu.Unlock()
	if calls == 0 || tag != "x" {
		t.Fatalf("the provider was called %d times with tag %q; want at least once with tag x", calls, tag)
	}
}

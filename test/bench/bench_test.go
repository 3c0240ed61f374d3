package bench

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// smoke skips the scenario tests under -short: they form real clusters and
// take about 40s together.
func smoke(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("benchmark smoke test; runs without -short")
	}
}

// The smoke tests run every scenario with a few nodes so that CI keeps the
// benchmarks working. They assert what does not depend on timing: the
// clusters form, the crash is detected, gencluster heals the partition.
// Raw memberlist's heal is logged, not asserted.

func TestSmokeStart(t *testing.T) {
	smoke(t)
	ctx := context.Background()
	for _, impl := range Impls {
		r, err := RunStart(ctx, impl, 4, 0, StartOptions{Timeout: 20 * time.Second, Detect: true, Load: true, FalseFailWait: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		t.Logf("%s n=4: converged %v in %v; crash detected %v in %v; false failures %d", impl, r.Converged, r.Took, r.Detected, r.Detect, r.FalseFailures)
		if !r.Converged || !r.Detected {
			t.Errorf("%s: converged %v, detected %v", impl, r.Converged, r.Detected)
		}
		if len(r.NodeTimes) != 4 {
			t.Errorf("%s: %d node times, want 4", impl, len(r.NodeTimes))
		}
	}
}

func TestSmokePartition(t *testing.T) {
	smoke(t)
	ctx := context.Background()
	for _, impl := range Impls {
		r, err := RunPartition(ctx, impl, 4, 0, PartitionOptions{Timeout: 20 * time.Second, HealTimeout: 3 * RefreshInterval})
		if err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		t.Logf("%s n=4: split %v in %v, healed %v in %v", impl, r.Split, r.SplitTook, r.Healed, r.HealTook)
		if !r.Split {
			t.Errorf("%s: the partition did not split the cluster", impl)
		}
		if impl == Gencluster && !r.Healed {
			t.Errorf("gencluster did not heal within %v", r.HealTimeout)
		}
	}
}

func TestSmokeOverhead(t *testing.T) {
	smoke(t)
	for _, impl := range Impls {
		r, err := RunOverhead(context.Background(), impl, 3, 20*time.Second, 200*time.Millisecond, nil)
		if err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		t.Logf("%+v", r)
	}
}

func BenchmarkAdapter(b *testing.B)              { AdapterEvents(b) }
func BenchmarkChannelEventDelegate(b *testing.B) { ChannelEvents(b) }

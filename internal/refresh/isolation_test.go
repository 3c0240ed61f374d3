package refresh

import (
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
)

// TestIsolationOfANodeThatNeverJoined: a node alone whose only discovered
// address keeps failing is isolated after IsolationIntervals intervals,
// with the diagnosis, and no longer once the join succeeds.
func TestIsolationOfANodeThatNeverJoined(t *testing.T) {
	const seed = "10.0.0.2:7946"
	f := testutil.NewDist("10.0.0.1:7946")
	d := &testutil.Seeds{}
	d.Set(nil, seed)
	st := new(Status)
	c := config(f, d)
	c.Status = st
	start := time.Now()
	startLoop(t, c)
	testutil.Eventually(t, 5*time.Second, func() bool { iso, _ := st.Isolated(); return iso }, "isolation")
	if took := time.Since(start); took < IsolationIntervals*c.Interval {
		t.Errorf("isolated after %v, before %d intervals", took, IsolationIntervals)
	}
	if _, why := st.Isolated(); !strings.Contains(why, "unreachable") || !strings.Contains(why, seed) {
		t.Errorf("reason %q: want the diagnosis and the address", why)
	}
	if n := st.NotMembers(); n != 1 {
		t.Errorf("NotMembers = %d, want 1", n)
	}
	f.SetOK(seed, true)
	testutil.Eventually(t, 5*time.Second, func() bool { iso, _ := st.Isolated(); return !iso && st.NotMembers() == 0 }, "the join to clear it")
}

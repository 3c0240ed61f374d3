//go:build system

package system

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// TestOutsidersStayOut (scenario 6): a cluster running with a secret key
// and a label; a node with the wrong key and a node with another label
// (the right key) are pointed at it through the same DNS name (so the
// cluster's refresh loop also dials them). They stay out: the cluster's
// members do not change and each outsider lists only itself.
func TestOutsidersStayOut(t *testing.T) {
	key := newKey(t)
	c := newCluster(t, nodes/2, "GENCLUSTER_SECRET_KEY="+key, "GENCLUSTER_LABEL=prod")
	c.waitWhole("converged (with key and label)", convergeTimeout)
	members := slices.Clone(c.names)
	wrongKey, wrongLabel := c.Name+"-wrongkey", c.Name+"-wronglabel"
	c.start(wrongKey, "GENCLUSTER_SECRET_KEY="+newKey(t))
	c.start(wrongLabel, "GENCLUSTER_LABEL=staging")
	// Both outsiders have tried, and failed, to join the cluster.
	c.waitFor("the outsiders' joins failed", failTimeout, func() error {
		for _, o := range []string{wrongKey, wrongLabel} {
			v, err := c.Metric(o, "gencluster_connect_attempts_total", `result="error"`)
			if err != nil {
				return err
			}
			if v == 0 {
				return fmt.Errorf("%s: no failed join yet", o)
			}
		}
		return nil
	})
	views := map[string][]string{wrongKey: {wrongKey}, wrongLabel: {wrongLabel}}
	for _, m := range members {
		views[m] = members
	}
	c.HoldViews("the outsiders stay out", outsiderWatch, views)
	var attempts []string
	for _, o := range append(slices.Clone(members[:1]), wrongKey, wrongLabel) {
		v, err := c.Metric(o, "gencluster_connect_attempts_total", `result="error"`)
		if err != nil {
			t.Fatal(err)
		}
		attempts = append(attempts, fmt.Sprintf("%s=%v", strings.TrimPrefix(o, c.Name+"-"), v))
	}
	t.Logf("measured: outsiders (wrong key, wrong label) kept out for %v; cluster of %d unchanged; failed joins: %s",
		outsiderWatch, len(members), strings.Join(attempts, " "))
}

//go:build realpeers

package realpeers

import (
	"os"
	"testing"
)

// TestMain runs the tests, then removes what the harness built once for the
// whole test binary (the node program, mlnode).
func TestMain(m *testing.M) {
	code := m.Run()
	labBuild.cleanup()
	mlBuild.cleanup()
	os.Exit(code)
}

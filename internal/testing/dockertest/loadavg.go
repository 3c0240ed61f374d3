package dockertest

import (
	"os"
	"strings"
)

// LoadAvg returns /proc/loadavg's first three fields, for the tests to
// print beside every figure they take: timings from a loaded machine are
// not comparable, and the reader must be able to tell.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return strings.TrimSpace(string(b))
	}
	return strings.Join(f[:3], " ")
}

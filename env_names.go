package gencluster

import (
	"fmt"
	"slices"
	"strings"
)

// envVars lists every variable FromEnv reads.
var envVars = []string{
	EnvName, EnvBindAddr, EnvAdvertiseAddr, EnvSeeds, EnvRefreshInterval, EnvMeta,
	EnvSecretKey, EnvSecretKeyFile, EnvLabel, EnvKeyMigration, EnvSnapshot,
}

// unknownVars returns an error for each GENCLUSTER_* variable of vars
// that FromEnv does not read (any case of the prefix), naming the closest
// one it does: a misspelt variable must not leave its setting at the
// default unnoticed.
func unknownVars(vars map[string]string) []error {
	var errs []error
	for k := range vars {
		if !strings.HasPrefix(strings.ToUpper(k), "GENCLUSTER_") || slices.Contains(envVars, k) {
			continue
		}
		errs = append(errs, fmt.Errorf("%s: no such variable; did you mean %s?", k, closestVar(k)))
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// closestVar returns the variable FromEnv reads that is the fewest edits
// away from name (upper-cased), preferring, among equals, the one that
// shares the longest prefix with it.
func closestVar(name string) string {
	name = strings.ToUpper(name)
	best, bestDist, bestPrefix := "", -1, 0
	for _, v := range envVars {
		d, p := editDistance(name, v), commonPrefix(name, v)
		if bestDist < 0 || d < bestDist || (d == bestDist && p > bestPrefix) {
			best, bestDist, bestPrefix = v, d, p
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

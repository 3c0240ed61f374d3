//go:build race

package shard

// Under the race detector the distribution tests count fewer keys: CI runs
// every package's tests with -race on 2 cores.
func init() { distKeys = 250_000 }

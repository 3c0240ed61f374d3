package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestDemo runs the README's demo with three nodes: it fails when the
// crash or the leave is not detected.
func TestDemo(t *testing.T) {
	defer goleak.VerifyNone(t)
	if err := run(3, false); err != nil {
		t.Fatal(err)
	}
	if err := run(2, false); err == nil {
		t.Fatal("run accepted 2 nodes")
	}
}

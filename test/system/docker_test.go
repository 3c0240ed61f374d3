//go:build system

package system

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildErr == nil {
		// Only the image this run built.
		dockertest.RemoveImage(image)
	}
	os.Exit(code)
}

// mustDocker is dockertest.Must: an error is fatal.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	return dockertest.Must(t, args...)
}

// requireNetTools fails the test when the partition tools are missing.
func requireNetTools(t *testing.T) {
	t.Helper()
	dockertest.RequireNetTools(t, "the partition tests")
}

// buildImage builds the static node binary with the host's Go and a FROM
// scratch image around it, once per test binary.
func buildImage(t *testing.T) {
	t.Helper()
	dockertest.RequireDocker(t, "the system tests")
	buildOnce.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		buildErr = dockertest.BuildImage(ctx, root, image)
	})
	if buildErr != nil {
		t.Fatalf("building the node image: %v", buildErr)
	}
}

package dockertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildNode builds examples/node of the module at root as a static binary
// (CGO_ENABLED=0, -trimpath) at bin, with the extra go build flags.
func BuildNode(ctx context.Context, root, bin string, flags ...string) error {
	args := append([]string{"build", "-trimpath"}, flags...)
	args = append(args, "-o", bin, "./examples/node")
	// go test puts its own toolchain first in PATH.
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./examples/node: %w\n%s", err, out)
	}
	return nil
}

// BuildImage builds the node program of the module at root, stripped, and
// the FROM scratch image of examples/compose/Dockerfile around it, tagged
// image and labelled Label. It is the example's own Dockerfile, so that
// the tests check what users run. RemoveImage removes it.
func BuildImage(ctx context.Context, root, image string) error {
	dir, err := os.MkdirTemp("", "gencluster-dockertest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := BuildNode(ctx, root, filepath.Join(dir, "gencluster-node"), "-ldflags=-s -w"); err != nil {
		return err
	}
	df, err := os.ReadFile(filepath.Join(root, "examples", "compose", "Dockerfile"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		return err
	}
	_, err = Docker(ctx, "build", "-q", "--label", Label+"=1", "-t", image, dir)
	return err
}

// RemoveImage removes image; a failure is ignored (it may not exist).
func RemoveImage(image string) {
	_ = exec.Command("docker", "rmi", "-f", image).Run()
}

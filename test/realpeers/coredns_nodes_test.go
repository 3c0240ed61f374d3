//go:build realpeers

package realpeers

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// cdnsHTTPPort is the node program's status port, as in the example.
const cdnsHTTPPort = 8080

// cdnsRequireTools fails the test when Docker, nsenter or iptables is
// missing.
func cdnsRequireTools(t *testing.T) {
	t.Helper()
	dockertest.RequireNetTools(t, "the CoreDNS scenario's containers")
	dockertest.RequireDocker(t, "the CoreDNS scenario's containers")
}

// cdnsBuildImage builds examples/node as a static binary and the FROM
// scratch image of examples/compose around it; the image is removed when
// the test ends.
func cdnsBuildImage(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	image := "gencluster-realpeers-node:" + dockertest.RandomHex(4)
	if err := dockertest.BuildImage(ctx, root, image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dockertest.RemoveImage(image) })
	return image
}

// cdnsNewNetwork creates a Docker network of the test's own, a random
// 10.197.X.0/24: its gateway (the host's side of the bridge) is where
// CoreDNS listens. It is removed, with every container started on it,
// when the test ends.
func cdnsNewNetwork(t *testing.T) *dockertest.Network {
	t.Helper()
	return dockertest.NewNetwork(t, dockertest.Config{
		Name:     "gcrp-k8s-" + dockertest.RandomHex(3),
		Subnet16: "10.197",
		HTTPPort: cdnsHTTPPort,
		LogTail:  30,
	})
}

// start runs the node program as the container of pod name, with address
// ip, resolving names through CoreDNS on the gateway (docker run --dns)
// and with the environment env.
func (c *cdnsCluster) start(name, ip string, env []string, args ...string) {
	c.t.Helper()
	run := []string{"--dns", c.net.Gateway()}
	for _, e := range env {
		run = append(run, "-e", e)
	}
	run = append(run, c.image)
	c.net.Run(name, ip, append(run, args...)...)
}

// runningIPs returns the running containers' addresses, sorted.
func (c *cdnsCluster) runningIPs() []string {
	var ips []string
	for _, name := range c.net.Names() {
		ips = append(ips, c.net.IP(name))
	}
	slices.Sort(ips)
	return ips
}

package test

import (
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

// composeFile is the subset of examples/compose/compose.yaml the test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Environment map[string]string `yaml:"environment"`
		Networks    []string          `yaml:"networks"`
		Ports       []string          `yaml:"ports"`
		Command     []string          `yaml:"command"`
		Hostname    string            `yaml:"hostname"`
		Container   string            `yaml:"container_name"`
	} `yaml:"services"`
}

// TestComposeFile checks the Compose example: one service, "node", that
// can be scaled (no fixed name, container name or host port); it uses only
// the variables FromEnv reads, and its seed spec is the service's own DNS
// name (Docker's embedded DNS answers it with one A record per replica) on
// the gossip port.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../examples/compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	if len(cf.Services) != 1 {
		t.Fatalf("%d services, want 1 (node, scaled with --scale node=N)", len(cf.Services))
	}
	s, ok := cf.Services["node"]
	if !ok {
		t.Fatal(`no service "node"`)
	}
	env := s.Environment
	for k := range env {
		if strings.HasPrefix(k, "GENCLUSTER_") && !slices.Contains(knownEnv, k) {
			t.Errorf("env %s: gencluster.FromEnv reads no such variable", k)
		}
	}
	if v, ok := env[gencluster.EnvName]; ok {
		t.Errorf("%s=%q: replicas of a scaled service would share it; leave it unset", gencluster.EnvName, v)
	}
	if s.Hostname != "" || s.Container != "" {
		t.Errorf("hostname %q / container_name %q: a scaled service cannot fix them", s.Hostname, s.Container)
	}
	spec := env[gencluster.EnvSeeds]
	if _, err := seeds.Parse(spec); err != nil {
		t.Errorf("%s=%q: %v", gencluster.EnvSeeds, spec, err)
	}
	host, port, err := net.SplitHostPort(strings.TrimPrefix(spec, "dns+"))
	if err != nil || !strings.HasPrefix(spec, "dns+") || host != "node" {
		t.Errorf("%s=%q: want dns+node:port (the service name)", gencluster.EnvSeeds, spec)
	}
	if _, bport, err := net.SplitHostPort(env[gencluster.EnvBindAddr]); err != nil || bport != port {
		t.Errorf("%s=%q: want the seed port %s (err %v)", gencluster.EnvBindAddr, env[gencluster.EnvBindAddr], port, err)
	}
	if len(s.Networks) == 0 {
		t.Error("on no user-defined network (the default bridge has no DNS)")
	}
	for _, p := range s.Ports {
		// host:container or ip:host:container with a fixed host port
		// cannot be scaled; ip::container (ephemeral) can.
		parts := strings.Split(p, ":")
		if len(parts) >= 2 && parts[len(parts)-2] != "" {
			t.Errorf("port %q publishes a fixed host port: a second replica cannot bind it", p)
		}
	}
	if i := slices.Index(s.Command, "-http"); i < 0 || i+1 >= len(s.Command) || !strings.HasSuffix(s.Command[i+1], ":8080") {
		t.Errorf("command %q: want -http :8080, the published container port", s.Command)
	}
	// FromEnv accepts the rest; the bind template needs the container's
	// eth0, so a host address stands in for it.
	for _, k := range knownEnv {
		v := env[k]
		if k == gencluster.EnvBindAddr && strings.Contains(v, "{{") {
			v = "127.0.0.1:7946"
		}
		t.Setenv(k, v)
	}
	if _, err := gencluster.FromEnv(); err != nil {
		t.Errorf("FromEnv: %v", err)
	}
}

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

// composeFile is the subset of examples/docker/compose.yaml the test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Environment map[string]string `yaml:"environment"`
		Networks    map[string]struct {
			Aliases []string `yaml:"aliases"`
		} `yaml:"networks"`
		Ports []string `yaml:"ports"`
	} `yaml:"services"`
}

// TestComposeFile checks the Docker example: every node uses only the
// variables FromEnv reads, the seed spec parses and names the network
// alias every node has, node names and published ports are unique.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../examples/docker/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	if len(cf.Services) != 5 {
		t.Errorf("%d services, want 5", len(cf.Services))
	}
	names := map[string]string{}
	ports := map[string]string{}
	for svc, s := range cf.Services {
		env := s.Environment
		for k := range env {
			if strings.HasPrefix(k, "GENCLUSTER_") && !slices.Contains(knownEnv, k) {
				t.Errorf("%s: env %s: gencluster.FromEnv reads no such variable", svc, k)
			}
		}
		spec := env[gencluster.EnvSeeds]
		if _, err := seeds.Parse(spec); err != nil {
			t.Errorf("%s: %s=%q: %v", svc, gencluster.EnvSeeds, spec, err)
		}
		host, _, err := net.SplitHostPort(strings.TrimPrefix(spec, "dns+"))
		if err != nil || !strings.HasPrefix(spec, "dns+") {
			t.Errorf("%s: %s=%q: want dns+alias:port", svc, gencluster.EnvSeeds, spec)
		}
		for nw, n := range s.Networks {
			if !slices.Contains(n.Aliases, host) {
				t.Errorf("%s: network %s: aliases %v lack the seed name %q", svc, nw, n.Aliases, host)
			}
		}
		if len(s.Networks) == 0 {
			t.Errorf("%s: on no user-defined network (the default bridge has no DNS)", svc)
		}
		name := env[gencluster.EnvName]
		if other, dup := names[name]; dup || name == "" {
			t.Errorf("%s: %s=%q, also used by %s", svc, gencluster.EnvName, name, other)
		}
		names[name] = svc
		for _, p := range s.Ports {
			if other, dup := ports[p]; dup {
				t.Errorf("%s: port %s also published by %s", svc, p, other)
			}
			ports[p] = svc
		}
		// FromEnv accepts the rest; the bind template needs the
		// container's eth0, so a host address stands in for it.
		for _, k := range knownEnv {
			v := env[k]
			if k == gencluster.EnvBindAddr && strings.Contains(v, "{{") {
				v = "127.0.0.1:7946"
			}
			t.Setenv(k, v)
		}
		if _, err := gencluster.FromEnv(); err != nil {
			t.Errorf("%s: FromEnv: %v", svc, err)
		}
	}
}

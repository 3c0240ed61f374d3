package test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

var dependentVar = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// fieldRefExample is a value for each downward-API field the manifests may
// use, to expand $(VAR) references as the kubelet would.
var fieldRefExample = map[string]string{
	"metadata.name":      "gencluster-0",
	"metadata.namespace": "chat",
	"status.podIP":       "10.244.1.7",
}

// env returns the container's environment with $(VAR) references expanded
// as the kubelet expands them, downward-API fields taking example values.
// Every GENCLUSTER_* name must be one FromEnv reads.
func (s k8sSet) env(t *testing.T) map[string]string {
	t.Helper()
	return expandEnv(t, s.node)
}

func expandEnv(t *testing.T, c container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s given twice", e.Name)
		}
		if strings.HasPrefix(e.Name, "GENCLUSTER_") && !slices.Contains(knownEnv, e.Name) {
			t.Errorf("env %s: gencluster.FromEnv reads no such variable (it reads %v)", e.Name, knownEnv)
		}
		v := e.Value
		if e.ValueFrom != nil {
			if e.ValueFrom.FieldRef == nil {
				t.Errorf("env %s: only fieldRef is expected in valueFrom", e.Name)
				continue
			}
			ex, ok := fieldRefExample[e.ValueFrom.FieldRef.FieldPath]
			if !ok {
				t.Errorf("env %s: unexpected fieldPath %q", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			v = ex
		}
		// The kubelet expands references to variables defined earlier.
		v = dependentVar.ReplaceAllStringFunc(v, func(ref string) string {
			name := dependentVar.FindStringSubmatch(ref)[1]
			val, ok := env[name]
			if !ok {
				t.Errorf("env %s refers to $(%s), which is not defined before it", e.Name, name)
			}
			return val
		})
		env[e.Name] = v
	}
	return env
}

// TestK8sEnv checks the container's GENCLUSTER_* environment the way the
// program reads it: FromEnv accepts it, the seed spec parses, and it names
// the headless Service in the kustomization's namespace on the gossip port.
func TestK8sEnv(t *testing.T) {
	s, _ := loadBase(t)
	env := s.env(t)
	for _, k := range []string{gencluster.EnvSeeds, gencluster.EnvBindAddr, gencluster.EnvAdvertiseAddr} {
		if env[k] == "" {
			t.Errorf("%s is not set", k)
		}
	}
	checkFromEnv(t, env)

	spec := env[gencluster.EnvSeeds]
	if _, err := seeds.Parse(spec); err != nil {
		t.Fatalf("%s=%q: %v", gencluster.EnvSeeds, spec, err)
	}
	gossip := portOf(t, gencluster.EnvBindAddr, env[gencluster.EnvBindAddr])
	want := fmt.Sprintf("dns+%s.%s.svc.cluster.local:%d", s.svc.Metadata.Name, s.namespace, gossip)
	if spec != want {
		t.Errorf("%s=%q, want %q (the headless Service, in the kustomization's namespace, on the gossip port)", gencluster.EnvSeeds, spec, want)
	}
	if adv := env[gencluster.EnvAdvertiseAddr]; !strings.HasPrefix(adv, fieldRefExample["status.podIP"]+":") {
		t.Errorf("%s=%q: want the pod IP from the downward API", gencluster.EnvAdvertiseAddr, adv)
	}
}

// checkFromEnv sets the GENCLUSTER_* variables of env and checks that
// gencluster.FromEnv accepts them.
func checkFromEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range knownEnv {
		t.Setenv(k, env[k])
	}
	if _, err := gencluster.FromEnv(); err != nil {
		t.Errorf("FromEnv with the manifest's environment: %v", err)
	}
}

// TestK8sAPIAlternative checks the documented alternative: the patch's seed
// spec parses, names the same Service, and uses the ServiceAccount of
// rbac.yaml.
func TestK8sAPIAlternative(t *testing.T) {
	s, docs := loadBase(t)
	var (
		patch workload
		sa    string
		found bool
	)
	for _, d := range docs {
		switch {
		case d.file == "k8s-api-patch.yaml":
			d.decode(t, &patch)
			found = true
		case d.file == "rbac.yaml" && d.obj.Kind == "ServiceAccount":
			sa = d.obj.Metadata.Name
		}
	}
	if !found || sa == "" {
		t.Fatal("k8s-api-patch.yaml or rbac.yaml's ServiceAccount is missing")
	}
	if patch.Kind != s.workload.Kind || patch.Metadata.Name != s.workload.Metadata.Name {
		t.Errorf("the patch targets %s %s, want %s %s", patch.Kind, patch.Metadata.Name, s.workload.Kind, s.workload.Metadata.Name)
	}
	ps := patch.Spec.Template.Spec
	if ps.ServiceAccountName != sa {
		t.Errorf("the patch's serviceAccountName %q, want rbac.yaml's %q", ps.ServiceAccountName, sa)
	}
	if len(ps.Containers) != 1 || ps.Containers[0].Name != s.node.Name {
		t.Fatalf("the patch must patch container %q", s.node.Name)
	}
	env := expandEnv(t, ps.Containers[0])
	spec := env[gencluster.EnvSeeds]
	if _, err := seeds.Parse(spec); err != nil {
		t.Fatalf("patch %s=%q: %v", gencluster.EnvSeeds, spec, err)
	}
	if !strings.HasPrefix(spec, fmt.Sprintf("k8s+%s/%s:", s.namespace, s.svc.Metadata.Name)) {
		t.Errorf("patch %s=%q does not name Service %s/%s", gencluster.EnvSeeds, spec, s.namespace, s.svc.Metadata.Name)
	}
	// The base environment with the patch applied is still valid.
	merged := s.env(t)
	for k, v := range env {
		merged[k] = v
	}
	checkFromEnv(t, merged)
}

package test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gencluster/gencluster"
)

const k8sDir = "../examples/k8s"

// knownEnv is every variable gencluster.FromEnv reads.
var knownEnv = []string{
	gencluster.EnvName, gencluster.EnvBindAddr, gencluster.EnvAdvertiseAddr,
	gencluster.EnvSeeds, gencluster.EnvRefreshInterval, gencluster.EnvMeta,
	gencluster.EnvSecretKey, gencluster.EnvLabel,
}

// knownKinds are the apiVersion/kind pairs the examples may use.
var knownKinds = map[string]bool{
	"v1/Namespace":                                  true,
	"v1/Service":                                    true,
	"v1/ServiceAccount":                             true,
	"apps/v1/StatefulSet":                           true,
	"apps/v1/Deployment":                            true,
	"policy/v1/PodDisruptionBudget":                 true,
	"networking.k8s.io/v1/NetworkPolicy":            true,
	"rbac.authorization.k8s.io/v1/Role":             true,
	"rbac.authorization.k8s.io/v1/RoleBinding":      true,
	"kustomize.config.k8s.io/v1beta1/Kustomization": true,
}

// The subset of the Kubernetes objects the checks read.
type (
	object struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Metadata   metadata `yaml:"metadata"`
	}
	metadata struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	}
	service struct {
		object `yaml:",inline"`
		Spec   struct {
			ClusterIP                string            `yaml:"clusterIP"`
			PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
			Selector                 map[string]string `yaml:"selector"`
			Ports                    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort any    `yaml:"targetPort"`
				Protocol   string `yaml:"protocol"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	workload struct {
		object `yaml:",inline"`
		Spec   struct {
			ServiceName string `yaml:"serviceName"`
			Selector    struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata metadata `yaml:"metadata"`
				Spec     podSpec  `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	podSpec struct {
		TerminationGracePeriodSeconds *int        `yaml:"terminationGracePeriodSeconds"`
		ServiceAccountName            string      `yaml:"serviceAccountName"`
		Containers                    []container `yaml:"containers"`
	}
	container struct {
		Name  string   `yaml:"name"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Env   []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom *struct {
				FieldRef *struct {
					FieldPath string `yaml:"fieldPath"`
				} `yaml:"fieldRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
			Protocol      string `yaml:"protocol"`
		} `yaml:"ports"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
	}
	probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
	}
	kustomization struct {
		object    `yaml:",inline"`
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
		Patches   []struct {
			Path string `yaml:"path"`
		} `yaml:"patches"`
	}
)

// doc is one YAML document of one file.
type doc struct {
	file string
	obj  object
	node *yaml.Node
}

func (d doc) String() string {
	return fmt.Sprintf("%s: %s %s", d.file, d.obj.Kind, d.obj.Metadata.Name)
}

// decode decodes d into v (one of the partial types above).
func (d doc) decode(t *testing.T, v any) {
	t.Helper()
	if err := d.node.Decode(v); err != nil {
		t.Fatalf("%v: %v", d, err)
	}
}

// readDocs parses every YAML document of every .yaml/.yml file in dir.
func readDocs(t *testing.T, dir string) []doc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML files in %s (err %v)", dir, err)
	}
	var docs []doc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			d := doc{file: filepath.Base(f), node: &n}
			if err := n.Decode(&d.obj); err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			docs = append(docs, d)
		}
	}
	return docs
}

func TestK8sKindsKnown(t *testing.T) {
	for _, d := range readDocs(t, k8sDir) {
		key := d.obj.APIVersion + "/" + d.obj.Kind
		if !knownKinds[key] {
			t.Errorf("%v: apiVersion/kind %q is not one the example should use", d, key)
		}
		if d.obj.Kind != "Kustomization" && d.obj.Metadata.Name == "" {
			t.Errorf("%v: no metadata.name", d)
		}
	}
}

// k8sSet is the base example: its kustomization and the objects it lists.
type k8sSet struct {
	kust      kustomization
	svc       service
	workload  workload
	node      container
	namespace string
}

func loadBase(t *testing.T) (k8sSet, []doc) {
	t.Helper()
	docs := readDocs(t, k8sDir)
	var s k8sSet
	var kusts, svcs, wls int
	listed := map[string]bool{}
	for _, d := range docs {
		if d.obj.Kind == "Kustomization" {
			d.decode(t, &s.kust)
			kusts++
			for _, r := range s.kust.Resources {
				listed[r] = true
			}
		}
	}
	if kusts != 1 {
		t.Fatalf("%d Kustomizations in %s, want 1", kusts, k8sDir)
	}
	for _, d := range docs {
		if !listed[d.file] {
			continue
		}
		switch d.obj.Kind {
		case "Service":
			d.decode(t, &s.svc)
			svcs++
		case "StatefulSet", "Deployment":
			d.decode(t, &s.workload)
			wls++
		}
	}
	if svcs != 1 || wls != 1 {
		t.Fatalf("the kustomization's resources hold %d Services and %d StatefulSets/Deployments, want 1 of each", svcs, wls)
	}
	cs := s.workload.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	s.node = cs[0]
	s.namespace = s.kust.Namespace
	if s.namespace == "" {
		s.namespace = s.svc.Metadata.Namespace
	}
	return s, docs
}

func TestK8sKustomizationFiles(t *testing.T) {
	s, docs := loadBase(t)
	files := map[string]bool{}
	for _, d := range docs {
		files[d.file] = true
	}
	var paths []string
	paths = append(paths, s.kust.Resources...)
	for _, p := range s.kust.Patches {
		paths = append(paths, p.Path)
	}
	if len(s.kust.Resources) == 0 {
		t.Fatal("kustomization.yaml lists no resources")
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(k8sDir, p)); err != nil {
			t.Errorf("kustomization.yaml lists %q: %v", p, err)
		}
		delete(files, p)
	}
	// The files not listed are the documented alternatives.
	delete(files, "kustomization.yaml")
	for _, alt := range []string{"rbac.yaml", "k8s-api-patch.yaml"} {
		if !files[alt] {
			t.Errorf("%s is missing (kustomization.yaml mentions it)", alt)
		}
		delete(files, alt)
	}
	for f := range files {
		t.Errorf("%s is neither listed in kustomization.yaml nor a documented alternative", f)
	}
	for _, d := range docs {
		if ns := d.obj.Metadata.Namespace; ns != "" && ns != s.namespace {
			t.Errorf("%v: namespace %q, the kustomization sets %q", d, ns, s.namespace)
		}
	}
}

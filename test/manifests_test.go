package test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
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

func TestK8sServiceHeadless(t *testing.T) {
	s, _ := loadBase(t)
	if s.svc.Spec.ClusterIP != "None" {
		t.Errorf("Service %s: clusterIP %q, want None (headless: one A record per pod)", s.svc.Metadata.Name, s.svc.Spec.ClusterIP)
	}
	if !s.svc.Spec.PublishNotReadyAddresses {
		t.Error("Service: publishNotReadyAddresses should be true, so that starting pods find each other")
	}
	if len(s.svc.Spec.Selector) == 0 {
		t.Fatal("Service: no selector")
	}
	labels := s.workload.Spec.Template.Metadata.Labels
	for k, v := range s.svc.Spec.Selector {
		if labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod labels %v", k, v, labels)
		}
	}
	for k, v := range s.workload.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("%s selector %s=%s does not match the pod labels %v", s.workload.Kind, k, v, labels)
		}
	}
	if s.workload.Kind == "StatefulSet" && s.workload.Spec.ServiceName != s.svc.Metadata.Name {
		t.Errorf("StatefulSet serviceName %q, want the headless Service %q", s.workload.Spec.ServiceName, s.svc.Metadata.Name)
	}
}

// containerPort returns the container port a Service targetPort (a name or
// a number) selects, with the protocol.
func (s k8sSet) containerPort(target any, proto string) (int, bool) {
	for _, p := range s.node.Ports {
		if orTCP(p.Protocol) != orTCP(proto) {
			continue
		}
		switch tp := target.(type) {
		case string:
			if p.Name == tp {
				return p.ContainerPort, true
			}
		case int:
			if p.ContainerPort == tp {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

func orTCP(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}

func TestK8sPortsMatch(t *testing.T) {
	s, _ := loadBase(t)
	for _, sp := range s.svc.Spec.Ports {
		target := sp.TargetPort
		if target == nil {
			target = sp.Port
		}
		cp, ok := s.containerPort(target, sp.Protocol)
		if !ok {
			t.Errorf("Service port %s (%d/%s) targets %v, which no container port matches", sp.Name, sp.Port, orTCP(sp.Protocol), target)
			continue
		}
		if cp != sp.Port {
			// Peers dial the seed port on the pod IPs DNS returns, not the
			// Service port: they must be the same.
			t.Errorf("Service port %s: port %d but container port %d; with a headless Service they must match", sp.Name, sp.Port, cp)
		}
	}

	env := s.env(t)
	gossip := portOf(t, gencluster.EnvBindAddr, env[gencluster.EnvBindAddr])
	for _, k := range []string{gencluster.EnvAdvertiseAddr} {
		if v, ok := env[k]; ok && portOf(t, k, v) != gossip {
			t.Errorf("%s=%s: port differs from %s's %d", k, v, gencluster.EnvBindAddr, gossip)
		}
	}
	for _, proto := range []string{"TCP", "UDP"} {
		if _, ok := s.containerPort(gossip, proto); !ok {
			t.Errorf("no %s container port %d (gossip uses TCP and UDP)", proto, gossip)
		}
		found := false
		for _, sp := range s.svc.Spec.Ports {
			found = found || (sp.Port == gossip && orTCP(sp.Protocol) == proto)
		}
		if !found {
			t.Errorf("the Service has no %s port %d", proto, gossip)
		}
	}

	// The status endpoint: -http, the readiness probe and the container port.
	httpPort := 8080 // the node program's default
	if i := slices.Index(s.node.Args, "-http"); i >= 0 && i+1 < len(s.node.Args) {
		httpPort = portOf(t, "-http", s.node.Args[i+1])
	}
	// Node.Handler's paths: /readyz (enough members) for readiness,
	// /healthz (the node runs) for liveness.
	for _, p := range []struct {
		kind, path string
		probe      *probe
	}{
		{"readiness", "/readyz", s.node.ReadinessProbe},
		{"liveness", "/healthz", s.node.LivenessProbe},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %sProbe.httpGet", p.kind)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe path %q, want %s", p.kind, p.probe.HTTPGet.Path, p.path)
		}
		if cp, ok := s.containerPort(p.probe.HTTPGet.Port, "TCP"); !ok || cp != httpPort {
			t.Errorf("%s probe port %v is container port %d, want -http's %d", p.kind, p.probe.HTTPGet.Port, cp, httpPort)
		}
	}

	// SIGTERM leaves, bounded by -leave-timeout: the grace period must be
	// longer, or the kubelet's SIGKILL turns the leave into a failure.
	leave := 10 * time.Second
	if i := slices.Index(s.node.Args, "-leave-timeout"); i >= 0 && i+1 < len(s.node.Args) {
		d, err := time.ParseDuration(s.node.Args[i+1])
		if err != nil {
			t.Fatalf("-leave-timeout %q: %v", s.node.Args[i+1], err)
		}
		leave = d
	}
	grace := 30 * time.Second // Kubernetes' default
	if g := s.workload.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace <= leave {
		t.Errorf("terminationGracePeriodSeconds %v is not above -leave-timeout %v", grace, leave)
	}
}

func portOf(t *testing.T, what, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%s=%q: %v", what, hostport, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s=%q: port: %v", what, hostport, err)
	}
	return n
}

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

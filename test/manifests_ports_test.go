package test

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
)

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

	// SIGTERM drains, bounded by -drain-timeout, then leaves, bounded by
	// -leave-timeout: the grace period must be longer than both together,
	// or the kubelet's SIGKILL turns the leave into a failure.
	drain := flagDuration(t, s.node.Args, "-drain-timeout", 10*time.Second)
	leave := flagDuration(t, s.node.Args, "-leave-timeout", 10*time.Second)
	grace := 30 * time.Second // Kubernetes' default
	if g := s.workload.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace <= drain+leave {
		t.Errorf("terminationGracePeriodSeconds %v is not above -drain-timeout %v plus -leave-timeout %v", grace, drain, leave)
	}
}

// flagDuration returns the duration the flag has in args, or def (the
// program's default) when args do not set it.
func flagDuration(t *testing.T, args []string, flag string, def time.Duration) time.Duration {
	t.Helper()
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return def
	}
	d, err := time.ParseDuration(args[i+1])
	if err != nil {
		t.Fatalf("%s %q: %v", flag, args[i+1], err)
	}
	return d
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

package seeds

import (
	"fmt"
	"net"
	"strconv"
)

// This file holds the EndpointSlice objects the Kubernetes backend reads
// and the rules for which of their endpoints it returns.

// k8sSliceList is the part of a discovery.k8s.io/v1 EndpointSliceList that
// Discover reads.
type k8sSliceList struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []k8sSlice `json:"items"`
}

type k8sSlice struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	AddressType string `json:"addressType"`
	Endpoints   []struct {
		Addresses  []string      `json:"addresses"`
		Conditions k8sConditions `json:"conditions"`
	} `json:"endpoints"`
	Ports []struct {
		Name string `json:"name"`
		Port *int   `json:"port"`
	} `json:"ports"`
}

// k8sConditions are an endpoint's conditions; nil means the API server did
// not send it (servers before Kubernetes 1.20 send ready only).
type k8sConditions struct {
	Ready       *bool `json:"ready"`
	Serving     *bool `json:"serving"`
	Terminating *bool `json:"terminating"`
}

// wanted applies the table in Kubernetes's doc: never a terminating
// endpoint; with includeNotReady every other one; else only those ready
// and serving. A nil condition reads as the API defines it: ready and
// serving true, terminating false.
func (c k8sConditions) wanted(includeNotReady bool) bool {
	isTrue := func(b *bool, unset bool) bool {
		if b == nil {
			return unset
		}
		return *b
	}
	if isTrue(c.Terminating, false) {
		return false
	}
	return includeNotReady || isTrue(c.Ready, true) && isTrue(c.Serving, true)
}

// sliceAddrs returns the host:port of every wanted endpoint of s.
func (k *kubernetes) sliceAddrs(s k8sSlice) ([]string, error) {
	port := k.port
	if k.portName != "" {
		port = 0
		for _, p := range s.Ports {
			if p.Name == k.portName && p.Port != nil {
				port = *p.Port
			}
		}
		if port == 0 {
			return nil, fmt.Errorf("kubernetes: EndpointSlice %s has no port named %q", s.Metadata.Name, k.portName)
		}
	}
	ps := strconv.Itoa(port)
	var out []string
	for _, e := range s.Endpoints {
		if !e.Conditions.wanted(k.notReady) {
			continue
		}
		for _, a := range e.Addresses {
			out = append(out, net.JoinHostPort(a, ps))
		}
	}
	return out, nil
}

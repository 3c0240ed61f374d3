package seeds

import "strings"

// builtins lists the schemes Default registers. Each backend's file adds
// its own line here.
func builtins() map[string]Builder {
	return map[string]Builder{
		"static": parseStatic,
		// DNS (dns.go).
		"dns":        parseDNS,
		"dns6":       parseDNS6,
		"dns46":      parseDNS46,
		"dnssrv":     parseSRV,
		"dnssrvhost": parseSRVHost,
		// Other backends (file.go, portrange.go, kubernetes.go, multicast.go).
		"file":  parseFile,
		"ports": parsePortRange,
		"k8s":   parseKubernetes,
		"mcast": parseMulticast,
		// mDNS / DNS-SD (mdns.go).
		"mdns": parseMDNS,
		// A command printing addresses (exec.go).
		"exec": parseExec,
	}
}

// parseStatic reads "a:1,b:2".
func parseStatic(text string) (Discoverer, error) {
	return Static(strings.Split(text, ",")...), nil
}

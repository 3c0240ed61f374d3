package seeds

import "strings"

// builtins lists the schemes Default registers: the backends that need no
// dependency beyond this package's own. Each backend's file adds its own
// line here.
func builtins() map[string]Builder {
	return map[string]Builder{
		"static": parseStatic,
		// DNS (dns.go).
		"dns":        parseDNS,
		"dns6":       parseDNS6,
		"dns46":      parseDNS46,
		"dnssrv":     parseSRV,
		"dnssrvhost": parseSRVHost,
		// Other backends (file.go, portrange.go, kubernetes.go).
		"file":  parseFile,
		"ports": parsePortRange,
		"k8s":   parseKubernetes,
		// A command printing addresses (exec.go).
		"exec": parseExec,
	}
}

// optionalPackage returns the package that holds scheme's backend when
// it is one of this module's backends that live in a package of their own
// (so that a program that never names them does not link their code),
// or "". A spec naming such a scheme that the program did not register
// then says what to import instead of only "unknown scheme".
func optionalPackage(scheme string) string {
	switch scheme {
	case "mdns":
		return "github.com/gencluster/gencluster/seeds/mdns"
	case "mcast":
		return "github.com/gencluster/gencluster/seeds/multicast"
	}
	return ""
}

// parseStatic reads "a:1,b:2".
func parseStatic(text string) (Discoverer, error) {
	return Static(strings.Split(text, ",")...), nil
}

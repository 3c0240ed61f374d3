package gencluster

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Handler returns an http.Handler serving the node's state, for an admin
// or probe port:
//
//   - GET /members: a JSON array of every live member as this node sees
//     it, sorted by name: {"name", "addr", "state", "meta", "boot"}.
//   - GET /healthz: 200 "ok" while the node's gossip runs; 503 after Leave
//     or Close, and 503 with the reason while NameConflict reports one.
//     For a liveness probe.
//   - GET /readyz: 200 when the node sees at least WithMinMembers members,
//     503 otherwise; the text body says how many of how many. For a
//     readiness probe.
//
// HEAD is answered like GET without a body; other methods get 405 with an
// Allow header. Mount it under a prefix with http.StripPrefix.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /members", n.serveMembers)
	mux.HandleFunc("GET /healthz", n.serveHealth)
	mux.HandleFunc("GET /readyz", n.serveReady)
	return mux
}

// memberJSON is a Member as /members shows it: meta is always an object.
type memberJSON struct {
	Name  string            `json:"name"`
	Addr  string            `json:"addr"`
	State State             `json:"state"`
	Meta  map[string]string `json:"meta"`
	Boot  BootID            `json:"boot,omitzero"`
}

func (n *Node) serveMembers(w http.ResponseWriter, _ *http.Request) {
	ms := n.Members()
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		meta := m.Meta
		if meta == nil {
			meta = map[string]string{}
		}
		out[i] = memberJSON{Name: m.Name, Addr: m.Addr, State: m.State, Meta: meta, Boot: m.Boot}
	}
	b, err := json.Marshal(out)
	if err != nil { // unreachable: strings and a TextMarshaler
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

func (n *Node) serveHealth(w http.ResponseWriter, _ *http.Request) {
	if n.ctx.Err() != nil {
		writeText(w, http.StatusServiceUnavailable, "stopped\n")
		return
	}
	if err := n.NameConflict(); err != nil {
		writeText(w, http.StatusServiceUnavailable, err.Error()+"\n")
		return
	}
	writeText(w, http.StatusOK, "ok\n")
}

func (n *Node) serveReady(w http.ResponseWriter, _ *http.Request) {
	ready, seen := n.Ready()
	switch {
	case n.ctx.Err() != nil:
		writeText(w, http.StatusServiceUnavailable, "not ready: node stopped\n")
	case !ready:
		writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("not ready: %d of %d members\n", seen, n.MinMembers()))
	default:
		writeText(w, http.StatusOK, fmt.Sprintf("ready: %d of %d members\n", seen, n.MinMembers()))
	}
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

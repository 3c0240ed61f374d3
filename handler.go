package gencluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Handler returns an http.Handler serving the node's state, for an admin
// or probe port:
//
//   - GET /members: a JSON array of every live member as this node sees
//     it, sorted by name: {"name", "addr", "state", "meta", "boot"}. The
//     header Gencluster-View-Version is the version of the node's
//     membership view that the array shows: a number that grows with
//     every change of the live set or of a member (two answers with the
//     same version list the same members), to tell whether anything
//     changed between two polls. It is the number events carry in
//     Event.Version and an Ownership's Changes in shard.Change.Version.
//   - GET /healthz: 200 "ok" while the node runs and is not isolated (see
//     Isolated) and has no name conflict (see NameConflict); 503
//     "isolated: <diagnosis>" while it is isolated, 503 "gencluster: name
//     conflict: ..." while another live member holds its name, and 503
//     "stopped: ..." after Leave or Close. For a liveness probe.
//   - GET /readyz: 200 when Ready reports true (the cluster has formed
//     once and the node is neither isolated nor draining), 503 otherwise;
//     the text body says why ("not ready: draining: ..." once Drain was
//     called). For a readiness probe.
//
// A stopped node answers 503 on every path, /members included, naming
// the reason. HEAD is answered like GET without a body; other methods get
// 405 with an Allow header. Mount it under a prefix with
// http.StripPrefix.
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

// viewVersionHeader carries the view's version on /members.
const viewVersionHeader = "Gencluster-View-Version"

// stoppedText is the body of every path of a stopped node.
const stoppedText = "stopped: the node left the cluster or was closed (Leave or Close)\n"

func (n *Node) serveMembers(w http.ResponseWriter, _ *http.Request) {
	if n.ctx.Err() != nil {
		writeText(w, http.StatusServiceUnavailable, stoppedText)
		return
	}
	ms, version := n.snapshot()
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
	w.Header().Set(viewVersionHeader, strconv.FormatUint(version, 10))
	_, _ = w.Write(append(b, '\n'))
}

func (n *Node) serveHealth(w http.ResponseWriter, _ *http.Request) {
	if n.ctx.Err() != nil {
		writeText(w, http.StatusServiceUnavailable, stoppedText)
		return
	}
	if isolated, why := n.Isolated(); isolated {
		writeText(w, http.StatusServiceUnavailable, "isolated: "+why+"\n")
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
	isolated, why := n.Isolated()
	switch {
	case n.ctx.Err() != nil:
		writeText(w, http.StatusServiceUnavailable, "not ready: "+stoppedText)
	case n.Draining():
		writeText(w, http.StatusServiceUnavailable, "not ready: draining: the node is about to leave the cluster (Drain)\n")
	case isolated:
		writeText(w, http.StatusServiceUnavailable, "not ready: isolated: "+why+"\n")
	case !ready:
		writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("not ready: %d of %d members\n", seen, n.MinMembers()))
	default:
		writeText(w, http.StatusOK, fmt.Sprintf("ready: the cluster formed (%d members required); %d live now\n", n.MinMembers(), seen))
	}
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gencluster/gencluster"
)

// The cluster key API (-keys-api addr), off by default. Anyone who can
// reach it can change the cluster's gossip keys (and so cut nodes off, or
// make the cluster use a key they know): bind it to loopback or a
// management network only, never to an address clients or the internet
// reach, and never publish its port.
//
//	GET  /keys           every member's key fingerprints (KeyManager().List)
//	POST /keys/install   {"key": "<key>"}: KeyManager().Install (the key as gencluster.ParseKey reads it)
//	POST /keys/use       {"key": "<key>"}: KeyManager().Use
//	POST /keys/remove    {"key": "<key>"}: KeyManager().Remove
//	POST /keys/encrypt   KeyManager().Encrypt (migration from plaintext)
//	GET  /keys/behind    members that missed an operation of this node
//
// ?timeout=10s bounds an operation (default 10s, at most 60s). The answer
// is 200 when every member acknowledged, 409 when a safety rule refused
// the operation (nothing changed), 502 when some members did not
// acknowledge, 400 for a bad request; the body is keysJSON.

const (
	defaultKeysTimeout = 10 * time.Second
	maxKeysTimeout     = 60 * time.Second
	maxKeysBody        = 4 << 10
)

// keysJSON is the answer of the key API.
type keysJSON struct {
	Op      string          `json:"op"`
	OK      bool            `json:"ok"`
	Error   string          `json:"error,omitempty"`
	Members []keyMemberJSON `json:"members"`
}

type keyMemberJSON struct {
	Name      string   `json:"name"`
	Addr      string   `json:"addr"`
	Status    string   `json:"status"`
	Error     string   `json:"error,omitempty"`
	Keys      []string `json:"keys"`
	Plaintext bool     `json:"plaintext,omitempty"`
}

// keysHandler serves the key API of node.
func keysHandler(node *gencluster.Node) http.Handler {
	mux := http.NewServeMux()
	op := func(name string, withKey bool, f func(context.Context, []byte) (gencluster.KeyResponse, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			timeout := defaultKeysTimeout
			if s := r.URL.Query().Get("timeout"); s != "" {
				d, err := time.ParseDuration(s)
				if err != nil || d <= 0 || d > maxKeysTimeout {
					writeJSON(w, http.StatusBadRequest, keysJSON{Op: name, Error: fmt.Sprintf("timeout %q: want a duration from 1ms to %v", s, maxKeysTimeout)})
					return
				}
				timeout = d
			}
			var key []byte
			if withKey {
				var err error
				if key, err = readKey(r); err != nil {
					writeJSON(w, http.StatusBadRequest, keysJSON{Op: name, Error: err.Error()})
					return
				}
			}
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			res, err := f(ctx, key)
			writeJSON(w, keysStatus(err), toKeysJSON(res, err))
		}
	}
	km := node.KeyManager()
	mux.Handle("GET /keys", op("list", false, func(ctx context.Context, _ []byte) (gencluster.KeyResponse, error) { return km.List(ctx) }))
	mux.Handle("POST /keys/install", op("install", true, km.Install))
	mux.Handle("POST /keys/use", op("use", true, km.Use))
	mux.Handle("POST /keys/remove", op("remove", true, km.Remove))
	mux.Handle("POST /keys/encrypt", op("encrypt", false, func(ctx context.Context, _ []byte) (gencluster.KeyResponse, error) { return km.Encrypt(ctx) }))
	mux.HandleFunc("GET /keys/behind", func(w http.ResponseWriter, _ *http.Request) {
		behind := km.Behind()
		if behind == nil {
			behind = map[string]int{}
		}
		writeJSON(w, http.StatusOK, behind)
	})
	return mux
}

// readKey reads {"key": "<key>"}, the key written as
// gencluster.ParseKey reads it (hex:..., base64:..., or the standard
// base64 of 16 or 32 bytes). Its errors never show the key.
func readKey(r *http.Request) ([]byte, error) {
	var body struct {
		Key string `json:"key"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxKeysBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return nil, errors.New(`want a JSON body {"key": "<hex:..., base64:..., or standard base64 of 16 or 32 bytes>"}`)
	}
	key, err := gencluster.ParseKey(body.Key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return key, nil
}

func keysStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, gencluster.ErrUseRefused), errors.Is(err, gencluster.ErrRemoveRefused),
		errors.Is(err, gencluster.ErrEncryptRefused), errors.Is(err, gencluster.ErrNoKeyring):
		return http.StatusConflict
	case errors.Is(err, gencluster.ErrNotAcknowledged):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

func toKeysJSON(res gencluster.KeyResponse, err error) keysJSON {
	out := keysJSON{Op: res.Op, OK: err == nil, Members: []keyMemberJSON{}}
	if err != nil {
		out.Error = err.Error()
	}
	for _, m := range res.Members {
		keys := m.Keys
		if keys == nil {
			keys = []string{}
		}
		out.Members = append(out.Members, keyMemberJSON{Name: m.Name, Addr: m.Addr, Status: m.Status.String(), Error: m.Err, Keys: keys, Plaintext: m.Plaintext})
	}
	return out
}

// serveKeys serves the key API on addr until stop is called. A serving
// error after the start is reported on errc (when it has room), which
// makes the program leave.
func serveKeys(addr string, node *gencluster.Node, errc chan<- error) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: keysHandler(node), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			select {
			case errc <- fmt.Errorf("key API: %w", err):
			default:
			}
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

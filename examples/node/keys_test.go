package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster"
)

// TestUsageListsKeysAPI: -h names the key variables and the -keys-api
// flag, with its warning, and the flag is off by default.
func TestUsageListsKeysAPI(t *testing.T) {
	var out strings.Builder
	if _, err := parseFlags([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseFlags(-h): %v", err)
	}
	for _, want := range []string{gencluster.EnvSecretKeyFile, gencluster.EnvKeyMigration, "-keys-api", "never expose it"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h does not mention %s:\n%s", want, out.String())
		}
	}
	c, err := parseFlags(nil, io.Discard)
	if err != nil || c.keysAPI != "" {
		t.Fatalf("-keys-api must be off by default: %q, %v", c.keysAPI, err)
	}
}

func post(t *testing.T, h http.Handler, path, body string) (int, keysJSON) {
	t.Helper()
	rec := httptest.NewRecorder()
	method := http.MethodPost
	if path == "/keys" {
		method = http.MethodGet
	}
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	var out keysJSON
	if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, rec.Body)
		}
	}
	return rec.Code, out
}

func TestKeysAPI(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	node, err := gencluster.Start(context.Background(), gencluster.WithName("k1"), gencluster.WithBindAddr("127.0.0.1:0"), gencluster.WithSecretKey(oldKey))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	h := keysHandler(node)
	b64 := base64.StdEncoding.EncodeToString
	if code, out := post(t, h, "/keys", ""); code != http.StatusOK || !out.OK || len(out.Members) != 1 || out.Members[0].Keys[0] != gencluster.KeyFingerprint(oldKey) {
		t.Fatalf("GET /keys: %d %+v", code, out)
	}
	for _, body := range []string{"", "{}", `{"key":"%%%"}`, `{"key":"` + b64(newKey[:7]) + `"}`, `{"key":"x","extra":1}`, `{"key":"0123456789abcdef0123456789abcdef"}`} {
		if code, out := post(t, h, "/keys/install", body); code != http.StatusBadRequest || out.Error == "" {
			t.Errorf("install %q: %d %+v, want 400 with a reason", body, code, out)
		}
	}
	if code, out := post(t, h, "/keys/use", `{"key":"`+b64(newKey)+`"}`); code != http.StatusConflict {
		t.Errorf("use before install: %d %+v, want 409", code, out)
	}
	if code, out := post(t, h, "/keys/install?timeout=soon", `{"key":"`+b64(newKey)+`"}`); code != http.StatusBadRequest {
		t.Errorf("bad timeout: %d %+v", code, out)
	}
	for _, step := range []string{"/keys/install", "/keys/use"} {
		if code, out := post(t, h, step, `{"key":"`+b64(newKey)+`"}`); code != http.StatusOK || !out.OK {
			t.Fatalf("%s: %d %+v", step, code, out)
		}
	}
	if code, out := post(t, h, "/keys/remove", `{"key":"`+b64(newKey)+`"}`); code != http.StatusConflict || !strings.Contains(out.Error, "primary") {
		t.Errorf("remove of the primary key: %d %+v, want 409", code, out)
	}
	if code, out := post(t, h, "/keys/remove", `{"key":"`+b64(oldKey)+`"}`); code != http.StatusOK {
		t.Errorf("remove: %d %+v", code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if res, err := node.KeyManager().List(ctx); err != nil || !slices.Equal(res.Members[0].Keys, []string{gencluster.KeyFingerprint(newKey)}) {
		t.Errorf("the key API did not rotate the key: %v, %+v", err, res)
	}
	// No answer ever shows a key.
	for _, p := range []string{"/keys", "/keys/behind"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if strings.Contains(rec.Body.String(), b64(newKey)) || strings.Contains(rec.Body.String(), b64(oldKey)) {
			t.Errorf("%s shows a key: %s", p, rec.Body)
		}
	}
}

package gencluster

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/seeds"
)

func serve(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestHandlerMembers(t *testing.T) {
	a := startNode(t, append(testOpts(t, "h-0"), WithMeta(map[string]string{"zone": "a"}))...)
	b := startNode(t, append(testOpts(t, "h-1"), WithSeeds(seeds.Static(a.Addr())))...)
	testutil.WaitMembers(t, 10*time.Second, []*Node{a, b}, "h-0", "h-1")

	rec := serve(a.Handler(), "GET", "/members")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /members: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var got []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	want := []map[string]any{
		{"name": "h-0", "addr": a.Addr(), "state": "alive", "meta": map[string]any{"zone": "a"}, "boot": a.LocalMember().Boot.String()},
		{"name": "h-1", "addr": b.Addr(), "state": "alive", "meta": map[string]any{}, "boot": b.LocalMember().Boot.String()},
	}
	if len(got) != len(want) {
		t.Fatalf("members = %s", rec.Body)
	}
	for i := range want {
		for k, v := range want[i] {
			if gs, ws := jsonString(got[i][k]), jsonString(v); gs != ws {
				t.Errorf("member %d %s = %s, want %s", i, k, gs, ws)
			}
		}
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHandlerHealthAndReady(t *testing.T) {
	a := startNode(t, append(testOpts(t, "r-0"), WithMinMembers(2))...)
	h := a.Handler()

	check := func(path string, code int, body string) {
		t.Helper()
		rec := serve(h, "GET", path)
		if rec.Code != code || rec.Body.String() != body {
			t.Errorf("GET %s = %d %q, want %d %q", path, rec.Code, rec.Body, code, body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("GET %s Content-Type %q", path, ct)
		}
	}
	check("/healthz", 200, "ok\n")
	check("/readyz", 503, "not ready: 1 of 2 members\n")

	b := startNode(t, append(testOpts(t, "r-1"), WithSeeds(seeds.Static(a.Addr())))...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.WaitForMembers(ctx, 0); err != nil {
		t.Fatal(err)
	}
	check("/readyz", 200, "ready: the cluster formed (2 members required); 2 live now\n")

	// Readiness latches: a member that fails does not make a node that
	// saw the cluster formed not ready (TestReadinessLatches).
	b.Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return len(a.Members()) == 1 }, "r-1 to fail")
	check("/readyz", 200, "ready: the cluster formed (2 members required); 1 live now\n")

	a.Leave(ctx)
	check("/healthz", 503, "stopped: the node left the cluster or was closed (Leave or Close)\n")
	check("/readyz", 503, "not ready: stopped: the node left the cluster or was closed (Leave or Close)\n")
}

func TestHandlerMethods(t *testing.T) {
	a := startNode(t, testOpts(t, "meth")...)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	c := srv.Client()

	for _, p := range []string{"/members", "/healthz", "/readyz"} {
		resp, err := c.Head(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Type") == "" {
			t.Errorf("HEAD %s = %d, %d bytes, Content-Type %q", p, resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
		}

		for _, m := range []string{"POST", "PUT", "DELETE"} {
			req, _ := http.NewRequest(m, srv.URL+p, strings.NewReader("x"))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			allow := resp.Header.Get("Allow")
			if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(allow, "GET") || !strings.Contains(allow, "HEAD") {
				t.Errorf("%s %s = %d, Allow %q", m, p, resp.StatusCode, allow)
			}
		}
	}
	if rec := serve(a.Handler(), "GET", "/nope"); rec.Code != 404 {
		t.Errorf("GET /nope = %d", rec.Code)
	}
}

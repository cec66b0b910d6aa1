package flags

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAdminHandler sends arbitrary paths and bodies to the admin handler:
// it must answer every one with a JSON document, never a 500, and a
// successful change must have been valid.
func FuzzAdminHandler(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":"shadow","reason":"pilot"}`},
		{"PUT", "/admin/api/flags/route.qa", `{"default_variant":"legacy","allow":[{"variant":"new","orgs":["acme"]}],"rollout":{"variant":"shadow","percent":25},"reason":"r"}`},
		{"PUT", "/admin/api/kill-switch", `{"enabled":false,"reason":"incident"}`},
		{"DELETE", "/admin/api/flags/route.qa/orgs/acme", `{"reason":"rollback"}`},
		{"GET", "/admin/api/flags/route.qa/history?limit=5&before=3&org=acme", ``},
		{"PUT", "/admin/api/flags/route.qa", `{"rollout":{"variant":"shadow","percent":1e400},"reason":"r"}`},
		{"PUT", "/admin/api/flags/route.%00qa/orgs/%2e%2e", `{"variant":null,"reason":[]}`},
		{"PUT", "/admin/api/kill-switch", `{"enabled":"false","reason":"x","extra":1}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	store := NewMemoryStore(nil)
	h, err := NewAdminHandler(AdminOptions{
		Store:        store,
		Actor:        func(context.Context) string { return "fuzz" },
		MaxBodyBytes: 4096,
		ResolveOrg: func(_ context.Context, s string) (string, string, error) {
			if s == "acme" {
				return acmeID, "acme", nil
			}
			return "", "", ErrOrgNotFound
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "PUT", "DELETE", "POST":
		default:
			method = "PUT"
		}
		if !strings.HasPrefix(path, "/") {
			path = "/admin/api/" + path
		}
		req, err := http.NewRequest(method, "http://admin"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body.String())
		}
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, rec.Body.String())
		}
		if rec.Code >= 400 {
			e, ok := doc["error"].(map[string]any)
			if !ok || e["code"] == "" || e["message"] == "" {
				t.Fatalf("%s %s: error without the SPEC §5 shape: %s", method, path, rec.Body.String())
			}
		}
	})
}

package flags

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/7cycles-ai/strangler/internal/pgtest"
)

const (
	acmeID   = "0b7f3c1e-0000-4000-8000-0000000000a1"
	globexID = "0b7f3c1e-0000-4000-8000-0000000000b2"
)

type actorKey struct{}

// adminServer runs the handler behind a stand-in for the admin listener's
// authentication: bearer "good-token" is actor ops@example.test; any other
// request reaches the handler without an actor.
func adminServer(t *testing.T, store Store) *httptest.Server {
	t.Helper()
	orgs := map[string][2]string{"acme": {acmeID, "acme"}, acmeID: {acmeID, "acme"}, "globex": {globexID, "globex"}, globexID: {globexID, "globex"}}
	h, err := NewAdminHandler(AdminOptions{
		Store: store,
		Actor: func(ctx context.Context) string { s, _ := ctx.Value(actorKey{}).(string); return s },
		ResolveOrg: func(_ context.Context, s string) (string, string, error) {
			o, ok := orgs[s]
			if !ok {
				return "", "", fmt.Errorf("org %q: %w", s, ErrOrgNotFound)
			}
			return o[0], o[1], nil
		},
		Routes:       []string{"qa", "default"},
		MaxBodyBytes: 4096,
		Logger:       zaptest.NewLogger(t),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer good-token" {
			r = r.WithContext(context.WithValue(r.Context(), actorKey{}, "ops@example.test"))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(t *testing.T, srv *httptest.Server, method, path, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer good-token")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &a.body), string(raw))
	}
	return a
}

func (a answer) errorCode() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (a answer) errorMessage() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func adminStores(t *testing.T) map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemoryStore(nil) },
		"postgres": func(t *testing.T) Store {
			_, appURL := pgtest.Migrated(t)
			return NewPostgresStore(pgtest.Pool(t, appURL), PostgresStoreOptions{})
		},
	}
}

func TestAdminOverridesAndHistory(t *testing.T) {
	for name, newStore := range adminStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := adminServer(t, newStore(t))

			a := call(t, srv, "GET", "/admin/api/flags", "")
			require.Equal(t, 200, a.status, a.raw)
			assert.Equal(t, "application/json", a.header.Get("Content-Type"))
			assert.JSONEq(t, `[{"key":"route.default","rule":null,"override_count":0},{"key":"route.qa","rule":null,"override_count":0}]`,
				mustMarshal(t, a.body["flags"]))
			assert.Equal(t, true, a.body["kill_switch"].(map[string]any)["enabled"])

			// By slug: stored under the id, with the slug as a hint.
			a = call(t, srv, "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":"shadow","reason":"pilot"}`)
			require.Equal(t, 200, a.status, a.raw)
			ov := a.body["override"].(map[string]any)
			assert.Equal(t, acmeID, ov["org_id"])
			assert.Equal(t, "acme", ov["org_slug"])
			assert.Equal(t, "shadow", ov["variant"])
			assert.Equal(t, "ops@example.test", ov["actor"])
			assert.Nil(t, a.body["before"])

			// By id: the same override; before is the previous one.
			a = call(t, srv, "PUT", "/admin/api/flags/route.qa/orgs/"+acmeID, `{"variant":"canary","reason":"error rate flat for a week"}`)
			require.Equal(t, 200, a.status, a.raw)
			assert.Equal(t, "shadow", a.body["before"].(map[string]any)["variant"])

			a = call(t, srv, "GET", "/admin/api/flags/route.qa", "")
			require.Equal(t, 200, a.status, a.raw)
			assert.EqualValues(t, 1, a.body["override_count"])
			require.Len(t, a.body["overrides"], 1)
			assert.Equal(t, "canary", a.body["overrides"].([]any)[0].(map[string]any)["variant"])

			a = call(t, srv, "DELETE", "/admin/api/flags/route.qa/orgs/acme", `{"reason":"rollback"}`)
			require.Equal(t, 200, a.status, a.raw)
			assert.Equal(t, "canary", a.body["before"].(map[string]any)["variant"])
			a = call(t, srv, "DELETE", "/admin/api/flags/route.qa/orgs/acme?reason=again", "")
			assert.Equal(t, 404, a.status)
			assert.Equal(t, "not_found", a.errorCode())

			a = call(t, srv, "GET", "/admin/api/flags/route.qa/history", "")
			require.Equal(t, 200, a.status, a.raw)
			entries := a.body["entries"].([]any)
			require.Len(t, entries, 3)
			want := []struct{ action, before, after, reason string }{
				{ActionOverrideUnset, `{"variant":"canary"}`, `null`, "rollback"},
				{ActionOverrideSet, `{"variant":"shadow"}`, `{"variant":"canary"}`, "error rate flat for a week"},
				{ActionOverrideSet, `null`, `{"variant":"shadow"}`, "pilot"},
			}
			for i, w := range want {
				e := entries[i].(map[string]any)
				assert.Equal(t, w.action, e["action"])
				assert.JSONEq(t, w.before, mustMarshal(t, e["before"]))
				assert.JSONEq(t, w.after, mustMarshal(t, e["after"]))
				assert.Equal(t, w.reason, e["reason"])
				assert.Equal(t, "ops@example.test", e["actor"])
				assert.Equal(t, acmeID, e["org_id"])
				assert.Equal(t, "acme", e["org_slug"])
				assert.NotEmpty(t, e["at"])
			}

			// Paging and the org filter.
			a = call(t, srv, "PUT", "/admin/api/flags/route.qa/orgs/globex", `{"variant":"new","reason":"internal org"}`)
			require.Equal(t, 200, a.status, a.raw)
			a = call(t, srv, "GET", "/admin/api/flags/route.qa/history?limit=2", "")
			require.Len(t, a.body["entries"], 2)
			next := int64(a.body["next_before"].(float64))
			a = call(t, srv, "GET", fmt.Sprintf("/admin/api/flags/route.qa/history?limit=2&before=%d", next), "")
			require.Len(t, a.body["entries"], 2)
			a = call(t, srv, "GET", "/admin/api/flags/route.qa/history?org=globex", "")
			require.Len(t, a.body["entries"], 1)
		})
	}
}

func TestAdminRulesAndKillSwitch(t *testing.T) {
	store := NewMemoryStore(nil)
	srv := adminServer(t, store)
	a := call(t, srv, "PUT", "/admin/api/flags/route.qa",
		`{"default_variant":"legacy","allow":[{"variant":"new","orgs":["acme"]}],"rollout":{"variant":"shadow","percent":25},"reason":"start rollout"}`)
	require.Equal(t, 200, a.status, a.raw)
	rule := a.body["rule"].(map[string]any)
	assert.JSONEq(t, `[{"variant":"new","orgs":["`+acmeID+`"]}]`, mustMarshal(t, rule["allow"]), "slugs are stored as ids")
	assert.JSONEq(t, `{"variant":"shadow","percent":25}`, mustMarshal(t, rule["rollout"]))

	for body, want := range map[string]string{
		`{"default_variant":"blue","reason":"x"}`:                                                         `field "default_variant"`,
		`{"rollout":{"variant":"shadow","percent":101},"reason":"x"}`:                                     "rollout.percent",
		`{"allow":[{"variant":"new","orgs":["nobody"]}],"reason":"x"}`:                                    `field "allow[0].orgs[0]": organization "nobody" not found`,
		`{"allow":[{"variant":"new","orgs":["acme"]},{"variant":"shadow","orgs":["acme"]}],"reason":"x"}`: "is in allow[0] and allow[1]",
		`{"default_variant":"new"}`:                                                                       `field "reason" is required`,
	} {
		a = call(t, srv, "PUT", "/admin/api/flags/route.qa", body)
		assert.Equal(t, 400, a.status, body)
		assert.Contains(t, a.errorMessage(), want, body)
	}

	a = call(t, srv, "GET", "/admin/api/flags", "")
	require.Equal(t, 200, a.status)
	assert.Contains(t, a.raw, `"percent": 25`)

	a = call(t, srv, "DELETE", "/admin/api/flags/route.qa", `{"reason":"done"}`)
	require.Equal(t, 200, a.status, a.raw)
	a = call(t, srv, "DELETE", "/admin/api/flags/route.qa", `{"reason":"done"}`)
	require.Equal(t, 404, a.status, a.raw)

	a = call(t, srv, "GET", "/admin/api/kill-switch", "")
	require.Equal(t, 200, a.status)
	assert.Equal(t, true, a.body["enabled"])
	a = call(t, srv, "PUT", "/admin/api/kill-switch", `{"enabled":false,"reason":"incident 7"}`)
	require.Equal(t, 200, a.status, a.raw)
	assert.Equal(t, false, a.body["kill_switch"].(map[string]any)["enabled"])
	assert.Equal(t, true, a.body["before"].(map[string]any)["enabled"])
	a = call(t, srv, "PUT", "/admin/api/kill-switch", `{"reason":"forgot enabled"}`)
	assert.Equal(t, 400, a.status)
	assert.Contains(t, a.errorMessage(), `"enabled" is required`)
	a = call(t, srv, "GET", "/admin/api/flags/strangler-enabled/history", "")
	require.Equal(t, 200, a.status, a.raw)
	require.Len(t, a.body["entries"], 1)
	e := a.body["entries"].([]any)[0].(map[string]any)
	assert.Equal(t, "incident 7", e["reason"])
	assert.JSONEq(t, `{"enabled":false}`, mustMarshal(t, e["after"]))
}

func TestAdminRejectsBadRequests(t *testing.T) {
	srv := adminServer(t, NewMemoryStore(nil))
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code, message            string
	}{
		{"unknown field named", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"varient":"shadow","reason":"x"}`, nil, 400, "bad_request", `unknown field "varient"`},
		{"wrong type named", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":5,"reason":"x"}`, nil, 400, "bad_request", `field "variant" must be a string`},
		{"invalid mode", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":"blue","reason":"x"}`, nil, 400, "bad_request", `invalid mode "blue"`},
		{"missing variant", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"reason":"x"}`, nil, 400, "bad_request", `"variant" is required`},
		{"missing reason", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":"shadow"}`, nil, 400, "bad_request", `"reason" is required`},
		{"blank reason", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":"shadow","reason":"  "}`, nil, 400, "bad_request", `"reason" is required`},
		{"syntax error", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":`, nil, 400, "bad_request", "ends too early"},
		{"not an object", "PUT", "/admin/api/flags/route.qa/orgs/acme", `["shadow"]`, nil, 400, "bad_request", "must be a JSON object"},
		{"trailing data", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":"shadow","reason":"x"} {}`, nil, 400, "bad_request", "nothing after it"},
		{"too large", "PUT", "/admin/api/flags/route.qa/orgs/acme", `{"variant":"shadow","reason":"` + strings.Repeat("x", 5000) + `"}`, nil, 413, "payload_too_large", "larger than 4096 bytes"},
		{"empty body", "PUT", "/admin/api/kill-switch", "", nil, 400, "bad_request", "body is empty"},
		{"not JSON content", "PUT", "/admin/api/kill-switch", `{"enabled":true,"reason":"x"}`, []string{"Content-Type", "text/plain"}, 415, "bad_request", "application/json"},
		{"unknown org", "PUT", "/admin/api/flags/route.qa/orgs/initech", `{"variant":"shadow","reason":"x"}`, nil, 404, "not_found", `organization "initech" not found`},
		{"reasonless delete", "DELETE", "/admin/api/flags/route.qa/orgs/acme", "", nil, 400, "bad_request", "reason is required"},
		{"not a route flag", "GET", "/admin/api/flags/billing", "", nil, 404, "not_found", "route.<route group>"},
		{"bad flag key", "GET", "/admin/api/flags/route.q%20a", "", nil, 404, "not_found", "no flag"},
		{"kill switch as a flag", "PUT", "/admin/api/flags/strangler-enabled/orgs/acme", `{"variant":"new","reason":"x"}`, nil, 404, "not_found", "kill-switch"},
		{"unknown endpoint", "GET", "/admin/api/flags/route.qa/nope", "", nil, 404, "not_found", "no such endpoint"},
		{"trailing slash", "GET", "/admin/api/flags/", "", nil, 404, "not_found", "no such endpoint"},
		{"method not allowed", "POST", "/admin/api/flags/route.qa", "", nil, 405, "method_not_allowed", "GET,PUT,DELETE"},
		{"anonymous change", "PUT", "/admin/api/kill-switch", `{"enabled":false,"reason":"x"}`, []string{"Authorization", ""}, 401, "unauthenticated", "no authenticated caller"},
		{"bad history limit", "GET", "/admin/api/flags/route.qa/history?limit=0", "", nil, 400, "bad_request", `"limit"`},
		{"bad history cursor", "GET", "/admin/api/flags/route.qa/history?before=x", "", nil, 400, "bad_request", `"before"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, srv, c.method, c.path, c.body, append([]string{"X-Request-ID", "req-" + strings.ReplaceAll(c.name, " ", "-")}, c.hdr...)...)
			assert.Equal(t, c.status, a.status, a.raw)
			assert.Equal(t, c.code, a.errorCode(), a.raw)
			assert.Contains(t, a.errorMessage(), c.message)
			assert.Equal(t, "req-"+strings.ReplaceAll(c.name, " ", "-"), a.body["error"].(map[string]any)["request_id"])
			if c.status == 405 {
				assert.Equal(t, "GET, PUT, DELETE", a.header.Get("Allow"))
			}
		})
	}
	// Nothing above changed anything.
	h := call(t, srv, "GET", "/admin/api/flags/route.qa/history", "")
	assert.Empty(t, h.body["entries"])
}

// TestAdminChangeReachesDecider: a change through the admin API is what
// the proxy's decider serves next.
func TestAdminChangeReachesDecider(t *testing.T) {
	store := NewMemoryStore(nil)
	srv := adminServer(t, store)
	d, _ := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: []string{"qa"}})
	waitReady(t, d)
	client := &AdminClient{BaseURL: srv.URL, Token: "good-token"}
	ctx := context.Background()
	in := Request{OrgID: acmeID, OrgSlug: "acme", Route: "qa", Method: "GET"}

	_, err := client.SetOverride(ctx, "route.qa", "acme", ModeCanary, "pilot")
	require.NoError(t, err)
	require.Eventually(t, func() bool { m, _ := d.Decide(ctx, in); return m == ModeCanary }, time.Second, 5*time.Millisecond)
	_, err = client.SetKillSwitch(ctx, false, "incident")
	require.NoError(t, err)
	require.Eventually(t, func() bool { m, _ := d.Decide(ctx, in); return m == ModeLegacy }, time.Second, 5*time.Millisecond)

	// The client surfaces API errors with code and request id.
	_, err = (&AdminClient{BaseURL: srv.URL}).SetKillSwitch(ctx, true, "no token")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 401, apiErr.Status)
	assert.True(t, IsUnauthorized(err))
	_, err = (&AdminClient{BaseURL: "http://127.0.0.1:1"}).ListFlags(ctx)
	assert.ErrorContains(t, err, "cannot reach the admin API")
	_, err = (&AdminClient{BaseURL: "127.0.0.1:9090"}).ListFlags(ctx)
	assert.ErrorContains(t, err, "want http(s)://host:port")
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(v))
	return buf.String()
}

package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/internal/sampleapp"
	"github.com/7cycles-ai/strangler/tenancy"
)

const testAdminToken = "test-admin-token-0123456789abcdef0123456789"

const testSeed = `
orgs:
  - { slug: acme, name: "Acme Inc", projects: [{ slug: web, name: Web }] }
  - { slug: legacy, name: "Legacy" }
users:
  - email: alice@acme.test
    password: "correct horse battery"
    platform_admin: true
    memberships: [{ org: acme, role: owner }]
  - email: bob@acme.test
    password: "correct horse battery"
    memberships: [{ org: acme, role: viewer }]
api_keys:
  - { org: acme, name: ci, role: member, scopes: [read, write, agents.run] }
`

// running is an App serving on loopback listeners.
type running struct {
	app    *App
	public string
	admin  string
}

func startApp(t *testing.T, driver, dbURL string) *running {
	t.Helper()
	legacy := httptest.NewServer(sampleapp.NewLegacy())
	t.Cleanup(legacy.Close)
	nu := httptest.NewServer(sampleapp.NewTenantAware())
	t.Cleanup(nu.Close)

	yaml := fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_grace: 5s }
store: { driver: %s, database_url: %q }
upstreams:
  legacy: { url: %q }
  new: { url: %q }
auth:
  issuer: { enabled: true, issuer: "https://strangler.test" }
tenancy: { default_org: legacy }
routes:
  - name: affirmations
    paths: ["/api/affirmations"]
    auth: optional
  - name: default
    paths: ["/"]
    auth: optional
shadow: { workers: 2, queue_size: 64 }
admin: { bootstrap_token: %q }
`, driver, dbURL, legacy.URL, nu.URL, testAdminToken)
	cfg, err := config.Parse([]byte(yaml), func(string) string { return "" })
	require.NoError(t, err)
	seed, err := tenancy.ParseSeed([]byte(testSeed))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, Options{Config: cfg, Seed: &seed})
	require.NoError(t, err)
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, pub, adm) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("app did not stop")
		}
	})
	return &running{app: a, public: "http://" + pub.Addr().String(), admin: "http://" + adm.Addr().String()}
}

func (r *running) do(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestAppMemory(t *testing.T) {
	t.Parallel()
	exerciseApp(t, startApp(t, "memory", ""))
}

func TestAppPostgres(t *testing.T) {
	t.Parallel()
	_, appURL := pgtest.Migrated(t)
	exerciseApp(t, startApp(t, "postgres", appURL))
}

// exerciseApp walks what an operator does: admin auth, pin an org to
// shadow, send its traffic, read the shadow report.
func exerciseApp(t *testing.T, r *running) {
	// Health and readiness.
	code, body := r.do(t, "GET", r.admin+"/readyz", "", "")
	require.Equal(t, http.StatusOK, code, body)

	// The admin API needs a credential.
	code, _ = r.do(t, "GET", r.admin+"/admin/api/flags", "", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = r.do(t, "GET", r.admin+"/admin/api/flags", "wrong-token", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, body = r.do(t, "GET", r.admin+"/admin/api/orgs", testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"slug":"acme"`)

	// Anonymous traffic is the default org's, in legacy mode.
	code, body = r.do(t, "GET", r.public+"/api/affirmations", "", "")
	require.Equal(t, http.StatusOK, code, body)

	// The seeded API key authenticates as acme.
	require.Len(t, r.app.Seeded.APIKeys, 1)
	key := r.app.Seeded.APIKeys[0].Key
	code, body = r.do(t, "GET", r.public+"/api/affirmations", key, "")
	require.Equal(t, http.StatusOK, code, body)
	code, _ = r.do(t, "GET", r.public+"/api/affirmations", key+"x", "")
	assert.Equal(t, http.StatusUnauthorized, code, "an invalid key is never anonymous")

	// Pin acme's affirmations to shadow mode through the admin API.
	code, body = r.do(t, "PUT", r.admin+"/admin/api/flags/route.affirmations/orgs/acme", testAdminToken,
		`{"variant":"shadow","reason":"pilot"}`)
	require.Equal(t, http.StatusOK, code, body)

	// acme's traffic is now compared; wait for the reports to fill.
	require.Eventually(t, func() bool {
		code, _ := r.do(t, "GET", r.public+"/api/affirmations", key, "")
		require.Equal(t, http.StatusOK, code)
		code, body := r.do(t, "GET", r.admin+"/admin/api/shadow/report?org=acme&route=affirmations", testAdminToken, "")
		require.Equal(t, http.StatusOK, code, body)
		var rep struct {
			Entries []struct {
				OrgSlug     string `json:"org_slug"`
				Route       string `json:"route"`
				Comparisons int64  `json:"comparisons"`
				Verdict     string `json:"verdict"`
			} `json:"entries"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &rep), body)
		if len(rep.Entries) != 1 || rep.Entries[0].Comparisons < 3 {
			return false
		}
		e := rep.Entries[0]
		assert.Equal(t, "acme", e.OrgSlug)
		assert.Equal(t, "affirmations", e.Route)
		assert.Equal(t, "NOT READY", e.Verdict, "a handful of comparisons is too little evidence")
		return true
	}, 10*time.Second, 100*time.Millisecond)

	// The change is in the flag history with its actor and reason.
	code, body = r.do(t, "GET", r.admin+"/admin/api/flags/route.affirmations/history", testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "pilot")
	assert.Contains(t, body, "admin:bootstrap-token")

	// The public JWKS is served.
	code, body = r.do(t, "GET", r.public+"/.well-known/jwks.json", "", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"keys"`)
}

func TestRolloutOverviewListsShadowedOrgs(t *testing.T) {
	t.Parallel()
	r := startApp(t, "memory", "")
	code, body := r.do(t, "PUT", r.admin+"/admin/api/flags/route.affirmations/orgs/acme", testAdminToken,
		`{"variant":"canary","reason":"pilot"}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = r.do(t, "GET", r.admin+"/admin/api/shadow/rollout?route=affirmations", testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"acme"`)
	assert.Contains(t, body, `canary`)
	assert.NotContains(t, body, `"org_slug": "legacy"`, "the default org is in legacy mode: not listed")
}

// login returns an access token of the built-in issuer.
func (r *running) login(t *testing.T, email string) string {
	t.Helper()
	code, body := r.do(t, "POST", r.public+"/auth/login", "", `{"email":"`+email+`","password":"correct horse battery"}`)
	require.Equal(t, http.StatusOK, code, body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

func TestIdentityEndpointsAndAdminUsers(t *testing.T) {
	t.Parallel()
	r := startApp(t, "memory", "")
	alice := r.login(t, "alice@acme.test")
	bob := r.login(t, "bob@acme.test")

	code, body := r.do(t, "GET", r.public+"/auth/me", alice, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "acme")

	// The tenant API: alice (owner) lists acme's members; bob (viewer) may
	// not manage keys.
	code, body = r.do(t, "GET", r.public+"/orgs/acme/members", alice, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "bob@acme.test")
	code, _ = r.do(t, "POST", r.public+"/orgs/acme/api-keys", bob, `{"name":"x","role":"viewer"}`)
	assert.Equal(t, http.StatusForbidden, code)

	// A platform admin's user token opens the admin API; a non-admin's does not.
	code, body = r.do(t, "GET", r.admin+"/admin/api/orgs", alice, "")
	assert.Equal(t, http.StatusOK, code, body)
	code, _ = r.do(t, "GET", r.admin+"/admin/api/orgs", bob, "")
	assert.Equal(t, http.StatusForbidden, code)

	// Admin changes are audited with the user as actor.
	code, body = r.do(t, "PUT", r.admin+"/admin/api/flags/route.affirmations/orgs/acme", alice,
		`{"variant":"shadow","reason":"pilot"}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = r.do(t, "GET", r.admin+"/admin/api/flags/route.affirmations/history", testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "user:alice@acme.test")

	// Logout ends the session: the access token is refused within 1 s.
	code, body = r.do(t, "POST", r.public+"/auth/logout", bob, "")
	require.Less(t, code, 300, body)
	assert.Eventually(t, func() bool {
		code, _ := r.do(t, "GET", r.public+"/auth/me", bob, "")
		return code == http.StatusUnauthorized
	}, time.Second, 20*time.Millisecond)
}

// TestServeRefusesAStoreRoleThatBypassesRLS: the owner of the strangler
// tables skips row-level security, so the application refuses to run as it.
func TestServeRefusesAStoreRoleThatBypassesRLS(t *testing.T) {
	t.Parallel()
	ownerURL, _ := pgtest.Migrated(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
store: { driver: postgres, database_url: %q }
upstreams: { legacy: { url: "http://127.0.0.1:1" } }
routes: [{ name: default, paths: ["/"], auth: optional }]
`, ownerURL)), func(string) string { return "" })
	require.NoError(t, err)
	_, err = New(context.Background(), Options{Config: cfg})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "row-level security")
	t.Log(err)
}

// TestServeRefusesAnUnmigratedDatabase tells the operator to migrate.
func TestServeRefusesAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
store: { driver: postgres, database_url: %q }
upstreams: { legacy: { url: "http://127.0.0.1:1" } }
routes: [{ name: default, paths: ["/"], auth: optional }]
`, url)), func(string) string { return "" })
	require.NoError(t, err)
	_, err = New(context.Background(), Options{Config: cfg})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "strangler migrate up")
	t.Log(err)
}

func TestAdminErrorsCarryARequestID(t *testing.T) {
	t.Parallel()
	r := startApp(t, "memory", "")
	req, err := http.NewRequest("GET", r.admin+"/admin/api/orgs", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-ID", "ops-trace-42")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "ops-trace-42", res.Header.Get("X-Request-Id"))
	assert.Contains(t, string(body), `"request_id":"ops-trace-42"`)
}

// TestFileProviderReloadsAndAnInvalidFileShowsInReadyz: with flags.provider
// file, a valid file routes; an invalid replacement keeps the last good
// state and turns /readyz 503 naming the flag file.
func TestFileProviderReloadsAndAnInvalidFileShowsInReadyz(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	flagFile := filepath.Join(dir, "flags.json")
	require.NoError(t, os.WriteFile(flagFile, []byte(`{"flags":{
  "route.default":{"state":"ENABLED","variants":{"legacy":"legacy","new":"new"},"defaultVariant":"new"},
  "strangler-enabled":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}}}`), 0o600))
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "legacy") }))
	defer legacy.Close()
	nu := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "new") }))
	defer nu.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
upstreams: { legacy: { url: %q }, new: { url: %q } }
tenancy: { default_org: legacy }
routes: [{ name: default, paths: ["/"], auth: optional }]
flags: { provider: file, file: %q }
`, legacy.URL, nu.URL, flagFile)), func(string) string { return "" })
	require.NoError(t, err)
	seed, err := tenancy.ParseSeed([]byte(`orgs: [{ slug: legacy, name: Legacy }]`))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, Options{Config: cfg, Seed: &seed})
	require.NoError(t, err)
	require.NoError(t, a.Start(ctx))
	defer a.Close(context.Background())
	pub := httptest.NewServer(a.Server.Handler())
	defer pub.Close()
	adm := httptest.NewServer(a.Server.AdminHandler())
	defer adm.Close()
	r := &running{app: a, public: pub.URL, admin: adm.URL}

	code, body := r.do(t, "GET", r.public+"/x", "", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "new", body, "the file's default variant routes the default org to new")

	require.NoError(t, os.WriteFile(flagFile, []byte(`{"flags": {"route.default": {"state": 42}}}`), 0o600))
	assert.Eventually(t, func() bool {
		code, body := r.do(t, "GET", r.admin+"/readyz", "", "")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "flags_file")
	}, 5*time.Second, 20*time.Millisecond, "an invalid flag file shows in /readyz")
	code, body = r.do(t, "GET", r.public+"/x", "", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "new", body, "the last good state is kept")
	code, _ = r.do(t, "GET", r.admin+"/admin/api/flags", testAdminToken, "")
	assert.Equal(t, http.StatusNotFound, code, "with a file provider the flag store endpoints are not mounted")
}

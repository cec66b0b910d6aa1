package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/tenancy"
)

// End-to-end tests of the built-in issuer and the tenant API through the
// real proxy: its public endpoints (HandlePublic) serve /auth/* and
// /orgs/..., the tenancy hooks authenticate proxied routes, and a real
// upstream records the tenant context it receives.

// idClock is a clock the test moves (refresh grace windows).
type idClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *idClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *idClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// idEnv is a proxy with the identity endpoints mounted.
type idEnv struct {
	store    tenancy.Store
	proxy    *testProxy
	upstream *authUpstream
	handlers *tenancy.Handlers
	verifier *tenancy.AssertionVerifier
	clock    *idClock
	legacy   tenancy.Org
}

func newIDEnv(t *testing.T, s tenancy.Store) *idEnv {
	t.Helper()
	legacy, err := s.CreateOrg(context.Background(), tenancy.Org{Slug: "legacy", Name: "Legacy"}, "")
	require.NoError(t, err)
	up := newAuthUpstream(t)
	cfg := testConfig(up.URL, authRoutes()...)
	def := config.Default()
	cfg.Tenancy, cfg.Auth = def.Tenancy, def.Auth
	cfg.Auth.Issuer.Enabled = true
	cfg.Auth.Issuer.Issuer = authBuiltinIss
	config.ApplyDefaults(cfg)

	key, err := tenancy.GenerateSigningKey()
	require.NoError(t, err)
	signer, err := tenancy.NewSignerWithKeys(tenancy.SignerOptions{Issuer: authBuiltinIss}, key)
	require.NoError(t, err)
	// One revocation checker shared by the pipeline (AuthStack) and the
	// handlers: logout ends a built-in token on every route.
	sessions := tenancy.NewSessionRevocations(s, tenancy.SessionRevocationOptions{})
	t.Cleanup(sessions.Close)
	stack, err := tenancy.NewAuthStack(context.Background(), tenancy.AuthStackOptions{Config: cfg, Store: s, Signer: signer, Sessions: sessions})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = stack.Close(ctx)
	})
	clock := &idClock{}
	h, err := tenancy.NewHandlers(tenancy.HandlersOptions{
		Config: cfg, Store: s, Auth: stack, Signer: stack.Signer(), Sessions: sessions, Now: clock.Now,
	})
	require.NoError(t, err)
	t.Cleanup(h.Close)

	hooks := NewTenancyAuth(stack)
	tp := startProxy(t, cfg, func(o *Options) {
		o.Authenticator, o.Authorizer = hooks, hooks
	})
	hooks.Mount(tp.Server) // the one JWKS mount
	h.Register(tp.HandlePublic)
	env := &idEnv{store: s, proxy: tp, upstream: up, handlers: h, clock: clock, legacy: legacy}
	env.verifier = (&authEnv{proxy: tp}).fetchVerifier(t)
	return env
}

// idResp is an answer through the proxy.
type idResp struct {
	status int
	header http.Header
	body   string
}

func (r idResp) field(t testing.TB, path ...string) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(r.body), &v), "body: %s", r.body)
	for _, p := range path {
		m, ok := v.(map[string]any)
		require.True(t, ok, "%s in %s", p, r.body)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func (e *idEnv) do(t testing.TB, method, path, token string, body any, hdr ...string) idResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = strings.NewReader(string(data))
	}
	req, err := http.NewRequest(method, e.proxy.URL+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return idResp{status: res.StatusCode, header: res.Header, body: string(data)}
}

type idTokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	Type    string `json:"token_type"`
	User    struct {
		ID string `json:"id"`
	} `json:"user"`
}

func (e *idEnv) tokens(t testing.TB, r idResp, status int) idTokens {
	t.Helper()
	require.Equal(t, status, r.status, "%s", r.body)
	var tk idTokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &tk))
	require.NotEmpty(t, tk.Access)
	require.NotEmpty(t, tk.Refresh)
	require.Equal(t, "Bearer", tk.Type)
	return tk
}

// TestIdentityEndToEnd: signup → create org → add a member → the member
// calls a proxied route with X-Organization-ID and the upstream sees the
// right context → a viewer is refused a write → the member is removed and
// is refused within 1s → refresh reuse revokes the family → logout, then
// refresh fails. With both stores.
func TestIdentityEndToEnd(t *testing.T) {
	for _, kind := range []string{"memory", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newIDEnv(t, authStore(t, kind))

			// Signup creates alice and her org.
			alice := e.tokens(t, e.do(t, http.MethodPost, "/auth/signup", "", map[string]any{
				"email": "alice@acme.test", "password": "alice-password", "org_name": "Acme", "org_slug": "acme",
			}, "X-Request-Id", "e2e-signup"), http.StatusCreated)
			r := e.do(t, http.MethodGet, "/orgs/acme", alice.Access, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			acmeID := r.field(t, "id")
			assert.Equal(t, "owner", r.field(t, "role"))
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))

			// Bob signs up and is added as a member; carol is invited as a
			// viewer before she has an account, then signs up.
			bob := e.tokens(t, e.do(t, http.MethodPost, "/auth/signup", "", map[string]any{"email": "bob@acme.test", "password": "bob-password"}), http.StatusCreated)
			r = e.do(t, http.MethodPost, "/orgs/acme/members", alice.Access, map[string]any{"email": "bob@acme.test", "role": "member"})
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			r = e.do(t, http.MethodPost, "/orgs/acme/members", alice.Access, map[string]any{"email": "carol@acme.test", "role": "viewer"})
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			require.NotEmpty(t, r.field(t, "invitation", "id"))
			carol := e.tokens(t, e.do(t, http.MethodPost, "/auth/signup", "", map[string]any{"email": "carol@acme.test", "password": "carol-password"}), http.StatusCreated)

			// The member calls a proxied route naming the org: the upstream
			// sees the verified context, never the client's spoofed one.
			r = e.do(t, http.MethodPost, "/api/posts", bob.Access, map[string]any{"title": "hi"},
				"X-Organization-ID", "acme", "X-Tenant-Role", "owner", "X-Tenant-Org-Id", "spoofed", "X-Request-Id", "e2e-bob-1")
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			seen := e.upstream.last(t)
			assert.Equal(t, "/api/posts", seen.Path)
			assert.Equal(t, []string{acmeID}, seen.Header.Values("X-Tenant-Org-Id"))
			assert.Equal(t, []string{"acme"}, seen.Header.Values("X-Tenant-Org-Slug"))
			assert.Equal(t, []string{bob.User.ID}, seen.Header.Values("X-Tenant-User-Id"))
			assert.Equal(t, []string{"member"}, seen.Header.Values("X-Tenant-Role"))
			assert.Equal(t, "Bearer "+bob.Access, seen.Header.Get("Authorization"), "the client's Authorization passes unchanged")
			assert.Equal(t, "e2e-bob-1", seen.Header.Get("X-Request-Id"))
			claims, err := e.verifier.Verify(context.Background(), seen.Header.Get("X-Tenant-Assertion"))
			require.NoError(t, err, "the assertion verifies against the proxy's JWKS")
			assert.Equal(t, acmeID, claims.OrgID)
			assert.Equal(t, bob.User.ID, claims.UserID)

			// The viewer reads but is refused a write, before any upstream.
			r = e.do(t, http.MethodGet, "/api/posts", carol.Access, nil, "X-Organization-ID", acmeID)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			assert.Equal(t, []string{"viewer"}, e.upstream.last(t).Header.Values("X-Tenant-Role"))
			n := e.upstream.count()
			r = e.do(t, http.MethodPost, "/api/posts", carol.Access, map[string]any{"title": "no"}, "X-Organization-ID", "acme")
			require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
			assert.Equal(t, "forbidden", r.field(t, "error", "code"))
			assert.Equal(t, n, e.upstream.count(), "a refused request never reaches the upstream")

			// The member is removed: refused within 1 s.
			r = e.do(t, http.MethodDelete, "/orgs/acme/members/"+bob.User.ID, alice.Access, nil)
			require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
			require.Eventually(t, func() bool {
				return e.do(t, http.MethodGet, "/api/posts", bob.Access, nil, "X-Organization-ID", "acme").status == http.StatusForbidden
			}, time.Second, 10*time.Millisecond, "a removed member is refused within 1s")
			r = e.do(t, http.MethodGet, "/orgs/acme", bob.Access, nil)
			assert.Equal(t, http.StatusNotFound, r.status, "and sees nothing of the org: %s", r.body)

			// Refresh reuse outside the grace window revokes the family.
			r = e.do(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": carol.Refresh})
			child := e.tokens(t, r, http.StatusOK)
			e.clock.Advance(11 * time.Second)
			r = e.do(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": carol.Refresh})
			require.Equal(t, http.StatusUnauthorized, r.status, "reuse: %s", r.body)
			r = e.do(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": child.Refresh})
			assert.Equal(t, http.StatusUnauthorized, r.status, "the whole family is revoked")
			for _, tok := range []string{carol.Access, child.Access} {
				r = e.do(t, http.MethodGet, "/api/posts", tok, nil, "X-Organization-ID", "acme")
				assert.Equal(t, http.StatusUnauthorized, r.status, "the family's access tokens are refused on proxied routes")
				assert.Equal(t, http.StatusUnauthorized, e.do(t, http.MethodGet, "/auth/me", tok, nil).status)
			}

			// Logout, then refresh fails (and the access token is refused).
			carol2 := e.tokens(t, e.do(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "carol@acme.test", "password": "carol-password"}), http.StatusOK)
			require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/api/posts", carol2.Access, nil, "X-Organization-ID", "acme").status)
			r = e.do(t, http.MethodPost, "/auth/logout", carol2.Access, nil)
			require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
			r = e.do(t, http.MethodPost, "/auth/logout", carol2.Access, nil)
			require.Equal(t, http.StatusNoContent, r.status, "logging out again is a no-op: %s", r.body)
			r = e.do(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": carol2.Refresh})
			assert.Equal(t, http.StatusUnauthorized, r.status, "%s", r.body)
			r = e.do(t, http.MethodGet, "/api/posts", carol2.Access, nil, "X-Organization-ID", "acme")
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.Equal(t, "unauthenticated", r.field(t, "error", "code"))

			// Alice is untouched by all of this.
			require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/api/posts", alice.Access, nil, "X-Organization-ID", "acme").status)

			// Every change is in the audit log, with the proxy's request id.
			page, err := e.store.ListAuditEntries(context.Background(), tenancy.AuditFilter{OrgID: acmeID, Limit: 100})
			require.NoError(t, err)
			var acts []string
			byAction := map[string]tenancy.AuditEntry{}
			for _, en := range page.Entries {
				acts = append(acts, en.Action)
				byAction[en.Action] = en
			}
			assert.ElementsMatch(t, []string{
				tenancy.AuditOrgCreate, tenancy.AuditMemberAdd, tenancy.AuditInvitationCreate,
				tenancy.AuditInvitationAccept, tenancy.AuditMemberRemove,
			}, acts)
			assert.Equal(t, "e2e-signup", byAction[tenancy.AuditOrgCreate].RequestID)
			assert.NotEmpty(t, byAction[tenancy.AuditMemberRemove].RequestID, "the proxy's generated request id")
			assert.Equal(t, "127.0.0.1", byAction[tenancy.AuditMemberRemove].ClientIP)
		})
	}
}

// TestIdentityEndpointsThroughProxyAPIKey: an API key created through the
// tenant API works on proxied routes with its scopes, and stops working
// when revoked through the API.
func TestIdentityEndpointsThroughProxyAPIKey(t *testing.T) {
	e := newIDEnv(t, tenancy.NewMemoryStore())
	alice := e.tokens(t, e.do(t, http.MethodPost, "/auth/signup", "", map[string]any{
		"email": "alice@keys.test", "password": "alice-password", "org_name": "Keys", "org_slug": "keys",
	}), http.StatusCreated)
	r := e.do(t, http.MethodPost, "/orgs/keys/api-keys", alice.Access, map[string]any{"name": "ci", "role": "member", "scopes": []string{"read"}})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	secret, keyID := r.field(t, "secret"), r.field(t, "api_key", "id")

	r = e.do(t, http.MethodGet, "/api/posts", "", nil, "X-API-Key", secret)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, []string{"keys"}, e.upstream.last(t).Header.Values("X-Tenant-Org-Slug"))
	r = e.do(t, http.MethodPost, "/api/posts", "", map[string]any{}, "X-API-Key", secret)
	assert.Equal(t, http.StatusForbidden, r.status, "its scopes do not include write")

	r = e.do(t, http.MethodDelete, "/orgs/keys/api-keys/"+keyID, alice.Access, nil)
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	require.Eventually(t, func() bool {
		return e.do(t, http.MethodGet, "/api/posts", "", nil, "X-API-Key", secret).status == http.StatusUnauthorized
	}, time.Second, 10*time.Millisecond)

	// Unknown methods on identity paths are not served by the endpoints:
	// they fall through to the route table.
	r = e.do(t, http.MethodGet, "/auth/login", "", nil)
	assert.Equal(t, http.StatusOK, r.status, "GET /auth/login is the legacy service's")
	assert.Equal(t, "/auth/login", e.upstream.last(t).Path)
}

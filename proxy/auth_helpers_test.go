package proxy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/tenancy"
)

// End-to-end fixtures of the authentication tests: a real upstream that
// records what it receives, a real proxy.Server with the tenancy hooks,
// and a seeded store (memory or PostgreSQL as strangler_app).

const (
	authSecret      = "super-secret-jwt-token-with-at-least-32-characters-long"
	authSupabaseIss = "https://abcdefghijklmnop.supabase.co/auth/v1"
	authESIss       = "https://es.example/auth/v1"
	authBuiltinIss  = "https://strangler.local"
	authOrgHeader   = "X-Organization-Id"
)

// authRequest is what the upstream saw.
type authRequest struct {
	Method  string
	Path    string
	Header  http.Header
	Trailer http.Header
	Body    string
}

// authUpstream is a real HTTP server that records every request.
type authUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []authRequest
}

func newAuthUpstream(t testing.TB) *authUpstream {
	t.Helper()
	u := &authUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, authRequest{
			Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Trailer: r.Trailer.Clone(), Body: string(body),
		})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *authUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func (u *authUpstream) last(t testing.TB) authRequest {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	require.NotEmpty(t, u.reqs, "the upstream received nothing")
	return u.reqs[len(u.reqs)-1]
}

// authRoutes: writes need write, reads need read, /api/qa needs
// agents.run, /public is auth: none, the rest optional.
func authRoutes() []config.Route {
	return []config.Route{
		{Name: "posts-write", Paths: []string{"/api/posts"}, Methods: []string{"POST", "PUT", "PATCH", "DELETE"}, Auth: config.AuthRequired, Permission: "write"},
		{Name: "posts-read", Paths: []string{"/api/posts"}, Auth: config.AuthRequired, Permission: "read"},
		{Name: "qa", Paths: []string{"/api/qa"}, Auth: config.AuthRequired, Permission: "agents.run"},
		{Name: "public", Paths: []string{"/public"}, Auth: config.AuthNone},
		{Name: "default", Paths: []string{"/"}, Auth: config.AuthOptional},
	}
}

// authSeed is the tenancy data of the end-to-end tests.
//
//	orgs: legacy (default), acme (project web), beta
//	alice owner of acme, bob viewer of acme (default acme both)
//	keys: acme-member, acme-read (scopes read), acme-revoked,
//	acme-expired, beta-admin
type authSeed struct {
	legacy, acme, beta tenancy.Org
	web                tenancy.Project
	alice, bob         tenancy.User
	keys, keyIDs       map[string]string
}

func authSeedTenancy(t testing.TB, s tenancy.Store) *authSeed {
	t.Helper()
	ctx := context.Background()
	sd := &authSeed{keys: map[string]string{}, keyIDs: map[string]string{}}
	org := func(slug string) tenancy.Org {
		o, err := s.CreateOrg(ctx, tenancy.Org{Slug: slug, Name: slug}, "")
		require.NoError(t, err)
		return o
	}
	sd.legacy, sd.acme, sd.beta = org("legacy"), org("acme"), org("beta")
	var err error
	sd.web, err = s.CreateProject(ctx, tenancy.Project{OrgID: sd.acme.ID, Slug: "web", Name: "Web"})
	require.NoError(t, err)
	user := func(email string, role tenancy.Role) tenancy.User {
		u, err := s.CreateUser(ctx, tenancy.User{Email: email})
		require.NoError(t, err)
		_, err = s.AddMember(ctx, sd.acme.ID, u.ID, role)
		require.NoError(t, err)
		require.NoError(t, s.SetDefaultOrg(ctx, u.ID, sd.acme.ID))
		return u
	}
	sd.alice, sd.bob = user("alice@acme.test", tenancy.RoleOwner), user("bob@acme.test", tenancy.RoleViewer)
	key := func(name string, k tenancy.APIKey) {
		plain, prefix, hash := tenancy.GenerateAPIKey()
		k.Name, k.Prefix, k.Hash = name, prefix, hash
		c, err := s.CreateAPIKey(ctx, k)
		require.NoError(t, err)
		sd.keys[name], sd.keyIDs[name] = plain, c.ID
	}
	key("acme-member", tenancy.APIKey{OrgID: sd.acme.ID, Role: tenancy.RoleMember})
	key("acme-read", tenancy.APIKey{OrgID: sd.acme.ID, Role: tenancy.RoleMember, Scopes: []string{"read"}})
	key("acme-revoked", tenancy.APIKey{OrgID: sd.acme.ID, Role: tenancy.RoleMember})
	key("acme-expired", tenancy.APIKey{OrgID: sd.acme.ID, Role: tenancy.RoleMember, ExpiresAt: time.Now().Add(-time.Minute)})
	key("beta-admin", tenancy.APIKey{OrgID: sd.beta.ID, Role: tenancy.RoleAdmin})
	_, err = s.RevokeAPIKey(ctx, sd.acme.ID, sd.keyIDs["acme-revoked"])
	require.NoError(t, err)
	return sd
}

// authStore returns an empty store of kind "memory" or "postgres".
func authStore(t testing.TB, kind string) tenancy.Store {
	t.Helper()
	if kind == "memory" {
		return tenancy.NewMemoryStore()
	}
	_, appURL := pgtest.Migrated(t)
	return authPostgresStore(t, appURL)
}

// authPostgresStore is a store on its own pool of appURL: what one replica has.
func authPostgresStore(t testing.TB, appURL string) *tenancy.PostgresStore {
	t.Helper()
	s := tenancy.NewPostgresStore(pgtest.Pool(t, appURL))
	t.Cleanup(s.Close)
	return s
}

// authESIssuer is an external ES256 issuer with a real JWK Set endpoint.
type authESIssuer struct {
	key *ecdsa.PrivateKey
	kid string
	srv *httptest.Server
}

func newAuthESIssuer(t testing.TB) *authESIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	e := &authESIssuer{key: key, kid: "es-1"}
	enc := base64.RawURLEncoding.EncodeToString
	x, y := key.PublicKey.X.FillBytes(make([]byte, 32)), key.PublicKey.Y.FillBytes(make([]byte, 32))
	doc, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "x": enc(x), "y": enc(y), "kid": e.kid, "alg": "ES256", "use": "sig",
	}}})
	require.NoError(t, err)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// authEnv is one replica: store, stack, proxy, and the shared upstream.
type authEnv struct {
	store    tenancy.Store
	seed     *authSeed
	stack    *tenancy.AuthStack
	signer   *tenancy.Signer
	proxy    *testProxy
	upstream *authUpstream
	es       *authESIssuer
	verifier *tenancy.AssertionVerifier
}

// authEnvOptions tune newAuthEnv.
type authEnvOptions struct {
	store    tenancy.Store // required
	seed     *authSeed     // nil: seed the store
	signer   *tenancy.Signer
	es       *authESIssuer
	upstream *authUpstream
	routes   []config.Route
}

func newAuthEnv(t testing.TB, o authEnvOptions) *authEnv {
	t.Helper()
	if o.seed == nil {
		o.seed = authSeedTenancy(t, o.store)
	}
	if o.signer == nil {
		key, err := tenancy.GenerateSigningKey()
		require.NoError(t, err)
		o.signer, err = tenancy.NewSignerWithKeys(tenancy.SignerOptions{Issuer: authBuiltinIss}, key)
		require.NoError(t, err)
	}
	if o.es == nil {
		o.es = newAuthESIssuer(t)
	}
	if o.upstream == nil {
		o.upstream = newAuthUpstream(t)
	}
	if o.routes == nil {
		o.routes = authRoutes()
	}
	cfg := testConfig(o.upstream.URL, o.routes...)
	def := config.Default()
	cfg.Tenancy = def.Tenancy
	cfg.Auth = def.Auth
	cfg.Auth.Issuer.Enabled = true
	cfg.Auth.Issuer.Issuer = authBuiltinIss
	cfg.Auth.JWT = []config.JWTIssuer{
		{Name: "supabase", Issuer: authSupabaseIss, Audiences: []string{"authenticated"}, Algorithms: []string{"HS256"}, Secret: authSecret},
		{Name: "es", Issuer: authESIss, Audiences: []string{"authenticated"}, Algorithms: []string{"ES256"}, JWKSURL: o.es.srv.URL + "/.well-known/jwks.json"},
	}
	config.ApplyDefaults(cfg)

	stack, err := tenancy.NewAuthStack(context.Background(), tenancy.AuthStackOptions{Config: cfg, Store: o.store, Signer: o.signer})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = stack.Close(ctx)
	})
	hooks := NewTenancyAuth(stack)
	tp := startProxy(t, cfg, func(opts *Options) {
		opts.Authenticator, opts.Authorizer = hooks, hooks
	})
	hooks.Mount(tp.Server)

	env := &authEnv{store: o.store, seed: o.seed, stack: stack, signer: o.signer, proxy: tp, upstream: o.upstream, es: o.es}
	env.verifier = env.fetchVerifier(t)
	return env
}

// fetchVerifier builds an assertion verifier from the JWK Set the proxy
// publishes, the way an upstream would.
func (e *authEnv) fetchVerifier(t testing.TB) *tenancy.AssertionVerifier {
	t.Helper()
	res, err := http.Get(e.proxy.URL + "/.well-known/jwks.json")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	doc, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	v, err := tenancy.NewAssertionVerifier(authBuiltinIss, doc, nil)
	require.NoError(t, err)
	return v
}

// userToken is a built-in issuer access token.
func (e *authEnv) userToken(t testing.TB, u tenancy.User) string {
	t.Helper()
	tok, _, err := e.signer.SignAccessToken(tenancy.AccessTokenClaims{UserID: u.ID, Email: u.Email})
	require.NoError(t, err)
	return tok
}

// authSupabaseClaims is a valid Supabase access token's payload for sub.
func authSupabaseClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": authSupabaseIss, "sub": sub, "aud": "authenticated", "role": "authenticated",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(),
		"email": "", "phone": "", "aal": "aal1", "session_id": "5a1c0f2e-1111-2222-3333-444455556666",
		"is_anonymous": false, "amr": []any{map[string]any{"method": "password", "timestamp": now.Unix()}},
		"app_metadata":  map[string]any{"provider": "email", "providers": []any{"email"}},
		"user_metadata": map[string]any{"org_id": "spoofed-by-the-user"},
	}
}

func authSign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func authSupabaseToken(t testing.TB, c jwt.MapClaims) string {
	return authSign(t, jwt.SigningMethodHS256, []byte(authSecret), "", c)
}

// authRawJWT assembles header.payload.sig from raw JSON.
func authRawJWT(header, payload, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + sig
}

// do sends a request through the proxy.
func (e *authEnv) do(t testing.TB, method, path string, hdrs map[string][]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.proxy.URL+path, strings.NewReader(""))
	require.NoError(t, err)
	for k, vs := range hdrs {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

// authErrorCode returns the proxy error code of a JSON error body.
func authErrorCode(t testing.TB, body string) string {
	t.Helper()
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e.Error.Code
}

func authBearer(tok string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + tok}}
}

func authKey(k string) map[string][]string { return map[string][]string{"X-Api-Key": {k}} }

// authWith returns h plus header k: v...
func authWith(h map[string][]string, k string, v ...string) map[string][]string {
	out := map[string][]string{k: v}
	for hk, hv := range h {
		out[hk] = hv
	}
	return out
}

var _ crypto.Signer = (*ecdsa.PrivateKey)(nil)

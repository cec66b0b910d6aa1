package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

// TestAuthHostileTokens: every forged, expired, misdirected or malformed
// token is a 401 unauthenticated — on a required route, an optional one and
// a public (auth: none) one — and never reaches the upstream.
func TestAuthHostileTokens(t *testing.T) {
	env := newAuthEnv(t, authEnvOptions{store: tenancy.NewMemoryStore()})
	now := time.Now()
	sub := "0b7f3c1e-6d1a-4f3e-9d2a-8c1b2a3d4e5f"
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := authSupabaseClaims(sub)
		mut(c)
		return c
	}
	good := authSupabaseToken(t, authSupabaseClaims(sub))
	parts := strings.Split(good, ".")
	esPubDER, err := x509.MarshalPKIXPublicKey(&env.es.key.PublicKey)
	require.NoError(t, err)
	esPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esPubDER})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	foreignEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	esClaims := func() jwt.MapClaims {
		c := authSupabaseClaims(sub)
		c["iss"] = authESIss
		return c
	}
	payload := `{"iss":"` + authSupabaseIss + `","sub":"` + sub + `","aud":"authenticated","exp":` + fmt.Sprint(now.Add(time.Hour).Unix()) + `}`

	// A tenant assertion the proxy itself minted, replayed as a bearer.
	res, _ := env.do(t, "GET", "/api/posts", authBearer(good))
	require.Equal(t, http.StatusOK, res.StatusCode, "the control token works")
	assertion := env.upstream.last(t).Header.Get("X-Tenant-Assertion")
	require.NotEmpty(t, assertion)

	tests := []struct{ name, token string }{
		{"alg none", authRawJWT(`{"alg":"none","typ":"JWT"}`, payload, "")},
		{"alg None", authRawJWT(`{"alg":"None","typ":"JWT"}`, payload, "")},
		{"alg NONE with signature", authRawJWT(`{"alg":"NONE"}`, payload, parts[2])},
		{"HS256 signed with the ES256 public key (PEM)", authSign(t, jwt.SigningMethodHS256, esPubPEM, env.es.kid, esClaims())},
		{"HS256 signed with the ES256 public key (DER)", authSign(t, jwt.SigningMethodHS256, esPubDER, env.es.kid, esClaims())},
		{"RS256 off the list", authSign(t, jwt.SigningMethodRS256, rsaKey, "", authSupabaseClaims(sub))},
		{"HS512 off the list", authSign(t, jwt.SigningMethodHS512, []byte(authSecret), "", authSupabaseClaims(sub))},
		{"ES256 by a foreign key", authSign(t, jwt.SigningMethodES256, foreignEC, env.es.kid, esClaims())},
		{"ES256 with an unknown kid", authSign(t, jwt.SigningMethodES256, env.es.key, "nope", esClaims())},
		{"expired beyond leeway", authSupabaseToken(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }))},
		{"nbf in the future", authSupabaseToken(t, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() }))},
		{"iat in the future", authSupabaseToken(t, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Minute).Unix() }))},
		{"no exp", authSupabaseToken(t, claims(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"wrong iss", authSupabaseToken(t, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/auth/v1" }))},
		{"wrong aud", authSupabaseToken(t, claims(func(c jwt.MapClaims) { c["aud"] = "service" }))},
		{"no aud", authSupabaseToken(t, claims(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"wrong secret", authSign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), "", authSupabaseClaims(sub))},
		{"tampered payload", parts[0] + "." + strings.Split(authSupabaseToken(t, authSupabaseClaims("someone-else")), ".")[1] + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + authFlipLast(parts[2])},
		{"signature removed", parts[0] + "." + parts[1] + "."},
		{"two segments", parts[0] + "." + parts[1]},
		{"four segments", good + ".x"},
		{"many dots", strings.Repeat(".", 5000)},
		{"many dots in the header", authRawJWT(`{"alg":"HS256","x":"`+strings.Repeat(".", 3000)+`"}`, payload, parts[2])},
		{"huge token", parts[0] + "." + strings.Repeat("A", 10<<10) + "." + parts[2]},
		{"bad base64url", "eyJ!!!." + parts[1] + "." + parts[2]},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2]},
		{"not JSON", authRawJWT(`not json`, payload, parts[2])},
		{"garbage", "hello"},
		{"supabase anon key", authSupabaseToken(t, jwt.MapClaims{"iss": authSupabaseIss, "role": "anon", "aud": "authenticated", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})},
		{"supabase service_role key", authSupabaseToken(t, jwt.MapClaims{"iss": authSupabaseIss, "role": "service_role", "aud": "authenticated", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})},
		{"tenant assertion replayed as a token", assertion},
		{"built-in iss, foreign key", authSign(t, jwt.SigningMethodES256, foreignEC, env.signer.ActiveKID(), jwt.MapClaims{"iss": authBuiltinIss, "sub": env.seed.alice.ID, "aud": "authenticated", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/posts", "/anything", "/public/x"} {
				before := env.upstream.count()
				res, body := env.do(t, "GET", path, authBearer(tc.token))
				require.Equal(t, http.StatusUnauthorized, res.StatusCode, "%s: %s", path, body)
				assert.Equal(t, "unauthenticated", authErrorCode(t, body))
				assert.NotEmpty(t, res.Header.Get("Www-Authenticate"))
				assert.Equal(t, before, env.upstream.count(), "%s: the upstream must not be reached", path)
			}
		})
	}
}

func authFlipLast(s string) string {
	b := []byte(s)
	if b[len(b)-2] == 'A' {
		b[len(b)-2] = 'B'
	} else {
		b[len(b)-2] = 'A'
	}
	return string(b)
}

// TestAuthHugeHeaders: a header block beyond the listener's limit is
// refused before the pipeline (431); a long but acceptable Authorization
// is a 401, never a crash.
func TestAuthHugeHeaders(t *testing.T) {
	env := newAuthEnv(t, authEnvOptions{store: tenancy.NewMemoryStore()})
	conn, err := net.Dial("tcp", env.proxy.Addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(guard)))
	go func() {
		_, _ = fmt.Fprintf(conn, "GET /api/posts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", strings.Repeat("a", 2<<20))
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)
	assert.Zero(t, env.upstream.count())

	res2, _ := env.do(t, "GET", "/api/posts", authBearer(strings.Repeat("a", 512<<10)))
	assert.Equal(t, http.StatusUnauthorized, res2.StatusCode)
}

// TestAuthAPIKeys: the API-key outcomes end to end, on both stores.
func TestAuthAPIKeys(t *testing.T) {
	for _, kind := range []string{"memory", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := newAuthEnv(t, authEnvOptions{store: authStore(t, kind)})
			sd := env.seed
			good := sd.keys["acme-member"]
			badChecksum := good[:len(good)-1] + string("AB"[authBoolIndex(good[len(good)-1] == 'A')])
			tests := []struct {
				name   string
				method string
				path   string
				hdrs   map[string][]string
				status int
				code   string
			}{
				{"valid key reads", "GET", "/api/posts", authKey(good), 200, ""},
				{"valid key writes", "POST", "/api/posts", authKey(good), 200, ""},
				{"valid key as bearer", "GET", "/api/posts", authBearer(good), 200, ""},
				{"bad checksum", "GET", "/api/posts", authKey(badChecksum), 401, "unauthenticated"},
				{"bad checksum on an optional route", "GET", "/", authKey(badChecksum), 401, "unauthenticated"},
				{"revoked", "GET", "/api/posts", authKey(sd.keys["acme-revoked"]), 401, "unauthenticated"},
				{"expired", "GET", "/api/posts", authKey(sd.keys["acme-expired"]), 401, "unauthenticated"},
				{"unknown", "GET", "/api/posts", authKey(authUnknownKey()), 401, "unauthenticated"},
				{"out of scope", "POST", "/api/posts", authKey(sd.keys["acme-read"]), 403, "forbidden"},
				{"in scope", "GET", "/api/posts", authKey(sd.keys["acme-read"]), 200, ""},
				{"role cap", "GET", "/api/qa", authKey(sd.keys["acme-read"]), 403, "forbidden"},
				{"other org", "GET", "/api/posts", authWith(authKey(good), authOrgHeader, "beta"), 403, "forbidden"},
				{"other org by id", "GET", "/api/posts", authWith(authKey(sd.keys["beta-admin"]), authOrgHeader, sd.acme.ID), 403, "forbidden"},
				{"own org named", "GET", "/api/posts", authWith(authKey(good), authOrgHeader, "acme"), 200, ""},
				{"two different credentials", "GET", "/api/posts", authWith(authKey(good), "Authorization", "Bearer "+sd.keys["beta-admin"]), 401, "unauthenticated"},
				{"no credentials on a required route", "GET", "/api/posts", nil, 401, "unauthenticated"},
			}
			for _, tc := range tests {
				res, body := env.do(t, tc.method, tc.path, tc.hdrs)
				require.Equal(t, tc.status, res.StatusCode, "%s: %s", tc.name, body)
				if tc.code != "" {
					assert.Equal(t, tc.code, authErrorCode(t, body), tc.name)
					continue
				}
				got := env.upstream.last(t)
				assert.Equal(t, sd.acme.ID, got.Header.Get("X-Tenant-Org-Id"), tc.name)
				assert.Equal(t, "member", got.Header.Get("X-Tenant-Role"), tc.name)
			}
		})
	}
}

func authBoolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func authUnknownKey() string {
	k, _, _ := tenancy.GenerateAPIKey()
	return k
}

// TestAuthTenantSelection: org selection and permissions end to end, on
// both stores.
func TestAuthTenantSelection(t *testing.T) {
	for _, kind := range []string{"memory", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := newAuthEnv(t, authEnvOptions{store: authStore(t, kind)})
			sd := env.seed
			alice, bob := authBearer(env.userToken(t, sd.alice)), authBearer(env.userToken(t, sd.bob))
			tests := []struct {
				name           string
				method, path   string
				hdrs           map[string][]string
				status         int
				code, org, rol string
			}{
				{"member of A asks for B", "GET", "/api/posts", authWith(alice, authOrgHeader, "beta"), 403, "forbidden", "", ""},
				{"member of A asks for B by id", "GET", "/", authWith(alice, authOrgHeader, sd.beta.ID), 403, "forbidden", "", ""},
				{"member of A asks for A", "GET", "/api/posts", authWith(alice, authOrgHeader, "acme"), 200, "", sd.acme.ID, "owner"},
				{"viewer reads", "GET", "/api/posts", bob, 200, "", sd.acme.ID, "viewer"},
				{"viewer writes", "POST", "/api/posts", bob, 403, "forbidden", "", ""},
				{"viewer deletes", "DELETE", "/api/posts/1", bob, 403, "forbidden", "", ""},
				{"viewer runs agents", "GET", "/api/qa", bob, 403, "forbidden", "", ""},
				{"owner writes", "POST", "/api/posts", alice, 200, "", sd.acme.ID, "owner"},
				{"malformed org header", "GET", "/api/posts", authWith(alice, authOrgHeader, "a b"), 400, "bad_request", "", ""},
				{"two org headers", "GET", "/api/posts", authWith(alice, authOrgHeader, "acme", "beta"), 400, "bad_request", "", ""},
				{"project of the org", "GET", "/api/posts", authWith(alice, "X-Project-Id", "web"), 200, "", sd.acme.ID, "owner"},
				{"project of no org", "GET", "/api/posts", authWith(alice, "X-Project-Id", "nope"), 403, "forbidden", "", ""},
				{"anonymous, optional route", "GET", "/", nil, 200, "", sd.legacy.ID, ""},
				{"anonymous names an org", "GET", "/", map[string][]string{authOrgHeader: {"acme"}}, 401, "unauthenticated", "", ""},
				{"public route ignores the org header", "GET", "/public/x", authWith(alice, authOrgHeader, "beta"), 200, "", "", ""},
			}
			for _, tc := range tests {
				res, body := env.do(t, tc.method, tc.path, tc.hdrs)
				require.Equal(t, tc.status, res.StatusCode, "%s: %s", tc.name, body)
				if tc.code != "" {
					assert.Equal(t, tc.code, authErrorCode(t, body), tc.name)
					continue
				}
				got := env.upstream.last(t)
				assert.Equal(t, tc.org, got.Header.Get("X-Tenant-Org-Id"), tc.name)
				assert.Equal(t, tc.rol, got.Header.Get("X-Tenant-Role"), tc.name)
				if tc.org == "" {
					assert.Empty(t, got.Header.Values("X-Tenant-Assertion"), tc.name)
				}
			}
		})
	}
}

// TestAuthContextReachesUpstream: the upstream sees exactly the resolved
// context and an assertion it can verify with the proxy's JWK Set; the
// client's Authorization passes unchanged.
func TestAuthContextReachesUpstream(t *testing.T) {
	env := newAuthEnv(t, authEnvOptions{store: tenancy.NewMemoryStore()})
	sd := env.seed
	tok := env.userToken(t, sd.alice)
	res, body := env.do(t, "GET", "/api/posts", authWith(authBearer(tok), "X-Project-Id", "web"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	got := env.upstream.last(t)
	assert.Equal(t, []string{"Bearer " + tok}, got.Header.Values("Authorization"), "Authorization unchanged")
	assert.Equal(t, sd.acme.ID, got.Header.Get("X-Tenant-Org-Id"))
	assert.Equal(t, "acme", got.Header.Get("X-Tenant-Org-Slug"))
	assert.Equal(t, sd.web.ID, got.Header.Get("X-Tenant-Project-Id"))
	assert.Equal(t, sd.alice.ID, got.Header.Get("X-Tenant-User-Id"))
	assert.Equal(t, "owner", got.Header.Get("X-Tenant-Role"))
	assert.Equal(t, "web", got.Header.Get("X-Project-Id"), "the client's own headers pass")

	r, err := http.NewRequest("GET", "/", nil)
	require.NoError(t, err)
	r.Header = got.Header
	tc, err := env.verifier.VerifyAssertionRequest(r)
	require.NoError(t, err)
	assert.Equal(t, tenancy.TenantContext{OrgID: sd.acme.ID, OrgSlug: "acme", ProjectID: sd.web.ID, UserID: sd.alice.ID, Role: tenancy.RoleOwner}, tc)

	// An API key's context: no user (the key has no creator), its role.
	res, _ = env.do(t, "GET", "/api/posts", authKey(sd.keys["beta-admin"]))
	require.Equal(t, http.StatusOK, res.StatusCode)
	got = env.upstream.last(t)
	r.Header = got.Header
	tc, err = env.verifier.VerifyAssertionRequest(r)
	require.NoError(t, err)
	assert.Equal(t, tenancy.TenantContext{OrgID: sd.beta.ID, OrgSlug: "beta", Role: tenancy.RoleAdmin}, tc)
	assert.Empty(t, got.Header.Values("X-Tenant-User-Id"))
	assert.Equal(t, []string{sd.keys["beta-admin"]}, got.Header.Values("X-Api-Key"))
}

// TestAuthSpoofedTenantHeaders: X-Tenant-* headers from the client never
// reach the upstream — any case, underscores, repeated, with or without
// credentials, on every kind of route.
func TestAuthSpoofedTenantHeaders(t *testing.T) {
	env := newAuthEnv(t, authEnvOptions{store: tenancy.NewMemoryStore()})
	sd := env.seed
	spoofs := map[string][]string{
		"X-Tenant-Org-Id":     {sd.beta.ID, sd.beta.ID},
		"x-tenant-org-slug":   {"beta"},
		"X-TENANT-ROLE":       {"owner"},
		"X_Tenant_User_Id":    {"evil"},
		"X-tenant_project-id": {"evil"},
		"X-Tenant-Assertion":  {"eyJhbGciOiJub25lIn0.e30."},
		"X-Tenant-Anything":   {"evil"},
	}
	creds := map[string]map[string][]string{
		"anonymous": nil,
		"user":      authBearer(env.userToken(t, sd.bob)),
		"key":       authKey(sd.keys["acme-member"]),
	}
	for credName, cred := range creds {
		for _, path := range []string{"/", "/public/x", "/api/posts"} {
			if credName == "anonymous" && path == "/api/posts" {
				continue
			}
			hdrs := map[string][]string{}
			for k, v := range spoofs {
				hdrs[k] = v
			}
			for k, v := range cred {
				hdrs[k] = v
			}
			req, err := http.NewRequest("GET", env.proxy.URL+path, nil)
			require.NoError(t, err)
			for k, vs := range hdrs {
				for _, v := range vs {
					req.Header[k] = append(req.Header[k], v) // names exactly as given
				}
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusOK, res.StatusCode, "%s %s", credName, path)
			got := env.upstream.last(t)
			for k, vs := range got.Header {
				if isTenantHeader(k) {
					require.Len(t, vs, 1, "%s %s: %s", credName, path, k)
					for _, spoof := range []string{"evil", "beta", sd.beta.ID} {
						require.NotEqual(t, spoof, vs[0], "%s %s: %s", credName, path, k)
					}
				}
			}
			if path == "/public/x" {
				for k := range got.Header {
					require.False(t, isTenantHeader(k), "public route: no tenant header, got %s", k)
				}
			} else {
				want := sd.acme.ID
				if credName == "anonymous" {
					want = sd.legacy.ID
				}
				require.Equal(t, want, got.Header.Get("X-Tenant-Org-Id"), "%s %s", credName, path)
				_, err := env.verifier.Verify(context.Background(), got.Header.Get("X-Tenant-Assertion"))
				require.NoError(t, err, "%s %s", credName, path)
			}
		}
	}
}

// TestAuthSpoofedTenantTrailers: X-Tenant-* sent as request trailers must
// not reach the upstream either.
func TestAuthSpoofedTenantTrailers(t *testing.T) {
	env := newAuthEnv(t, authEnvOptions{store: tenancy.NewMemoryStore()})
	conn, err := net.Dial("tcp", env.proxy.Addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(guard)))
	_, err = fmt.Fprint(conn, "POST /anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"+
		"Trailer: X-Checksum, X-Tenant-Org-Id\r\n\r\n"+
		"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Tenant-Org-Id: evil\r\nX-Tenant-Role: owner\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	got := env.upstream.last(t)
	assert.Equal(t, "hello", got.Body)
	for k := range got.Trailer {
		assert.False(t, isTenantHeader(k), "tenant trailer %s reached the upstream", k)
	}
}

// TestAuthSupabaseTokenJIT: a Supabase access token works as is; its
// unknown user is created just in time as a member of the default org, on
// both stores.
func TestAuthSupabaseTokenJIT(t *testing.T) {
	for _, kind := range []string{"memory", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := newAuthEnv(t, authEnvOptions{store: authStore(t, kind)})
			sub := "3f2b1c0d-aaaa-4bbb-8ccc-0123456789ab"
			c := authSupabaseClaims(sub)
			c["email"] = "erin@legacy.test"
			tok := authSupabaseToken(t, c)
			res, body := env.do(t, "POST", "/api/posts", authBearer(tok))
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			got := env.upstream.last(t)
			u, err := env.store.GetUserByExternalSubject(context.Background(), sub)
			require.NoError(t, err)
			assert.Equal(t, "erin@legacy.test", u.Email)
			assert.Equal(t, env.seed.legacy.ID, got.Header.Get("X-Tenant-Org-Id"))
			assert.Equal(t, "legacy", got.Header.Get("X-Tenant-Org-Slug"))
			assert.Equal(t, u.ID, got.Header.Get("X-Tenant-User-Id"))
			assert.Equal(t, "member", got.Header.Get("X-Tenant-Role"))
			assert.Equal(t, "Bearer "+tok, got.Header.Get("Authorization"))
		})
	}
}

// TestAuthJWKSEndpoint: the public listener serves the keys that verify
// assertions, and it is not routed to an upstream.
func TestAuthJWKSEndpoint(t *testing.T) {
	env := newAuthEnv(t, authEnvOptions{store: tenancy.NewMemoryStore()})
	res, body := env.do(t, "GET", "/.well-known/jwks.json", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, env.signer.ActiveKID())
	assert.Zero(t, env.upstream.count())
}

package tenancy

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/7cycles-ai/strangler/config"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	remoteIss = "https://issuer.example"
	mixedIss  = "https://mixed.example"
	// mixedSecret is the HS256 secret of the entry that also has a JWKS.
	mixedSecret = "another-secret-that-is-at-least-32-bytes-long!"
)

// hostileFixture is a verifier trusting: hosted Supabase (HS256), a JWKS
// issuer (ES256, RS256), a mixed issuer (HS256 secret + the same JWKS for
// RS256), and the built-in issuer.
type hostileFixture struct {
	v      *JWTVerifier
	clock  *testClock
	srv    *jwksServer
	ec     crypto.Signer
	rsa    crypto.Signer
	p384   crypto.Signer
	signer *Signer
}

func newHostileFixture(t *testing.T) *hostileFixture {
	t.Helper()
	f := &hostileFixture{
		clock: newTestClock(),
		srv:   newJWKSServer(t),
		ec:    loadKey(t, "ec_p256_a.pem"),
		rsa:   loadKey(t, "rsa2048.pem"),
		p384:  loadKey(t, "ec_p384.pem"),
	}
	f.srv.setKeys(t, map[string]crypto.Signer{"ec-a": f.ec, "rsa-1": f.rsa, "p384": f.p384})
	var err error
	f.signer, err = NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test", Now: f.clock.Now}, loadKey(t, "ec_p256_b.pem"))
	require.NoError(t, err)
	f.v = newTestVerifier(t, f.clock, func(o *JWTVerifierOptions) { o.Builtin = f.signer },
		supabaseEntry(),
		config.JWTIssuer{
			Name: "remote", Issuer: remoteIss, Audiences: []string{"api", "authenticated"},
			Algorithms: []string{"ES256", "RS256"}, JWKSURL: f.srv.url(),
		},
		config.JWTIssuer{
			Name: "mixed", Issuer: mixedIss, Audiences: []string{"authenticated"},
			Algorithms: []string{"HS256", "RS256"}, Secret: mixedSecret, JWKSURL: f.srv.url(),
		},
	)
	return f
}

func claimsFor(iss string) jwt.MapClaims {
	c := supabaseClaims()
	c["iss"] = iss
	return c
}

func (f *hostileFixture) publicPEM(t *testing.T, k crypto.Signer) []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestVerifySupabaseAccessToken(t *testing.T) {
	f := newHostileFixture(t)
	tok := signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())

	p, err := f.v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, PrincipalUser, p.Kind)
	assert.Equal(t, "0b7f3c1e-6d1a-4f3e-9d2a-8c1b2a3d4e5f", p.Subject)
	assert.Empty(t, p.UserID, "an external subject is not a store user id")
	assert.Equal(t, "alice@acme.test", p.Email)
	assert.Equal(t, "supabase", p.Issuer)
	assert.Equal(t, "org-from-app-metadata", p.OrgClaim, "org comes from app_metadata, never user_metadata")
	assert.Equal(t, "proj-1", p.ProjectClaim)
	assert.Equal(t, "5a1c0f2e-1111-2222-3333-444455556666", p.SessionID)
	assert.False(t, p.AnonymousUser)
	assert.Equal(t, testEpoch.Add(time.Hour), p.ExpiresAt)
	assert.Nil(t, p.Key)

	anon := supabaseClaims()
	anon["is_anonymous"] = true
	p, err = f.v.Verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", anon))
	require.NoError(t, err)
	assert.True(t, p.AnonymousUser, "Supabase anonymous sign-in users are users, flagged")
}

func TestVerifySupabaseAPIKeysAreNotUserTokens(t *testing.T) {
	f := newHostileFixture(t)
	// The shapes of Supabase's anon and service_role keys: no sub, no aud,
	// iss "supabase", ten-year exp.
	for _, role := range []string{"anon", "service_role"} {
		t.Run(role, func(t *testing.T) {
			key := jwt.MapClaims{"iss": "supabase", "ref": "abcdefghijklmnop", "role": role,
				"iat": testEpoch.Add(-24 * time.Hour).Unix(), "exp": testEpoch.Add(10 * 365 * 24 * time.Hour).Unix()}
			_, err := f.v.Verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", key))
			require.ErrorIs(t, err, ErrInvalidCredentials)
			require.ErrorIs(t, err, ErrNotUserToken)

			// Even shaped as an access token of the trusted issuer, with a
			// sub, the role is not a user's.
			c := supabaseClaims()
			c["role"] = role
			_, err = f.v.Verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", c))
			require.ErrorIs(t, err, ErrInvalidCredentials)
			require.ErrorIs(t, err, ErrNotUserToken)
		})
	}
	c := supabaseClaims()
	delete(c, "sub")
	_, err := f.v.Verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", c))
	require.ErrorIs(t, err, ErrNotUserToken, "no subject: not a user token")
}

func TestVerifyHostileTokens(t *testing.T) {
	f := newHostileFixture(t)
	now := testEpoch
	hs := func(c jwt.MapClaims) string { return signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", c) }
	with := func(mut func(jwt.MapClaims)) jwt.MapClaims { c := supabaseClaims(); mut(c); return c }
	valid := hs(supabaseClaims())
	payload, _ := json.Marshal(supabaseClaims())
	remotePayload, _ := json.Marshal(claimsFor(remoteIss))
	parts := strings.Split(valid, ".")

	flipLast := func(s string) string {
		b := []byte(s)
		if b[len(b)-2] == 'A' {
			b[len(b)-2] = 'B'
		} else {
			b[len(b)-2] = 'A'
		}
		return string(b)
	}

	tests := []struct {
		name  string
		token string
		is    error // extra sentinel beyond ErrInvalidCredentials, optional
	}{
		{"empty", "", nil},
		{"alg none", rawToken(`{"alg":"none","typ":"JWT"}`, string(payload), ""), nil},
		{"alg none with signature", rawToken(`{"alg":"none","typ":"JWT"}`, string(payload), "AAAA"), nil},
		{"alg None", rawToken(`{"alg":"None"}`, string(payload), "AAAA"), nil},
		{"alg NONE", rawToken(`{"alg":"NONE"}`, string(payload), "AAAA"), nil},
		{"alg nOnE", rawToken(`{"alg":"nOnE"}`, string(payload), "AAAA"), nil},
		{"alg missing", rawToken(`{"typ":"JWT"}`, string(payload), "AAAA"), nil},
		{"alg not a string", rawToken(`{"alg":256}`, string(payload), "AAAA"), nil},
		{"HS256 signed with the RSA public key (RS256 issuer)",
			signToken(t, jwt.SigningMethodHS256, f.publicPEM(t, f.rsa), "rsa-1", claimsFor(remoteIss)), nil},
		{"HS256 signed with the EC public key (ES256 issuer)",
			signToken(t, jwt.SigningMethodHS256, f.publicPEM(t, f.ec), "ec-a", claimsFor(remoteIss)), nil},
		{"HS256 signed with the RSA public key (issuer allowing HS256 and RS256)",
			signToken(t, jwt.SigningMethodHS256, f.publicPEM(t, f.rsa), "rsa-1", claimsFor(mixedIss)), jwt.ErrTokenSignatureInvalid},
		{"HS256 signed with the built-in issuer's public key",
			signToken(t, jwt.SigningMethodHS256, f.publicPEM(t, loadKey(t, "ec_p256_b.pem")), f.signer.ActiveKID(), claimsFor("https://strangler.test")), nil},
		{"HS384 off the list", signToken(t, jwt.SigningMethodHS384, []byte(testSecret+testSecret), "", supabaseClaims()), nil},
		{"HS512 off the list", signToken(t, jwt.SigningMethodHS512, []byte(testSecret+testSecret), "", supabaseClaims()), nil},
		{"RS256 to an HS256-only issuer", signToken(t, jwt.SigningMethodRS256, f.rsa, "rsa-1", supabaseClaims()), nil},
		{"PS256 off the list", signToken(t, jwt.SigningMethodPS256, f.rsa, "rsa-1", claimsFor(remoteIss)), nil},
		{"ES384 off the list", signToken(t, jwt.SigningMethodES384, f.p384, "p384", claimsFor(remoteIss)), nil},
		{"ES256 header on a P-384 key", rawToken(`{"alg":"ES256","kid":"p384"}`, string(remotePayload), strings.Repeat("A", 86)), nil},
		{"RS256 token naming an EC kid", signToken(t, jwt.SigningMethodRS256, f.rsa, "ec-a", claimsFor(remoteIss)), nil},
		{"expired beyond leeway", hs(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-31 * time.Second).Unix() })), jwt.ErrTokenExpired},
		{"nbf beyond leeway", hs(with(func(c jwt.MapClaims) { c["nbf"] = now.Add(31 * time.Second).Unix() })), jwt.ErrTokenNotValidYet},
		{"iat beyond leeway", hs(with(func(c jwt.MapClaims) { c["iat"] = now.Add(31 * time.Second).Unix() })), jwt.ErrTokenUsedBeforeIssued},
		{"no exp", hs(with(func(c jwt.MapClaims) { delete(c, "exp") })), jwt.ErrTokenRequiredClaimMissing},
		{"exp zero", hs(with(func(c jwt.MapClaims) { c["exp"] = 0 })), jwt.ErrTokenRequiredClaimMissing},
		{"exp a string", hs(with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), nil},
		{"wrong iss", hs(with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/auth/v1" })), nil},
		{"iss of another trusted issuer with this secret", hs(with(func(c jwt.MapClaims) { c["iss"] = remoteIss })), nil},
		{"wrong aud", hs(with(func(c jwt.MapClaims) { c["aud"] = "anon" })), jwt.ErrTokenInvalidAudience},
		{"no aud", hs(with(func(c jwt.MapClaims) { delete(c, "aud") })), jwt.ErrTokenRequiredClaimMissing},
		{"aud list without ours", hs(with(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} })), jwt.ErrTokenInvalidAudience},
		{"wrong secret", signToken(t, jwt.SigningMethodHS256, []byte(mixedSecret), "", supabaseClaims()), jwt.ErrTokenSignatureInvalid},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), jwt.ErrTokenSignatureInvalid},
		{"tampered payload", mutatePayload(valid, strings.Replace(string(payload), "org-from-app-metadata", "org-of-someone-else", 1)), jwt.ErrTokenSignatureInvalid},
		{"signature dropped", parts[0] + "." + parts[1] + ".", nil},
		{"one segment", parts[0], nil},
		{"two segments", parts[0] + "." + parts[1], nil},
		{"four segments", valid + "." + parts[2], nil},
		{"many dots", parts[0] + strings.Repeat(".", 4000) + parts[2], nil},
		{"huge header", rawToken(`{"alg":"HS256","x":"`+strings.Repeat("A", MaxTokenBytes)+`"}`, string(payload), parts[2]), nil},
		{"token just over the cap", valid + strings.Repeat("A", MaxTokenBytes-len(valid)+1), nil},
		{"bad base64url header", "eyJ+bGciOiJIUzI1NiJ9/." + parts[1] + "." + parts[2], nil},
		{"padded base64 header", parts[0] + "==." + parts[1] + "." + parts[2], nil},
		{"bad base64url signature", parts[0] + "." + parts[1] + ".*" + parts[2][1:], nil},
		{"header not JSON", rawToken(`alg=HS256`, string(payload), parts[2]), nil},
		{"header a JSON array", rawToken(`["HS256"]`, string(payload), parts[2]), nil},
		{"payload a JSON array", rawToken(`{"alg":"HS256"}`, `[1,2]`, parts[2]), nil},
		{"payload iss not a string", rawToken(`{"alg":"HS256"}`, `{"iss":7}`, parts[2]), nil},
		{"crit header", rawToken(`{"alg":"HS256","crit":["exp"]}`, string(payload), parts[2]), nil},
		{"kid not a string", rawToken(`{"alg":"ES256","kid":7}`, string(remotePayload), strings.Repeat("A", 86)), nil},
		{"kid over-long", rawToken(`{"alg":"ES256","kid":"`+strings.Repeat("k", 300)+`"}`, string(remotePayload), strings.Repeat("A", 86)), nil},
		{"unknown kid", signToken(t, jwt.SigningMethodES256, loadKey(t, "ec_p256_sec1.pem"), "not-published", claimsFor(remoteIss)), nil},
		{"right kid, wrong key", signToken(t, jwt.SigningMethodES256, loadKey(t, "ec_p256_sec1.pem"), "ec-a", claimsFor(remoteIss)), jwt.ErrTokenSignatureInvalid},
		{"subject not a string", hs(with(func(c jwt.MapClaims) { c["sub"] = 42 })), nil},
		{"org claim not a string", hs(with(func(c jwt.MapClaims) { c["app_metadata"] = map[string]any{"org_id": []any{"a", "b"}} })), nil},
		{"tenant assertion replayed as a bearer", mustMint(t, f.signer), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.v.Verify(context.Background(), tc.token)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.ErrorIs(t, err, ErrInvalidCredentials)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Len(t, err.Error(), min(len(err.Error()), 2048), "error messages stay bounded")
		})
	}
	assert.Zero(t, f.v.cacheLen(), "no refusal is cached")
}

func mustMint(t testing.TB, s *Signer) string {
	tok, err := NewAssertionMinter(s, AssertionOptions{}).MintAssertion(context.Background(), TenantContext{OrgID: "o1", UserID: "u1", Role: RoleOwner})
	require.NoError(t, err)
	return tok
}

// The parser itself refuses alg none and key confusion, even when the
// routing pre-checks are bypassed.
func TestJWTEntryRefusesNoneAndKeyConfusionDirectly(t *testing.T) {
	f := newHostileFixture(t)
	mixed := f.v.byIss[mixedIss]
	require.NotNil(t, mixed)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(mixedIss)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	_, err = mixed.verify(context.Background(), none)
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, "none is not on the allow-list")

	tok := signToken(t, jwt.SigningMethodHS256, f.publicPEM(t, f.rsa), "rsa-1", claimsFor(mixedIss))
	_, err = mixed.verify(context.Background(), tok)
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, "HMAC uses the configured secret, never a JWK")

	// The same entry's legitimate HS256 and RS256 tokens pass.
	_, err = mixed.verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(mixedSecret), "", claimsFor(mixedIss)))
	require.NoError(t, err)
	_, err = mixed.verify(context.Background(), signToken(t, jwt.SigningMethodRS256, f.rsa, "rsa-1", claimsFor(mixedIss)))
	require.NoError(t, err)
}

func TestVerifyLeewayBoundaries(t *testing.T) {
	f := newHostileFixture(t)
	now := testEpoch
	tests := []struct {
		name string
		mut  func(jwt.MapClaims)
	}{
		{"expired within leeway", func(c jwt.MapClaims) { c["exp"] = now.Add(-29 * time.Second).Unix() }},
		{"nbf within leeway", func(c jwt.MapClaims) { c["nbf"] = now.Add(29 * time.Second).Unix() }},
		{"iat within leeway", func(c jwt.MapClaims) { c["iat"] = now.Add(29 * time.Second).Unix() }},
		{"no iat", func(c jwt.MapClaims) { delete(c, "iat") }},
		{"aud list containing ours", func(c jwt.MapClaims) { c["aud"] = []string{"other", "authenticated"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := supabaseClaims()
			tc.mut(c)
			_, err := f.v.Verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", c))
			require.NoError(t, err)
		})
	}
}

func TestVerifyRemoteIssuerRSAandEC(t *testing.T) {
	f := newHostileFixture(t)
	for name, tok := range map[string]string{
		"ES256": signToken(t, jwt.SigningMethodES256, f.ec, "ec-a", claimsFor(remoteIss)),
		"RS256": signToken(t, jwt.SigningMethodRS256, f.rsa, "rsa-1", claimsFor(remoteIss)),
	} {
		p, err := f.v.Verify(context.Background(), tok)
		require.NoError(t, err, name)
		assert.Equal(t, "remote", p.Issuer, name)
		assert.Empty(t, p.OrgClaim, "the remote entry maps no org claim")
	}
}

// Self-hosted Supabase tokens carry no iss: they go to the entries without
// issuer, matched by kid and algorithm.
func TestVerifyTokensWithoutIssuer(t *testing.T) {
	clock := newTestClock()
	srvA, srvB := newJWKSServer(t), newJWKSServer(t)
	keyA, keyB := loadKey(t, "ec_p256_a.pem"), loadKey(t, "ec_p256_b.pem")
	srvA.setKeys(t, map[string]crypto.Signer{"a": keyA})
	srvB.setKeys(t, map[string]crypto.Signer{"b": keyB})
	hsEntry := supabaseEntry()
	hsEntry.Name, hsEntry.Issuer = "selfhosted-hs", ""
	v := newTestVerifier(t, clock, nil,
		config.JWTIssuer{Name: "selfhosted-a", Audiences: []string{"authenticated"}, Algorithms: []string{"ES256"}, JWKSURL: srvA.url()},
		config.JWTIssuer{Name: "selfhosted-b", Audiences: []string{"authenticated"}, Algorithms: []string{"ES256"}, JWKSURL: srvB.url()},
		hsEntry,
	)
	noIss := supabaseClaims()
	delete(noIss, "iss")

	hitsA := srvA.hits.Load()
	p, err := v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, keyB, "b", noIss))
	require.NoError(t, err)
	assert.Equal(t, "selfhosted-b", p.Issuer)
	assert.Equal(t, hitsA, srvA.hits.Load(), "the entry that holds the kid is tried first: no refetch elsewhere")

	p, err = v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, keyA, "a", noIss))
	require.NoError(t, err)
	assert.Equal(t, "selfhosted-a", p.Issuer)

	p, err = v.Verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", noIss))
	require.NoError(t, err)
	assert.Equal(t, "selfhosted-hs", p.Issuer)

	// An iss no entry names falls back to the entries without issuer (they
	// do not check iss); their keys still decide.
	other := supabaseClaims()
	other["iss"] = "http://kong:8000/auth/v1"
	p, err = v.Verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", other))
	require.NoError(t, err)
	assert.Equal(t, "selfhosted-hs", p.Issuer)

	_, err = v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, loadKey(t, "ec_p256_sec1.pem"), "a", noIss))
	require.ErrorIs(t, err, ErrInvalidCredentials, "a kid held by an entry, signed by another key")
}

func TestNewJWTVerifierReportsEveryProblem(t *testing.T) {
	_, err := NewJWTVerifier(context.Background(), JWTVerifierOptions{Issuers: []config.JWTIssuer{
		{Name: "", Audiences: nil, Algorithms: nil},
		{Name: "weak", Audiences: []string{"a"}, Algorithms: []string{"HS256", "none"}, Secret: "short"},
		{Name: "rs", Audiences: []string{"a"}, Algorithms: []string{"RS256", "XS999"}},
		{Name: "meta", Audiences: []string{"a"}, Algorithms: []string{"HS256"}, Secret: testSecret,
			Claims: config.Claims{Org: "user_metadata.org_id", Project: "app_metadata..x"}},
		{Name: "builtin", Audiences: []string{"a"}, Algorithms: []string{"HS256"}, Secret: testSecret},
	}})
	require.Error(t, err)
	for _, want := range []string{
		"auth.jwt[0].name: required",
		"auth.jwt[0].audiences: required",
		"auth.jwt[0].algorithms: required",
		`auth.jwt[1].algorithms: "none" is never allowed`,
		"auth.jwt[1].secret: shorter than 32 bytes",
		"auth.jwt[2].jwks_url: required",
		`auth.jwt[2].algorithms: unknown algorithm "XS999"`,
		"auth.jwt[3].claims.org",
		"user_metadata",
		"auth.jwt[3].claims.project",
		`auth.jwt[4].name: "builtin" is reserved`,
	} {
		assert.Contains(t, err.Error(), want)
	}

	_, err = NewJWTVerifier(context.Background(), JWTVerifierOptions{Issuers: []config.JWTIssuer{supabaseEntry(), supabaseEntry()}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "used twice")
	assert.Contains(t, err.Error(), "trusted twice")
}

func TestVerifyBuiltinIssuerTokens(t *testing.T) {
	f := newHostileFixture(t)
	tok, exp, err := f.signer.SignAccessToken(AccessTokenClaims{UserID: "user-1", SessionID: "fam-1", Email: "bob@acme.test", OrgID: "org-1"})
	require.NoError(t, err)
	assert.Equal(t, testEpoch.Add(DefaultAccessTTL), exp)

	hits := f.srv.hits.Load()
	p, err := f.v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, BuiltinIssuerName, p.Issuer)
	assert.Equal(t, "user-1", p.Subject)
	assert.Equal(t, "user-1", p.UserID, "the built-in issuer's sub is a store user id")
	assert.Equal(t, "fam-1", p.SessionID)
	assert.Equal(t, "org-1", p.OrgClaim)
	assert.Equal(t, "bob@acme.test", p.Email)
	assert.Equal(t, hits, f.srv.hits.Load(), "built-in keys are in process: no HTTP")

	// After a rotation the old token still verifies (its key is kept until
	// it expires), and new tokens use the new key.
	require.NoError(t, f.signer.Rotate(loadKey(t, "ed25519.pem")))
	f.v.InvalidateCache()
	_, err = f.v.Verify(context.Background(), tok)
	require.NoError(t, err)
	tok2, _, err := f.signer.SignAccessToken(AccessTokenClaims{UserID: "user-2"})
	require.NoError(t, err)
	p, err = f.v.Verify(context.Background(), tok2)
	require.NoError(t, err)
	assert.Equal(t, "user-2", p.UserID)
	tp, err := peekToken(tok2)
	require.NoError(t, err)
	assert.Equal(t, "EdDSA", tp.alg)
	assert.Equal(t, f.signer.ActiveKID(), tp.kid)
	assert.Equal(t, accessTokenType, tp.typ)
}

// The verified-token cache: same result until exp, never beyond, never a
// refusal, bounded, and forgotten when a key disappears.
func TestVerifiedTokenCache(t *testing.T) {
	t.Run("hit until exp, never beyond", func(t *testing.T) {
		clock := newTestClock()
		v := newTestVerifier(t, clock, nil, supabaseEntry())
		c := supabaseClaims()
		c["exp"] = testEpoch.Add(2 * time.Minute).Unix()
		tok := signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", c)
		p1, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		p2, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		assert.Same(t, p1, p2, "served from the cache")
		assert.Equal(t, 1, v.cacheLen())

		clock.Advance(2*time.Minute + 10*time.Second) // past exp, inside leeway
		p3, err := v.Verify(context.Background(), tok)
		require.NoError(t, err, "leeway still accepts it on a fresh verification")
		assert.NotSame(t, p1, p3, "the cache entry ended at exp")

		clock.Advance(25 * time.Second) // past exp + leeway
		_, err = v.Verify(context.Background(), tok)
		require.ErrorIs(t, err, jwt.ErrTokenExpired)
	})
	t.Run("refusals are not cached", func(t *testing.T) {
		v := newTestVerifier(t, newTestClock(), nil, supabaseEntry())
		bad := signToken(t, jwt.SigningMethodHS256, []byte(mixedSecret), "", supabaseClaims())
		for range 3 {
			_, err := v.Verify(context.Background(), bad)
			require.ErrorIs(t, err, ErrInvalidCredentials)
		}
		assert.Zero(t, v.cacheLen())
	})
	t.Run("bounded", func(t *testing.T) {
		v := newTestVerifier(t, newTestClock(), func(o *JWTVerifierOptions) { o.CacheSize = 32 }, supabaseEntry())
		for i := range 300 {
			c := supabaseClaims()
			c["sub"] = fmt.Sprintf("user-%d", i)
			_, err := v.Verify(context.Background(), signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", c))
			require.NoError(t, err)
		}
		assert.LessOrEqual(t, v.cacheLen(), 32)
		assert.Positive(t, v.cacheLen())
	})
	t.Run("capped by CacheMaxTTL", func(t *testing.T) {
		clock := newTestClock()
		v := newTestVerifier(t, clock, func(o *JWTVerifierOptions) { o.CacheMaxTTL = time.Minute }, supabaseEntry())
		tok := signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
		p1, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		clock.Advance(61 * time.Second)
		p2, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		assert.NotSame(t, p1, p2)
	})
	t.Run("invalidate", func(t *testing.T) {
		v := newTestVerifier(t, newTestClock(), nil, supabaseEntry())
		tok := signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
		p1, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		v.InvalidateCache()
		p2, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		assert.NotSame(t, p1, p2)
	})
	t.Run("disabled", func(t *testing.T) {
		v := newTestVerifier(t, newTestClock(), func(o *JWTVerifierOptions) { o.CacheSize = -1 }, supabaseEntry())
		tok := signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
		p1, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		p2, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		assert.NotSame(t, p1, p2)
	})
}

func TestTTLCacheEvictsExpiredFirst(t *testing.T) {
	c := newTTLCache[int, int](16, func(k int) uint64 { return 0 }) // one shard of 1
	now := testEpoch
	c.put(1, 1, now.Add(time.Second), now)
	c.put(2, 2, now.Add(time.Hour), now.Add(2*time.Second))
	_, ok := c.get(1, now)
	assert.False(t, ok)
	v, ok := c.get(2, now)
	assert.True(t, ok)
	assert.Equal(t, 2, v)
	c.put(3, 3, now.Add(-time.Second), now) // already expired: not stored
	_, ok = c.get(3, now.Add(-2*time.Second))
	assert.False(t, ok)
}

func TestVerifyCancelledContext(t *testing.T) {
	f := newHostileFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A verification that needs the network (unknown kid) stops with the
	// request.
	_, err := f.v.Verify(ctx, signToken(t, jwt.SigningMethodES256, loadKey(t, "ec_p256_sec1.pem"), "fresh-kid", claimsFor(remoteIss)))
	require.ErrorIs(t, err, context.Canceled)
}

// Concurrent verifications, invalidations and evictions share the cache
// safely (run with -race).
func TestVerifiedTokenCacheConcurrency(t *testing.T) {
	v := newTestVerifier(t, newTestClock(), func(o *JWTVerifierOptions) { o.CacheSize = 16 }, supabaseEntry())
	toks := make([]string, 40)
	for i := range toks {
		c := supabaseClaims()
		c["sub"] = fmt.Sprintf("user-%d", i)
		toks[i] = signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", c)
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				tok := toks[(i*7+g)%len(toks)]
				p, err := v.Verify(context.Background(), tok)
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, fmt.Sprintf("user-%d", (i*7+g)%len(toks)), p.Subject, "never another token's principal")
				if i%50 == 0 {
					v.InvalidateCache()
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	assert.LessOrEqual(t, v.cacheLen(), 16)
}

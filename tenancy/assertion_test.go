package tenancy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestSigner(t testing.TB, clock *testClock) *Signer {
	t.Helper()
	s, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test", Now: clock.Now}, loadKey(t, "ec_p256_a.pem"))
	require.NoError(t, err)
	return s
}

var testTenant = TenantContext{
	OrgID: "6f1d0c2a-0000-4000-8000-000000000001", OrgSlug: "acme",
	ProjectID: "6f1d0c2a-0000-4000-8000-0000000000p1", UserID: "6f1d0c2a-0000-4000-8000-0000000000u1",
	Role: RoleMember, RequestID: "req-1",
}

func TestAssertionRoundTrip(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, clock)
	m := NewAssertionMinter(s, AssertionOptions{})
	tok, err := m.MintAssertion(context.Background(), testTenant)
	require.NoError(t, err)

	av, err := NewAssertionVerifier("https://strangler.test", s.JWKS(), clock.Now)
	require.NoError(t, err)
	got, err := av.Verify(context.Background(), tok)
	require.NoError(t, err)
	want := testTenant
	want.RequestID = "" // not bound by default
	assert.Equal(t, want, got)

	// The raw claims an upstream in another language reads.
	claims := jwt.MapClaims{}
	_, _, err = jwt.NewParser().ParseUnverified(tok, claims)
	require.NoError(t, err)
	assert.Equal(t, "upstream", claims["aud"])
	assert.Equal(t, "member", claims["org_role"])
	assert.NotContains(t, claims, "role", "role is a database role to PostgREST; the tenant role is org_role")
	assert.EqualValues(t, testEpoch.Add(AssertionTTL).Unix(), claims["exp"])

	// Expired: 60 s TTL plus 30 s leeway.
	clock.Advance(AssertionTTL + JWTLeeway + time.Second)
	_, err = av.Verify(context.Background(), tok)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
}

func TestAssertionReuseWindow(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, clock)
	m := NewAssertionMinter(s, AssertionOptions{})
	ctx := context.Background()

	a1, err := m.MintAssertion(ctx, testTenant)
	require.NoError(t, err)
	other := testTenant
	other.RequestID = "req-2" // the request id does not split the cache
	clock.Advance(29 * time.Second)
	a2, err := m.MintAssertion(ctx, other)
	require.NoError(t, err)
	assert.Equal(t, a1, a2, "reused within the window")

	viewer := testTenant
	viewer.Role = RoleViewer
	a3, err := m.MintAssertion(ctx, viewer)
	require.NoError(t, err)
	assert.NotEqual(t, a1, a3, "another context, another assertion")

	clock.Advance(2 * time.Second) // 31 s after a1
	a4, err := m.MintAssertion(ctx, testTenant)
	require.NoError(t, err)
	assert.NotEqual(t, a1, a4, "re-signed after the window")

	// A rotation re-signs at once with the new key; assertions of the old
	// key still verify with the published set.
	require.NoError(t, s.Rotate(loadKey(t, "ed25519.pem")))
	a5, err := m.MintAssertion(ctx, testTenant)
	require.NoError(t, err)
	assert.NotEqual(t, a4, a5)
	av, err := NewAssertionVerifier("https://strangler.test", s.JWKS(), clock.Now)
	require.NoError(t, err)
	for _, a := range []string{a4, a5} {
		_, err = av.Verify(ctx, a)
		require.NoError(t, err)
	}
}

func TestAssertionBoundToRequest(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, clock)
	m := NewAssertionMinter(s, AssertionOptions{BindRequestID: true})
	av, err := NewAssertionVerifier("https://strangler.test", s.JWKS(), clock.Now)
	require.NoError(t, err)
	a1, err := m.MintAssertion(context.Background(), testTenant)
	require.NoError(t, err)
	other := testTenant
	other.RequestID = "req-2"
	a2, err := m.MintAssertion(context.Background(), other)
	require.NoError(t, err)
	assert.NotEqual(t, a1, a2)
	got, err := av.Verify(context.Background(), a2)
	require.NoError(t, err)
	assert.Equal(t, "req-2", got.RequestID)
}

func TestAssertionVerifierRefusals(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, clock)
	av, err := NewAssertionVerifier("https://strangler.test", s.JWKS(), clock.Now)
	require.NoError(t, err)
	for name, tok := range hostileAssertions(t, clock, s) {
		t.Run(name, func(t *testing.T) {
			_, err := av.Verify(context.Background(), tok)
			require.ErrorIs(t, err, ErrInvalidCredentials)
		})
	}
	_, err = NewAssertionMinter(s, AssertionOptions{}).MintAssertion(context.Background(), TenantContext{})
	require.Error(t, err, "an assertion needs an org")
}

// hostileAssertions are tokens no verifier or refresher of s's assertions
// may accept: another kind of token, other keys or issuers, other
// algorithms, tampering and junk.
func hostileAssertions(t *testing.T, clock *testClock, s *Signer) map[string]string {
	t.Helper()
	access, _, err := s.SignAccessToken(AccessTokenClaims{UserID: "u1", OrgID: "o1"})
	require.NoError(t, err)
	otherSigner, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test", Now: clock.Now}, loadKey(t, "ec_p256_b.pem"))
	require.NoError(t, err)
	forged, err := NewAssertionMinter(otherSigner, AssertionOptions{}).MintAssertion(context.Background(), testTenant)
	require.NoError(t, err)
	wrongIss, err := NewSignerWithKeys(SignerOptions{Issuer: "https://evil.test", Now: clock.Now}, loadKey(t, "ec_p256_a.pem"))
	require.NoError(t, err)
	fromEvil, err := NewAssertionMinter(wrongIss, AssertionOptions{}).MintAssertion(context.Background(), testTenant)
	require.NoError(t, err)
	return map[string]string{
		"access token as assertion": access,
		"signed by an unknown key":  forged,
		"another issuer":            fromEvil,
		"HS256 with the kid": signToken(t, jwt.SigningMethodHS256, []byte(testSecret), s.ActiveKID(), jwt.MapClaims{
			"iss": "https://strangler.test", "aud": "upstream", "exp": testEpoch.Add(time.Minute).Unix(), "org_id": "o1"}),
		"alg none": signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, s.ActiveKID(), jwt.MapClaims{
			"iss": "https://strangler.test", "aud": "upstream", "exp": testEpoch.Add(time.Minute).Unix(), "org_id": "o1"}),
		"empty":                       "",
		"garbage":                     "a.b.c",
		"assertion with tampered org": mutatePayload(mustMint(t, s), `{"iss":"https://strangler.test","aud":"upstream","exp":9999999999,"org_id":"other"}`),
	}
}

// An upstream fetches the set over HTTP and checks the header of a real
// request.
func TestRemoteAssertionVerifier(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, clock)
	jwksSrv := httptest.NewServer(s.JWKSHandler())
	defer jwksSrv.Close()
	av, err := NewRemoteAssertionVerifier(context.Background(), "https://strangler.test", jwksSrv.URL, JWKSOptions{}, clock.Now, nil)
	require.NoError(t, err)
	defer av.Close()

	var got TenantContext
	var verr error
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, verr = av.VerifyAssertionRequest(r)
	}))
	defer upstream.Close()

	// A key rotated in after the upstream fetched the set is found by the
	// unknown-kid refresh.
	require.NoError(t, s.Rotate(loadKey(t, "ed25519.pem")))
	tok, err := NewAssertionMinter(s, AssertionOptions{}).MintAssertion(context.Background(), testTenant)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, upstream.URL, nil)
	require.NoError(t, err)
	req.Header.Set(AssertionHeader, tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, verr)
	assert.Equal(t, testTenant.OrgID, got.OrgID)

	req.Header.Add(AssertionHeader, tok)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.ErrorIs(t, verr, ErrInvalidCredentials, "two assertion headers are refused")
}

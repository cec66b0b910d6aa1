package tenancy

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefreshAssertion: an expired assertion of this issuer comes back
// with the same claims (rid kept) and a fresh expiry, and verifies.
func TestRefreshAssertion(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, clock)
	m := NewAssertionMinter(s, AssertionOptions{BindRequestID: true})
	tok, err := m.MintAssertion(context.Background(), testTenant)
	require.NoError(t, err)
	av, err := NewAssertionVerifier("https://strangler.test", s.JWKS(), clock.Now)
	require.NoError(t, err)

	clock.Advance(10 * time.Minute)
	_, err = av.Verify(context.Background(), tok)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)

	fresh, err := m.RefreshAssertion(context.Background(), tok)
	require.NoError(t, err)
	got, err := av.Verify(context.Background(), fresh)
	require.NoError(t, err)
	assert.Equal(t, testTenant, got, "same tenant context, request id included")

	// A key rotated in since: the old assertion still refreshes (its key is
	// still published) and the new one is signed by the active key.
	require.NoError(t, s.Rotate(loadKey(t, "ed25519.pem")))
	again, err := m.RefreshAssertion(context.Background(), tok)
	require.NoError(t, err)
	_, _, err = jwt.NewParser().ParseUnverified(again, jwt.MapClaims{})
	require.NoError(t, err)
	tokHdr, _, _ := jwt.NewParser().ParseUnverified(again, jwt.MapClaims{})
	assert.Equal(t, s.ActiveKID(), tokHdr.Header["kid"])
}

// TestRefreshAssertionRefusals: nothing this issuer did not sign as an
// assertion is re-signed.
func TestRefreshAssertionRefusals(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, clock)
	m := NewAssertionMinter(s, AssertionOptions{})
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
	hs := signToken(t, jwt.SigningMethodHS256, []byte(testSecret), s.ActiveKID(), jwt.MapClaims{
		"iss": "https://strangler.test", "aud": "upstream", "exp": testEpoch.Add(time.Minute).Unix(), "org_id": "o1"})
	noneAlg := signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, s.ActiveKID(), jwt.MapClaims{
		"iss": "https://strangler.test", "aud": "upstream", "org_id": "o1"})

	for name, tok := range map[string]string{
		"access token":             access,
		"signed by an unknown key": forged,
		"another issuer":           fromEvil,
		"HS256 with the kid":       hs,
		"alg none":                 noneAlg,
		"empty":                    "",
		"garbage":                  "a.b.c",
		"tampered org":             mutatePayload(mustMint(t, s), `{"iss":"https://strangler.test","aud":"upstream","exp":9999999999,"org_id":"other"}`),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := m.RefreshAssertion(context.Background(), tok)
			require.Error(t, err)
		})
	}
}

// FuzzRefreshAssertion: no input panics, and nothing but this issuer's own
// assertions is re-signed.
func FuzzRefreshAssertion(f *testing.F) {
	clock := newTestClock()
	s := newTestSigner(f, clock)
	m := NewAssertionMinter(s, AssertionOptions{})
	own, err := m.MintAssertion(context.Background(), testTenant)
	require.NoError(f, err)
	f.Add(own)
	f.Add("a.b.c")
	f.Add("")
	f.Add(own[:len(own)-3] + "AAA")
	f.Fuzz(func(t *testing.T, tok string) {
		fresh, err := m.RefreshAssertion(context.Background(), tok)
		if err != nil {
			return
		}
		if tok != own {
			// Another valid signature of ours would need the private key.
			c := assertionClaims{}
			_, _, perr := jwt.NewParser().ParseUnverified(fresh, &c)
			require.NoError(t, perr)
			require.Equal(t, testTenant.OrgID, c.OrgID, "only our own claims come back")
		}
	})
}

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
	for name, tok := range hostileAssertions(t, clock, s) {
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

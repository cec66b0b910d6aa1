package tenancy

import (
	"context"
	"crypto"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// go test -run '^$' -bench 'Verify|Authenticate|Mint|SignAccess' -benchmem ./tenancy/

func BenchmarkVerifyHS256(b *testing.B) {
	v := newTestVerifier(b, newTestClock(), func(o *JWTVerifierOptions) { o.CacheSize = -1 }, supabaseEntry())
	tok := signToken(b, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyES256(b *testing.B) {
	srv := newJWKSServer(b)
	key := loadKey(b, "ec_p256_a.pem")
	srv.setKeys(b, map[string]crypto.Signer{"a": key})
	v := newTestVerifier(b, newTestClock(), func(o *JWTVerifierOptions) { o.CacheSize = -1 }, remoteEntry(srv.url()))
	tok := signToken(b, jwt.SigningMethodES256, key, "a", claimsFor(remoteIss))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBuiltinES256(b *testing.B) {
	clock := newTestClock()
	s, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test", Now: clock.Now}, loadKey(b, "ec_p256_a.pem"))
	require.NoError(b, err)
	v := newTestVerifier(b, clock, func(o *JWTVerifierOptions) { o.CacheSize = -1; o.Builtin = s })
	tok, _, err := s.SignAccessToken(AccessTokenClaims{UserID: "u1", SessionID: "s1", OrgID: "o1"})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	v := newTestVerifier(b, newTestClock(), nil, supabaseEntry())
	tok := signToken(b, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
	ctx := context.Background()
	_, err := v.Verify(ctx, tok)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	v := newTestVerifier(b, newTestClock(), nil, supabaseEntry())
	tok := signToken(b, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
	ctx := context.Background()
	_, err := v.Verify(ctx, tok)
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// The whole authentication step of a request with a cached token: header
// parsing, API-key shape check, cache hit.
func BenchmarkAuthenticateCachedJWT(b *testing.B) {
	v := newTestVerifier(b, newTestClock(), nil, supabaseEntry())
	a := Chain{NewJWTAuthenticator(v)}
	tok := signToken(b, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
	r := httptest.NewRequest(http.MethodGet, "/api/qa", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx := context.Background()
	_, err := a.Authenticate(ctx, r)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMintAssertionReused(b *testing.B) {
	m := NewAssertionMinter(newTestSigner(b, newTestClock()), AssertionOptions{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.MintAssertion(ctx, testTenant); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMintAssertionPerRequest(b *testing.B) {
	m := NewAssertionMinter(newTestSigner(b, newTestClock()), AssertionOptions{BindRequestID: true})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.MintAssertion(ctx, testTenant); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMintAssertionEd25519PerRequest(b *testing.B) {
	clock := newTestClock()
	s, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test", Now: clock.Now}, loadKey(b, "ed25519.pem"))
	require.NoError(b, err)
	m := NewAssertionMinter(s, AssertionOptions{BindRequestID: true})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.MintAssertion(ctx, testTenant); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignAccessToken(b *testing.B) {
	s := newTestSigner(b, newTestClock())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.SignAccessToken(AccessTokenClaims{UserID: "u1", SessionID: "s1", OrgID: "o1"}); err != nil {
			b.Fatal(err)
		}
	}
}

package tenancy

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/7cycles-ai/strangler/config"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

type jwksDoc struct {
	Keys []map[string]string `json:"keys"`
}

func parseJWKS(t *testing.T, b []byte) jwksDoc {
	t.Helper()
	var d jwksDoc
	require.NoError(t, json.Unmarshal(b, &d))
	return d
}

// RFC 8037 Appendix A.3: the thumbprint of the Ed25519 example key.
func TestJWKThumbprintRFC8037(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	require.NoError(t, err)
	jwk, err := publicJWK(ed25519.PublicKey(x))
	require.NoError(t, err)
	assert.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", jwkThumbprint(jwk))
}

func TestParseSigningKeys(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "jwt", name))
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name     string
		data     []byte
		previous int
		wantErr  string
	}{
		{"PKCS#8 P-256", read("ec_p256_a.pem"), 0, ""},
		{"SEC 1 P-256", read("ec_p256_sec1.pem"), 0, ""},
		{"Ed25519", read("ed25519.pem"), 0, ""},
		{"rotation bundle", read("rotation_bundle.pem"), 2, ""},
		{"RSA refused", read("rsa2048.pem"), 0, "not supported"},
		{"P-384 refused", read("ec_p384.pem"), 0, "P-256 only"},
		{"public key first", read("ec_p256_b.pub.pem"), 0, "must be a private key"},
		{"empty", nil, 0, "no PEM private key"},
		{"garbage", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0, "PEM block 1"},
		{"certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0, "not supported"},
		{"P-384 as a previous key", append(read("ec_p256_a.pem"), read("ec_p384.pem")...), 0, "PEM block 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			active, prev, err := ParseSigningKeys(tc.data)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, active)
			assert.Len(t, prev, tc.previous)
		})
	}
}

func TestNewSignerFromConfig(t *testing.T) {
	t.Run("key file with previous keys", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "issuer.pem")
		data, err := os.ReadFile(filepath.Join("testdata", "jwt", "rotation_bundle.pem"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		core, logs := observer.New(zap.WarnLevel)
		s, err := NewSigner(config.Issuer{Enabled: true, Issuer: "https://strangler.test", SigningKeyFile: path,
			AccessTTL: config.Duration(5 * time.Minute)}, nil, zap.New(core))
		require.NoError(t, err)
		assert.Zero(t, logs.Len(), "a private key file raises no warning")
		assert.Equal(t, 5*time.Minute, s.AccessTTL())
		doc := parseJWKS(t, s.JWKS())
		require.Len(t, doc.Keys, 3)
		assert.Equal(t, s.ActiveKID(), doc.Keys[0]["kid"], "active key first")
		for _, k := range doc.Keys {
			assert.Equal(t, "sig", k["use"])
			assert.NotEmpty(t, k["alg"])
			assert.NotContains(t, k, "d", "public keys only")
		}
		assert.Equal(t, "EdDSA", doc.Keys[2]["alg"])
		assert.Equal(t, "OKP", doc.Keys[2]["kty"])
	})
	t.Run("world-readable key file warns", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "issuer.pem")
		data, err := os.ReadFile(filepath.Join("testdata", "jwt", "ec_p256_a.pem"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o644))
		core, logs := observer.New(zap.WarnLevel)
		_, err = NewSigner(config.Issuer{Issuer: "https://strangler.test", SigningKeyFile: path}, nil, zap.New(core))
		require.NoError(t, err)
		assert.Equal(t, 1, logs.FilterMessageSnippet("readable by group or others").Len())
	})
	t.Run("generated key warns", func(t *testing.T) {
		core, logs := observer.New(zap.WarnLevel)
		s, err := NewSigner(config.Issuer{Issuer: "https://strangler.test"}, nil, zap.New(core))
		require.NoError(t, err)
		assert.Equal(t, 1, logs.FilterMessageSnippet("demo only").Len())
		assert.Equal(t, DefaultAccessTTL, s.AccessTTL())
		assert.Equal(t, "ES256", parseJWKS(t, s.JWKS()).Keys[0]["alg"])
	})
	t.Run("missing file and missing issuer", func(t *testing.T) {
		_, err := NewSigner(config.Issuer{Issuer: "https://strangler.test", SigningKeyFile: "/nonexistent/key.pem"}, nil, nil)
		require.ErrorContains(t, err, "signing_key_file")
		_, err = NewSigner(config.Issuer{}, nil, nil)
		require.ErrorContains(t, err, "auth.issuer.issuer: required")
	})
}

// A third party verifies the built-in issuer's tokens with nothing but the
// published JWK Set (keyfunc, as any Go service would).
func TestSignerTokensVerifyWithPublishedJWKS(t *testing.T) {
	clock := newTestClock()
	s, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test", Now: clock.Now}, loadKey(t, "ec_p256_a.pem"))
	require.NoError(t, err)
	srv := httptest.NewServer(s.JWKSHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Cache-Control"), "max-age=")
	post, err := http.Post(srv.URL, "text/plain", nil)
	require.NoError(t, err)
	post.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, post.StatusCode)

	tok, _, err := s.SignAccessToken(AccessTokenClaims{UserID: "u1", SessionID: "s1", OrgID: "o1"})
	require.NoError(t, err)
	kf, err := keyfunc.NewJWKSetJSON(s.JWKS())
	require.NoError(t, err)
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, kf.Keyfunc,
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(AccessTokenAudience),
		jwt.WithIssuer("https://strangler.test"), jwt.WithTimeFunc(clock.Now), jwt.WithExpirationRequired())
	require.NoError(t, err)
	assert.Equal(t, "u1", claims["sub"])
	assert.Equal(t, "s1", claims["sid"])
	assert.Equal(t, "o1", claims["org_id"])
	assert.Equal(t, "authenticated", claims["role"])
	assert.NotEmpty(t, claims["jti"])
}

func TestSignerRotationKeepsPreviousKeyUntilItsTokensExpire(t *testing.T) {
	clock := newTestClock()
	s, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test", AccessTTL: 10 * time.Minute, Now: clock.Now}, loadKey(t, "ec_p256_a.pem"))
	require.NoError(t, err)
	v := newTestVerifier(t, clock, func(o *JWTVerifierOptions) { o.Builtin = s; o.CacheSize = -1 })
	oldKID := s.ActiveKID()
	oldTok, _, err := s.SignAccessToken(AccessTokenClaims{UserID: "u1"})
	require.NoError(t, err)

	require.NoError(t, s.Rotate(loadKey(t, "ed25519.pem")))
	assert.NotEqual(t, oldKID, s.ActiveKID())
	require.Len(t, parseJWKS(t, s.JWKS()).Keys, 2, "the previous key is still published")
	_, err = v.Verify(context.Background(), oldTok)
	require.NoError(t, err, "tokens of the previous key keep working")

	// Once every token of the old key has expired (TTL + leeway), the key
	// leaves the set.
	clock.Advance(10*time.Minute + JWTLeeway + time.Second)
	doc := parseJWKS(t, s.JWKS())
	require.Len(t, doc.Keys, 1)
	assert.Equal(t, s.ActiveKID(), doc.Keys[0]["kid"])
	_, _, found := s.publicKey(oldKID)
	assert.False(t, found)
	_, err = v.Verify(context.Background(), oldTok)
	require.Error(t, err)
	newTok, _, err := s.SignAccessToken(AccessTokenClaims{UserID: "u2"})
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), newTok)
	require.NoError(t, err)

	// Rotating back to a key already held does not duplicate it.
	require.NoError(t, s.Rotate(loadKey(t, "ed25519.pem")))
	assert.Len(t, parseJWKS(t, s.JWKS()).Keys, 1)
}

func TestSignAccessTokenNeedsUser(t *testing.T) {
	s, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test"}, loadKey(t, "ec_p256_a.pem"))
	require.NoError(t, err)
	_, _, err = s.SignAccessToken(AccessTokenClaims{})
	require.Error(t, err)
}

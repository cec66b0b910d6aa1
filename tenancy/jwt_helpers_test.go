package tenancy

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/7cycles-ai/strangler/config"
	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// testSecret is an HS256 secret of the right length (32 bytes).
const testSecret = "super-secret-jwt-token-with-at-least-32-characters-long"

const supabaseIss = "https://abcdefghijklmnop.supabase.co/auth/v1"

// testEpoch is the fixed "now" of the verifier tests.
var testEpoch = time.Unix(1_750_000_000, 0)

// testClock is a settable clock shared by a verifier and its test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: testEpoch} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// loadKey reads a PKCS#8 or SEC 1 private key from testdata/jwt.
func loadKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "jwt", name))
	require.NoError(t, err)
	b, _ := pem.Decode(data)
	require.NotNil(t, b, name)
	var key any
	if b.Type == "EC PRIVATE KEY" {
		key, err = x509.ParseECPrivateKey(b.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	require.NoError(t, err, name)
	return key.(crypto.Signer)
}

// signToken signs claims with method and key, setting kid when not empty.
func signToken(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// rawToken assembles a token from raw header and payload JSON and a raw
// signature segment: for hostile tokens no library would produce.
func rawToken(header, payload, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + sig
}

// supabaseClaims is a Supabase access token's payload, valid at testEpoch.
func supabaseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":           supabaseIss,
		"sub":           "0b7f3c1e-6d1a-4f3e-9d2a-8c1b2a3d4e5f",
		"aud":           "authenticated",
		"exp":           testEpoch.Add(time.Hour).Unix(),
		"iat":           testEpoch.Add(-time.Minute).Unix(),
		"email":         "alice@acme.test",
		"phone":         "",
		"role":          "authenticated",
		"aal":           "aal1",
		"amr":           []any{map[string]any{"method": "password", "timestamp": testEpoch.Add(-time.Minute).Unix()}},
		"session_id":    "5a1c0f2e-1111-2222-3333-444455556666",
		"is_anonymous":  false,
		"app_metadata":  map[string]any{"provider": "email", "providers": []any{"email"}, "org_id": "org-from-app-metadata", "project_id": "proj-1"},
		"user_metadata": map[string]any{"org_id": "org-the-user-wrote", "full_name": "Alice"},
	}
}

// supabaseEntry is the hosted-Supabase issuer entry with the HS256 secret.
func supabaseEntry() config.JWTIssuer {
	return config.JWTIssuer{
		Name:       "supabase",
		Issuer:     supabaseIss,
		Audiences:  []string{"authenticated"},
		Algorithms: []string{"HS256"},
		Secret:     testSecret,
		Claims:     config.Claims{Subject: "sub", Email: "email", Org: "app_metadata.org_id", Project: "app_metadata.project_id"},
	}
}

func newTestVerifier(t testing.TB, clock *testClock, mutate func(*JWTVerifierOptions), issuers ...config.JWTIssuer) *JWTVerifier {
	t.Helper()
	opts := JWTVerifierOptions{Issuers: issuers, Now: clock.Now}
	if mutate != nil {
		mutate(&opts)
	}
	v, err := NewJWTVerifier(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	return v
}

// jwksServer is a real JWK Set endpoint whose keys a test changes, counting
// the requests it receives. While stalled it answers the first request and
// then holds every later one until the test ends.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jwkset.JWKMarshal
	hits    atomic.Int64
	stalled atomic.Bool
	release chan struct{}
}

func newJWKSServer(t testing.TB) *jwksServer {
	t.Helper()
	s := &jwksServer{release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.hits.Add(1)
		if s.stalled.Load() && n > 1 {
			select {
			case <-s.release:
			case <-r.Context().Done():
			}
			return
		}
		s.mu.Lock()
		doc, _ := json.Marshal(jwkset.JWKSMarshal{Keys: s.keys})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(func() {
		close(s.release)
		s.Close()
	})
	return s
}

// setKeys publishes the public halves of keys under their kids.
func (s *jwksServer) setKeys(t testing.TB, keys map[string]crypto.Signer) {
	t.Helper()
	var out []jwkset.JWKMarshal
	for kid, k := range keys {
		meta := jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}
		j, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: meta})
		require.NoError(t, err)
		out = append(out, j.Marshal())
	}
	s.mu.Lock()
	s.keys = out
	s.mu.Unlock()
}

func (s *jwksServer) url() string { return s.URL + "/auth/v1/.well-known/jwks.json" }

// mutatePayload replaces the payload segment of tok, keeping its signature.
func mutatePayload(tok string, payload string) string {
	parts := strings.Split(tok, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(payload))
	return strings.Join(parts, ".")
}

package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// FuzzVerifyToken feeds arbitrary strings to the verifier. Properties: it
// never panics; every refusal wraps ErrInvalidCredentials; and nothing but
// the exact tokens the issuers signed verifies — no mutation of a valid
// token (re-encoded base64, changed header, trailing bits) is accepted.
func FuzzVerifyToken(f *testing.F) {
	clock := newTestClock()
	// Ed25519 signatures are deterministic, so every fuzz worker process
	// derives the same valid tokens.
	signer, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.test", Now: clock.Now}, loadKey(f, "ed25519.pem"))
	require.NoError(f, err)
	selfHosted := supabaseEntry()
	selfHosted.Name, selfHosted.Issuer, selfHosted.Secret = "selfhosted", "", mixedSecret
	v := newTestVerifier(f, clock, func(o *JWTVerifierOptions) { o.Builtin = signer }, supabaseEntry(), selfHosted)

	supa := signToken(f, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
	noIss := supabaseClaims()
	delete(noIss, "iss")
	self := signToken(f, jwt.SigningMethodHS256, []byte(mixedSecret), "", noIss)
	builtin, err := signer.current().active.sign(accessTokenType, accessTokenJSON{
		Iss: "https://strangler.test", Sub: "u1", Aud: AccessTokenAudience, Exp: testEpoch.Add(DefaultAccessTTL).Unix(),
		Iat: testEpoch.Unix(), Jti: "fixed", Sid: "s1", OrgID: "o1", Role: "authenticated",
	})
	require.NoError(f, err)
	valid := map[string]bool{supa: true, self: true, builtin: true}

	payload, _ := json.Marshal(supabaseClaims())
	for _, s := range []string{
		supa, self, builtin,
		mustMint(f, signer),
		rawToken(`{"alg":"none"}`, string(payload), ""),
		rawToken(`{"alg":"HS256","kid":"x","crit":["b64"]}`, string(payload), "AAAA"),
		rawToken(`{"alg":"EdDSA","typ":"at+jwt","kid":"`+signer.ActiveKID()+`"}`, `{"iss":"https://strangler.test"}`, strings.Repeat("A", 86)),
		supa + ".", "..", "", "a.b.c", strings.Repeat(".", 100),
		mutatePayload(supa, `{"sub":"x","exp":9999999999,"aud":"authenticated","iss":"`+supabaseIss+`"}`),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		if err != nil {
			if p != nil {
				t.Fatalf("principal with error %v", err)
			}
			if !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("refusal does not wrap ErrInvalidCredentials: %v", err)
			}
			return
		}
		if p == nil || p.Subject == "" || p.Kind != PrincipalUser {
			t.Fatalf("accepted without a usable principal: %+v", p)
		}
		if !valid[raw] {
			t.Fatalf("accepted a token no issuer signed: %q", raw)
		}
	})
}

// FuzzClaimPath parses arbitrary paths and reads them from arbitrary JSON.
func FuzzClaimPath(f *testing.F) {
	for _, s := range []struct{ path, doc string }{
		{"app_metadata.org_id", `{"app_metadata":{"org_id":"o1"}}`},
		{"a.b.c.d.e.f.g.h", `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":"deep"}}}}}}}}`},
		{"user_metadata.org_id", `{"user_metadata":{"org_id":"mine"}}`},
		{"a..b", `{}`},
		{"sub", `{"sub":42}`},
		{"x", `{"x":null}`},
		{"a.b", `{"a":"not an object"}`},
		{"", `[]`},
	} {
		f.Add(s.path, []byte(s.doc))
	}
	f.Fuzz(func(t *testing.T, path string, doc []byte) {
		cp, err := parseClaimPath(path)
		if err != nil {
			return
		}
		if len(cp) > maxClaimPathDepth {
			t.Fatalf("path %q has %d segments", path, len(cp))
		}
		if len(cp) > 0 && cp[0] == userMetadataSegment {
			t.Fatalf("user_metadata path %q accepted", path)
		}
		if path != "" && cp.String() != path {
			t.Fatalf("round trip %q -> %q", path, cp.String())
		}
		var claims map[string]any
		if json.Unmarshal(doc, &claims) != nil {
			return
		}
		s, err := cp.str(claims)
		if err == nil && len(s) > maxClaimValueLen {
			t.Fatalf("value of %d bytes returned", len(s))
		}
		if err == nil && s != "" {
			v, ok := cp.lookup(claims)
			if !ok || v != s {
				t.Fatalf("str and lookup disagree")
			}
		}
	})
}

// FuzzBearerToken parses arbitrary Authorization headers.
func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc", "", false)
	f.Add("bearer  abc ", "", false)
	f.Add("Bearer a", "Bearer b", true)
	f.Add("Basic x", "", false)
	f.Add("Bearer\tabc", "", false)
	f.Fuzz(func(t *testing.T, h1, h2 string, two bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{h1}
		if two {
			r.Header["Authorization"] = append(r.Header["Authorization"], h2)
		}
		tok, ok, err := BearerToken(r)
		if err != nil {
			if !ok || !errors.Is(err, ErrInvalidCredentials) || tok != "" {
				t.Fatalf("bad error shape: ok=%v tok=%q err=%v", ok, tok, err)
			}
			return
		}
		if !ok {
			if tok != "" {
				t.Fatalf("token %q without ok", tok)
			}
			return
		}
		if two {
			t.Fatalf("two headers accepted")
		}
		if tok == "" || strings.ContainsAny(tok, " \t") || !strings.Contains(h1, tok) {
			t.Fatalf("token %q from %q", tok, h1)
		}
	})
}

// FuzzParseSigningKeys parses arbitrary key files.
func FuzzParseSigningKeys(f *testing.F) {
	for _, name := range []string{"ec_p256_a.pem", "ec_p256_sec1.pem", "ed25519.pem", "rotation_bundle.pem", "rsa2048.pem", "ec_p384.pem"} {
		b, err := os.ReadFile(filepath.Join("testdata", "jwt", name))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		active, prev, err := ParseSigningKeys(data)
		if err != nil {
			return
		}
		if _, _, err := keyAlgorithm(active.Public()); err != nil {
			t.Fatalf("active key of unsupported type accepted: %v", err)
		}
		for _, p := range prev {
			if _, _, err := keyAlgorithm(p); err != nil {
				t.Fatalf("previous key of unsupported type accepted: %v", err)
			}
		}
	})
}

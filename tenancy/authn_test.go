package tenancy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		token   string
		ok      bool
		invalid bool
	}{
		{"none", nil, "", false, false},
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", true, false},
		{"scheme case-insensitive", []string{"bEaReR abc"}, "abc", true, false},
		{"trailing space", []string{"Bearer abc  "}, "abc", true, false},
		{"basic is not ours", []string{"Basic dXNlcjpwYXNz"}, "", false, false},
		{"bare token", []string{"abc.def.ghi"}, "", false, false},
		{"bearer without value", []string{"Bearer"}, "", true, true},
		{"bearer with blank value", []string{"Bearer    "}, "", true, true},
		{"inner space", []string{"Bearer abc def"}, "", true, true},
		{"inner tab", []string{"Bearer abc\tdef"}, "", true, true},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", true, true},
		{"bearer and basic", []string{"Basic x", "Bearer b"}, "", true, true},
		{"Bearerabc", []string{"Bearerabc"}, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			tok, ok, err := BearerToken(r)
			assert.Equal(t, tc.ok, ok)
			if tc.invalid {
				require.ErrorIs(t, err, ErrInvalidCredentials)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.token, tok)
		})
	}
}

func TestChainFirstRecogniserDecides(t *testing.T) {
	calls := 0
	no := AuthenticatorFunc(func(context.Context, *http.Request) (*Principal, error) {
		calls++
		return nil, ErrNoCredentials
	})
	bad := AuthenticatorFunc(func(context.Context, *http.Request) (*Principal, error) {
		calls++
		return nil, invalidf("expired")
	})
	good := AuthenticatorFunc(func(context.Context, *http.Request) (*Principal, error) {
		calls++
		return &Principal{Kind: PrincipalUser, Subject: "u"}, nil
	})
	broken := AuthenticatorFunc(func(context.Context, *http.Request) (*Principal, error) { return nil, nil })
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	ctx := context.Background()

	p, err := Chain{no, good, bad}.Authenticate(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, "u", p.Subject)
	assert.Equal(t, 2, calls, "stops at the first recogniser")

	_, err = Chain{no, bad, good}.Authenticate(ctx, r)
	require.ErrorIs(t, err, ErrInvalidCredentials, "an invalid credential never falls through to another authenticator")

	_, err = Chain{no, no}.Authenticate(ctx, r)
	require.ErrorIs(t, err, ErrNoCredentials)
	_, err = Chain{}.Authenticate(ctx, r)
	require.ErrorIs(t, err, ErrNoCredentials)

	_, err = Chain{broken, good}.Authenticate(ctx, r)
	require.ErrorIs(t, err, ErrInvalidCredentials, "a nil principal is never anonymous")
	assert.False(t, errors.Is(err, ErrNoCredentials))
}

func TestJWTAuthenticator(t *testing.T) {
	v := newTestVerifier(t, newTestClock(), nil, supabaseEntry())
	a := NewJWTAuthenticator(v)
	valid := signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", supabaseClaims())
	tests := []struct {
		name   string
		header string
		want   error // nil: a principal
	}{
		{"valid", "Bearer " + valid, nil},
		{"no header", "", ErrNoCredentials},
		{"basic", "Basic dXNlcjpwYXNz", ErrNoCredentials},
		{"api key is left to the api-key authenticator", "Bearer sk_live_4eC39HqLyjWDarjtT1zdp7dc0123456789abcdefXYZ012", ErrNoCredentials},
		{"garbage bearer is invalid, not anonymous", "Bearer not-a-token", ErrInvalidCredentials},
		{"empty bearer", "Bearer ", ErrInvalidCredentials},
		{"expired", "Bearer " + signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", jwt.MapClaims{"sub": "x", "aud": "authenticated", "iss": supabaseIss, "exp": 1}), ErrInvalidCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/qa", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			p, err := a.Authenticate(r.Context(), r)
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, PrincipalUser, p.Kind)
				assert.Equal(t, "Bearer "+valid, r.Header.Get("Authorization"), "the header is left as is")
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, p)
		})
	}
}

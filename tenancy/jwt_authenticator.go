package tenancy

import (
	"context"
	"net/http"
	"strings"
)

// tokenVerifier is what the JWT authenticator needs from a verifier.
type tokenVerifier interface {
	Verify(ctx context.Context, raw string) (*Principal, error)
}

var _ tokenVerifier = (*JWTVerifier)(nil)

// DefaultAPIKeyBearerPrefix marks bearer values the JWT authenticator
// leaves to the API-key authenticator ("Authorization: Bearer sk_live_...").
const DefaultAPIKeyBearerPrefix = "sk_"

// JWTAuthenticator authenticates "Authorization: Bearer <jwt>".
//
// A bearer value shaped like an API key (a prefix of APIKeyPrefixes) is not
// its business: ErrNoCredentials, so the API-key authenticator later in the
// Chain takes it. Any other bearer value is judged as a JWT, so a garbage
// bearer is a 401 rather than an anonymous request.
type JWTAuthenticator struct {
	verifier tokenVerifier
	// APIKeyPrefixes are the bearer prefixes left to API keys. Default
	// DefaultAPIKeyBearerPrefix alone.
	APIKeyPrefixes []string
}

var _ Authenticator = (*JWTAuthenticator)(nil)

// NewJWTAuthenticator returns the authenticator of v.
func NewJWTAuthenticator(v *JWTVerifier) *JWTAuthenticator {
	return &JWTAuthenticator{verifier: v, APIKeyPrefixes: []string{DefaultAPIKeyBearerPrefix}}
}

// Authenticate implements Authenticator.
func (a *JWTAuthenticator) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	tok, ok, err := BearerToken(r)
	if !ok {
		return nil, ErrNoCredentials
	}
	for _, p := range a.APIKeyPrefixes {
		if strings.HasPrefix(tok, p) {
			return nil, ErrNoCredentials
		}
	}
	if err != nil {
		return nil, err
	}
	return a.verifier.Verify(ctx, tok)
}

package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Authentication outcomes. Every Authenticator returns exactly one of: a
// Principal, an error wrapping ErrNoCredentials, or an error wrapping
// ErrInvalidCredentials (or a context error when the request was cancelled).
var (
	// ErrNoCredentials: this authenticator found no credential it
	// recognises; the next one in the Chain is tried. When none recognises
	// anything the caller is anonymous, which the route may refuse (401).
	ErrNoCredentials = errors.New("no credentials")

	// ErrInvalidCredentials: a credential was recognised but is not valid
	// (bad signature, expired, revoked, malformed...). Always a 401, on
	// every route: a bad credential never falls back to anonymous.
	ErrInvalidCredentials = errors.New("invalid credentials")

	// ErrNotUserToken: a validly signed token that does not identify a user
	// (Supabase anon and service_role keys: no sub). Always wrapped together
	// with ErrInvalidCredentials, so it is a 401 too; the distinct sentinel
	// lets logs and error messages say why.
	ErrNotUserToken = errors.New("token does not identify a user")
)

// Authenticator proves who the caller of a request is. Implementations (one
// file each: JWT, API key...) declare the narrow dependencies they need.
//
// Authenticate must not read the request body and must not modify the
// request: the proxy forwards it unchanged (the client's Authorization
// header included).
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (*Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, r *http.Request) (*Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	return f(ctx, r)
}

// Chain tries authenticators in order; the first one that recognises a
// credential decides (a Principal or an invalid-credentials error). If none
// recognises anything the result is ErrNoCredentials, and the route decides
// whether anonymous callers may pass.
type Chain []Authenticator

var _ Authenticator = Chain(nil)

// Authenticate implements Authenticator.
func (c Chain) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	for _, a := range c {
		p, err := a.Authenticate(ctx, r)
		if errors.Is(err, ErrNoCredentials) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if p == nil {
			// A broken authenticator must not turn into "anonymous".
			return nil, fmt.Errorf("authenticator %T returned no principal: %w", a, ErrInvalidCredentials)
		}
		return p, nil
	}
	return nil, ErrNoCredentials
}

// invalidf returns an error wrapping ErrInvalidCredentials.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidCredentials}, args...)...)
}

// BearerToken extracts the credential of an "Authorization: Bearer <value>"
// header. ok is false when there is no Authorization header or it uses
// another scheme (Basic...): not ours to judge. A Bearer header that is
// empty, repeated or padded with inner whitespace is an invalid credential
// (err wraps ErrInvalidCredentials): two Authorization headers could be read
// differently by the proxy and by an upstream.
func BearerToken(r *http.Request) (token string, ok bool, err error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", false, nil
	}
	if len(values) > 1 {
		return "", true, invalidf("%d Authorization headers", len(values))
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, nil
	}
	token = strings.Trim(rest, " \t")
	if token == "" {
		return "", true, invalidf("empty bearer token")
	}
	if strings.IndexByte(token, ' ') >= 0 || strings.IndexByte(token, '\t') >= 0 {
		return "", true, invalidf("malformed bearer token")
	}
	return token, true, nil
}

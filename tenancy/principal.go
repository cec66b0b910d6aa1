package tenancy

import "time"

// PrincipalKind says how a caller authenticated.
type PrincipalKind uint8

// The kinds of caller. The zero value is anonymous, so a Principal that
// nobody filled in grants nothing.
const (
	// PrincipalAnonymous: no credentials were presented.
	PrincipalAnonymous PrincipalKind = iota
	// PrincipalUser: a verified user token (external issuer or built-in).
	PrincipalUser
	// PrincipalAPIKey: a verified API key.
	PrincipalAPIKey
)

// String returns "anonymous", "user" or "api_key".
func (k PrincipalKind) String() string {
	switch k {
	case PrincipalUser:
		return "user"
	case PrincipalAPIKey:
		return "api_key"
	default:
		return "anonymous"
	}
}

// BuiltinIssuerName is the Issuer of principals whose token the built-in
// issuer signed. Their Subject is a user ID of the store, so no just-in-time
// user is created for them.
const BuiltinIssuerName = "builtin"

// Principal is who the caller is, as proven by a credential. It is built on
// every request, so it stays small: the API-key part hangs off a pointer that
// is nil for tokens.
//
// A Principal returned by an Authenticator may be shared with other requests
// (the verified-token cache hands out the same pointer until the token
// expires): treat it as read-only, and copy it (p2 := *p) before enriching it.
// Authorization data comes from the issuer's signed claims only, never from
// user-editable ones (Supabase user_metadata).
type Principal struct {
	// Kind says how the caller authenticated.
	Kind PrincipalKind
	// Subject is the token's subject claim (for external issuers the
	// user's ID over there: users.external_subject), or the API key's ID.
	Subject string
	// UserID is the store's user ID when it is known without a lookup: the
	// built-in issuer's tokens (sub is the user ID) and keys created by a
	// user. Empty for external tokens until the tenant step maps Subject to
	// a user (creating it just in time).
	UserID string
	// Email is the token's email claim, when the issuer provides one.
	Email string
	// Issuer is the name of the configured issuer entry that verified the
	// token (config auth.jwt[].name, or BuiltinIssuerName). Empty for keys.
	Issuer string
	// OrgClaim and ProjectClaim are the org and project the token names
	// (auth.jwt[].claims.org/.project): one input of tenant resolution,
	// never proof of membership on their own.
	OrgClaim     string
	ProjectClaim string
	// SessionID is the token's session (sid, or Supabase's session_id). For
	// the built-in issuer it is the refresh-token family, so a route that
	// needs it can refuse tokens of a revoked session.
	SessionID string
	// AnonymousUser is true for an issuer's anonymous sign-in user (Supabase
	// is_anonymous): a real user with a subject, but one that never proved
	// an email.
	AnonymousUser bool
	// ExpiresAt is when the credential stops being valid (token exp; the
	// key's expiry, zero when it has none).
	ExpiresAt time.Time
	// Key is set for API keys only.
	Key *KeyGrant
}

// KeyGrant is what an API key grants: one org, optionally one project, a
// role cap and scopes.
type KeyGrant struct {
	// ID is the key's ID (not its secret, not its prefix).
	ID string
	// OrgID is the only org the key may act in; a request naming another
	// org is refused (403).
	OrgID string
	// ProjectID, when set, is the only project the key may act in.
	ProjectID string
	// RoleCap is the role the key acts with, whatever its creator's role.
	RoleCap Role
	// Scopes narrow the role's permissions further; empty: the role's.
	Scopes []string
}

// TenantContext is the resolved tenant of one request: what upstreams
// receive in the X-Tenant-* headers and in the signed X-Tenant-Assertion.
type TenantContext struct {
	OrgID     string
	OrgSlug   string
	ProjectID string
	// UserID is empty for API keys without a creating user and for
	// anonymous callers.
	UserID string
	Role   Role
	// RequestID is the request's X-Request-ID. The assertion carries it only
	// when the minter binds assertions to requests (AssertionOptions); by
	// default assertions are shared by the requests of one tenant context for
	// a short window and the request ID travels in X-Request-ID alone.
	RequestID string
}

package proxy

import (
	"context"
	"net/http"
)

// Mode is how requests of an (organization, route) pair are served
// (SPEC §8). It is decided per request by the ModeDecider.
type Mode string

// The four modes.
const (
	// ModeLegacy: legacy serves the client; nothing else happens.
	ModeLegacy Mode = "legacy"
	// ModeShadow: legacy serves the client; new gets a copy to compare.
	ModeShadow Mode = "shadow"
	// ModeCanary: new serves the client; legacy gets a copy to compare.
	ModeCanary Mode = "canary"
	// ModeNew: new serves the client.
	ModeNew Mode = "new"
)

// Valid reports whether m is one of the four modes.
func (m Mode) Valid() bool {
	switch m {
	case ModeLegacy, ModeShadow, ModeCanary, ModeNew:
		return true
	}
	return false
}

// Serving returns the backend that answers the client in mode m.
func (m Mode) Serving() Backend {
	if m == ModeCanary || m == ModeNew {
		return BackendNew
	}
	return BackendLegacy
}

// Backend names an upstream: the legacy service or the new one. The value is
// used as the "backend" field of logs and label of metrics.
type Backend string

// The two upstreams.
const (
	BackendLegacy Backend = "legacy"
	BackendNew    Backend = "new"
)

// TenantContext is who is calling and on behalf of which tenant. The
// Authenticator creates it, the Authorizer completes it; the proxy forwards
// it to the upstream as X-Tenant-* headers (only the non-empty fields).
type TenantContext struct {
	// OrgID is the organization id (X-Tenant-Org-ID).
	OrgID string
	// OrgSlug is the organization slug (X-Tenant-Org-Slug).
	OrgSlug string
	// ProjectID is the project id, if any (X-Tenant-Project-ID).
	ProjectID string
	// UserID is the user id, empty for API keys (X-Tenant-User-ID).
	UserID string
	// Role is owner, admin, member or viewer (X-Tenant-Role).
	Role string
	// Permissions the role (capped by an API key's scopes) grants.
	Permissions []string
	// Method tells how the caller authenticated, e.g. "jwt:supabase",
	// "api_key", "anonymous". For logs; never forwarded.
	Method string
	// Assertion is a short-lived JWT signed by the built-in issuer carrying
	// this context (X-Tenant-Assertion), so an upstream can verify it.
	Assertion string
	// Caller is the Authenticator's own proof of who is calling (for the
	// tenancy hooks a *tenancy.Principal), handed to the Authorizer with
	// this context. Never forwarded or logged.
	Caller any
}

// HasPermission reports whether the context grants perm.
func (t *TenantContext) HasPermission(perm string) bool {
	if t == nil {
		return false
	}
	for _, p := range t.Permissions {
		if p == perm {
			return true
		}
	}
	return false
}

// Authenticator identifies the caller (SPEC §6). It is called for every
// request that matched a route, whatever the route's auth policy, because
// invalid credentials are rejected on every route; the implementation reads
// route.Auth ("required", "optional", "none") to decide what missing
// credentials mean.
//
// It returns nil, nil for an anonymous caller; an error wrapping an *Error
// (ErrUnauthenticated ...) to reject the request with that status; any other
// error rejects it with 500 "internal". ctx carries the request id
// (RequestIDFromContext).
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error)
}

// Authorizer resolves the tenant (organization and project, SPEC §7) of the
// caller — caller may be nil for anonymous requests — and checks the
// route's permission. It returns the context to forward, or an error as for
// Authenticator (ErrForbidden, ErrOrgRequired ...).
type Authorizer interface {
	Authorize(ctx context.Context, r *http.Request, route *Route, caller *TenantContext) (*TenantContext, error)
}

// RequestInfo is what a ModeDecider sees of a request.
type RequestInfo struct {
	// Route is the matched route; its Name is the flag key suffix
	// ("route.<name>").
	Route *Route
	// Method is the request method.
	Method string
	// Tenant is the resolved tenant, nil for an anonymous caller without
	// a resolved organization.
	Tenant *TenantContext
}

// ModeDecider chooses the mode of a request (SPEC §8). It must answer from
// memory: it runs on every request. A value that is not a valid Mode is
// served as ModeLegacy and counted.
type ModeDecider interface {
	Decide(ctx context.Context, info RequestInfo) Mode
}

// ModeDeciderFunc adapts a function to ModeDecider.
type ModeDeciderFunc func(ctx context.Context, info RequestInfo) Mode

// Decide calls f.
func (f ModeDeciderFunc) Decide(ctx context.Context, info RequestInfo) Mode { return f(ctx, info) }

var _ ModeDecider = ModeDeciderFunc(nil)

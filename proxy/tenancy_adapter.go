package proxy

import (
	"context"
	"errors"
	"net/http"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/tenancy"
)

// TenancyAuth plugs a tenancy.AuthStack into the pipeline: it is the
// Authenticator (SPEC §5 step 3) and the Authorizer (step 4).
//
//	auth := proxy.NewTenancyAuth(stack)
//	srv, err := proxy.New(proxy.Options{Config: cfg, Authenticator: auth, Authorizer: auth})
//	auth.Mount(srv) // GET /.well-known/jwks.json
//
// Authenticate verifies whatever credential the request carries — on every
// route, auth: none included, because an invalid credential is a 401
// everywhere — and hands the caller to Authorize in TenantContext.Caller.
// Authorize resolves the organization and project (tenancy.Resolver),
// checks the route's permission and signs the X-Tenant-Assertion. On a
// route with auth: none it resolves nothing: the route is public, no
// tenant context is forwarded, and the org header cannot make it fail.
//
// Errors map to the proxy's (SPEC §5): invalid credentials and missing
// ones where needed → 401 unauthenticated; a caller who may not act in the
// org or project named, or whose role lacks the permission → 403
// forbidden; no org to choose → 400 org_required; a malformed org or
// project header → 400 bad_request; a store failure → 500 internal.
//
// State: none of its own; the stack's caches are shared between requests.
type TenancyAuth struct {
	stack                    *tenancy.AuthStack
	orgHeader, projectHeader string
	// Messages for the header errors, built once.
	badHeaderMsg, orgRequiredMsg string
}

var (
	_ Authenticator = (*TenancyAuth)(nil)
	_ Authorizer    = (*TenancyAuth)(nil)
)

// NewTenancyAuth returns the hooks of stack.
func NewTenancyAuth(stack *tenancy.AuthStack) *TenancyAuth {
	return &TenancyAuth{
		stack:          stack,
		orgHeader:      stack.OrgHeader(),
		projectHeader:  stack.ProjectHeader(),
		badHeaderMsg:   "malformed " + stack.OrgHeader() + " or " + stack.ProjectHeader() + " header: one organization or project id or slug",
		orgRequiredMsg: "an organization must be selected: send " + stack.OrgHeader(),
	}
}

// Mount serves the JWK Set that verifies X-Tenant-Assertion (and the
// built-in issuer's access tokens) at GET /.well-known/jwks.json on the
// public listener.
func (a *TenancyAuth) Mount(s *Server) {
	s.HandlePublic("GET /.well-known/jwks.json", a.stack.JWKSHandler())
}

// Authenticate implements Authenticator.
func (a *TenancyAuth) Authenticate(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error) {
	p, err := a.stack.Authenticate(ctx, r, route.Auth)
	if err != nil {
		return nil, authError(err)
	}
	if p == nil {
		return nil, nil
	}
	return &TenantContext{Method: a.stack.Method(p), Caller: p}, nil
}

// Authorize implements Authorizer.
func (a *TenancyAuth) Authorize(ctx context.Context, r *http.Request, route *Route, caller *TenantContext) (*TenantContext, error) {
	if route.Auth == config.AuthNone {
		return nil, nil
	}
	var p *tenancy.Principal
	if caller != nil {
		var ok bool
		if p, ok = caller.Caller.(*tenancy.Principal); !ok || p == nil {
			return nil, errors.New("tenancy authorizer: the caller was not authenticated by the tenancy authenticator")
		}
	}
	res, err := a.stack.Resolve(ctx, tenancy.ResolveInput{
		Principal:  p,
		Org:        r.Header[a.orgHeader],
		Project:    r.Header[a.projectHeader],
		Permission: route.Permission,
	})
	if err != nil {
		return nil, a.resolveError(err, route)
	}
	if res.Tenant.OrgID == "" {
		return nil, nil
	}
	tc := caller
	if tc == nil {
		tc = &TenantContext{Method: "anonymous"}
	}
	tc.OrgID = res.Tenant.OrgID
	tc.OrgSlug = res.Tenant.OrgSlug
	tc.ProjectID = res.Tenant.ProjectID
	tc.UserID = res.Tenant.UserID
	tc.Role = string(res.Tenant.Role)
	tc.Permissions = res.Permissions
	res.Tenant.RequestID = RequestIDFromContext(ctx)
	if tc.Assertion, err = a.stack.MintAssertion(ctx, res.Tenant); err != nil {
		return nil, err // 500: never forward a context upstreams cannot verify
	}
	return tc, nil
}

// Client-facing messages. They name no tenant, key or user: the cause is
// logged (Error.Err), never sent.
var (
	errInvalidCredentials = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "invalid credentials"}
	errNotUserToken       = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "the token does not identify a user"}
	errTenantForbidden    = &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "the caller may not act in the requested organization or project"}
)

// authError maps an authentication failure.
func authError(err error) error {
	switch {
	case errors.Is(err, tenancy.ErrNotUserToken):
		return withCause(errNotUserToken, err)
	case errors.Is(err, tenancy.ErrInvalidCredentials):
		return withCause(errInvalidCredentials, err)
	case errors.Is(err, tenancy.ErrNoCredentials):
		return withCause(ErrUnauthenticated, err)
	}
	return err
}

// resolveError maps a tenant-resolution failure.
func (a *TenancyAuth) resolveError(err error, route *Route) error {
	switch {
	case errors.Is(err, tenancy.ErrBadTenantHeader):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: a.badHeaderMsg, Err: err}
	case errors.Is(err, tenancy.ErrTenantForbidden):
		return withCause(errTenantForbidden, err)
	case errors.Is(err, tenancy.ErrPermissionDenied):
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
			Message: "the caller's role does not grant the permission " + route.Permission, Err: err}
	case errors.Is(err, tenancy.ErrOrgRequired):
		return &Error{Status: http.StatusBadRequest, Code: CodeOrgRequired, Message: a.orgRequiredMsg, Err: err}
	}
	return authError(err)
}

func withCause(e *Error, cause error) *Error {
	return &Error{Status: e.Status, Code: e.Code, Message: e.Message, Err: cause}
}

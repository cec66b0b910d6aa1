package tenancy

import (
	"context"
	"errors"
	"net/http"

	"github.com/7cycles-ai/strangler/config"
)

// caller is an authenticated caller of /auth/me, /auth/logout or the
// tenant API.
type caller struct {
	p *Principal
	// userID is the store's user ID of a user caller; "" for API keys.
	userID string
	who    actor
}

// isUser reports whether the caller is a user (not an API key).
func (c *caller) isUser() bool { return c.p.Kind == PrincipalUser }

// authenticate identifies the caller of r with the AuthStack (any of its
// credentials: a built-in or external token, an API key), refusing the
// built-in tokens of revoked sessions. No or invalid credentials: 401.
func (h *Handlers) authenticate(ctx context.Context, r *http.Request) (*caller, *apiError) {
	p, err := h.auth.Authenticate(ctx, r, config.AuthRequired)
	if e := authError(err); e != nil {
		return nil, e
	}
	if p == nil {
		return nil, errUnauthenticated("authentication required")
	}
	if err := h.revoked.Check(ctx, p); err != nil {
		return nil, errUnauthenticated("the session has ended; log in again")
	}
	c := &caller{p: p}
	switch p.Kind {
	case PrincipalAPIKey:
		if p.Key == nil {
			return nil, errUnauthenticated("invalid credentials")
		}
	case PrincipalUser:
		id, e := h.userIDOf(ctx, p)
		if e != nil {
			return nil, e
		}
		c.userID = id
	default:
		return nil, errUnauthenticated("authentication required")
	}
	c.who = actorOf(p, c.userID)
	return c, nil
}

// authError maps an authentication error to the answer.
func authError(err error) *apiError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoCredentials):
		return errUnauthenticated("authentication required")
	case errors.Is(err, ErrInvalidCredentials):
		return errUnauthenticated("invalid credentials")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, code: codeInternal, message: "request cancelled", cause: err}
	}
	return errInternal(err)
}

// userIDOf returns the store's user ID of a user principal: the built-in
// issuer's sub; for an external issuer the user of its subject — created
// just in time, by the resolver, exactly as a proxied request would.
func (h *Handlers) userIDOf(ctx context.Context, p *Principal) (string, *apiError) {
	if p.UserID != "" {
		return p.UserID, nil
	}
	if p.Subject == "" {
		return "", errUnauthenticated("invalid credentials")
	}
	u, err := h.store.GetUserByExternalSubject(ctx, p.Subject)
	if err == nil {
		return u.ID, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", errInternal(err)
	}
	// Unknown subject: resolution provisions the user (SPEC §6).
	res, err := h.auth.Resolve(ctx, ResolveInput{Principal: p})
	if err == nil && res.Tenant.UserID != "" {
		return res.Tenant.UserID, nil
	}
	if e := authError(err); e != nil && e.status == http.StatusUnauthorized {
		return "", e
	}
	if u, err = h.store.GetUserByExternalSubject(ctx, p.Subject); err == nil {
		return u.ID, nil
	}
	if errors.Is(err, ErrNotFound) {
		return "", errUnauthenticated("unknown user")
	}
	return "", errInternal(err)
}

// orgAccess is the caller's standing in one org.
type orgAccess struct {
	org   TenantContext // OrgID, OrgSlug, Role (and UserID)
	perms []string
}

func (a *orgAccess) has(perm string) bool {
	for _, p := range a.perms {
		if p == perm {
			return true
		}
	}
	return false
}

// access resolves the org named by ref (an ID or a slug) for c and checks
// perm ("" for none) — with the pipeline's resolver, so X-Organization-ID
// and /orgs/{org} agree. An org that does not exist and an org the caller
// is not a member of (or an API key of another org) get the same 404, so
// the answer reveals nothing about other tenants; a member without perm
// gets 403.
func (h *Handlers) access(ctx context.Context, c *caller, ref, perm string) (*orgAccess, *apiError) {
	res, err := h.auth.Resolve(ctx, ResolveInput{Principal: c.p, Org: []string{ref}, Permission: perm})
	switch {
	case err == nil:
	case errors.Is(err, ErrPermissionDenied):
		return nil, errForbidden("permission denied: " + perm + " is required")
	case errors.Is(err, ErrTenantForbidden), errors.Is(err, ErrBadTenantHeader), errors.Is(err, ErrOrgRequired):
		return nil, errNotFound("organization not found")
	default:
		return nil, authError(err)
	}
	if res.Tenant.OrgID == "" {
		return nil, errNotFound("organization not found")
	}
	return &orgAccess{org: res.Tenant, perms: res.Permissions}, nil
}

// storeCtx is the context of store calls made for c: PostgreSQL policies
// that use strangler.current_user_id() see the acting user.
func (c *caller) storeCtx(ctx context.Context) context.Context {
	if c.userID != "" && c.isUser() {
		return WithUserID(ctx, c.userID)
	}
	return ctx
}

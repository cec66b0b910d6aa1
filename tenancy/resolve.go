package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Outcomes of tenant resolution besides success. The proxy maps them to
// its errors: ErrTenantForbidden and ErrPermissionDenied → 403 forbidden,
// ErrOrgRequired → 400 org_required, ErrBadTenantHeader → 400
// bad_request, ErrAuthRequired → 401, ErrInvalidCredentials → 401.
var (
	// ErrTenantForbidden: the caller may not act in the org or project the
	// request names (not a member; an API key of another org or project;
	// an org or project that does not exist — the same answer, so other
	// tenants cannot be probed).
	ErrTenantForbidden = errors.New("organization or project not accessible to the caller")
	// ErrPermissionDenied: the caller's role in the org (capped by an API
	// key's scopes) lacks the route's permission.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrOrgRequired: the route needs an org and none can be chosen for the
	// caller: a user in several orgs without a default org, or a caller
	// with no membership while tenancy.default_org does not exist.
	ErrOrgRequired = errors.New("organization required")
	// ErrBadTenantHeader: the org or project header is repeated, or its
	// value is neither an ID nor a slug.
	ErrBadTenantHeader = errors.New("malformed organization or project header")
)

// ResolveInput is what tenant resolution looks at.
type ResolveInput struct {
	// Principal is the authenticated caller; nil for an anonymous one.
	Principal *Principal
	// Org and Project are the values of the tenancy.org_header and
	// tenancy.project_header request headers (r.Header[name]: nil when
	// absent). Several values are refused; an empty value counts as absent.
	Org, Project []string
	// Permission is the route's permission; empty: none needed.
	Permission string
}

// Resolution is the tenant of one request.
type Resolution struct {
	// Tenant is the context for upstreams; OrgID "" means none was
	// resolved (only on routes without a permission, when
	// tenancy.default_org does not exist): nothing is forwarded.
	Tenant TenantContext
	// Permissions is what the caller may do in Tenant.OrgID: the role's,
	// narrowed by an API key's scopes. Shared: read only.
	Permissions []string
}

// Resolver resolves the tenant of a request (SPEC §7) and checks the
// route's permission. The organization is, first match wins:
//
//  1. the org header (an ID or a slug): the caller must be a member — an
//     API key's org must be that org;
//  2. an API key's org;
//  3. the token's org claim (auth.jwt[].claims.org): the user must be a
//     member, else 403 — a claim is an input, never proof;
//  4. the user's default org (users.default_org_id); without one, the
//     membership in tenancy.default_org, else the only membership, else
//     (several) ErrOrgRequired;
//  5. tenancy.default_org for anonymous callers and for users with no
//     membership at all (today's clients are the default org), with no
//     role: such callers pass routes without a permission only.
//
// The project is the project header's (an ID or slug of a project of the
// org, else 403), else the API key's, else the token's project claim when
// it names a project of the org (a claim naming another is ignored: it
// grants nothing). A key bound to a project refuses any other (403).
//
// Decisions that SPEC leaves open:
//
//   - Platform admins get no implicit access to orgs on the public
//     listener: like anyone, they must be members. Their cross-org power is
//     the admin API, which authenticates and audits separately.
//   - Anonymous callers naming an org, and anonymous callers on a route
//     with a permission, get 401 (authenticate), not 403.
//   - Project roles do not change the org role: the org role decides.
//
// Every lookup goes through the authentication caches; a miss reads the
// store once (concurrent misses of one key share the read).
type Resolver struct {
	store      Store
	caches     *authCaches
	roles      *RolePermissions
	defaultOrg string // slug
	jit        *jitProvisioner
	now        func() time.Time
	log        *zap.Logger
}

// Resolve returns the tenant of in, or one of the errors above (or a store
// error, wrapped, when a lookup failed: a 500, never a guess).
func (rs *Resolver) Resolve(ctx context.Context, in ResolveInput) (Resolution, error) {
	orgRef, err := headerRef(in.Org)
	if err != nil {
		return Resolution{}, err
	}
	projRef, err := headerRef(in.Project)
	if err != nil {
		return Resolution{}, err
	}
	var res Resolution
	switch p := in.Principal; {
	case p == nil:
		res, err = rs.resolveAnonymous(ctx, orgRef, projRef, in.Permission)
	case p.Kind == PrincipalAPIKey && p.Key != nil:
		res, err = rs.resolveKey(ctx, p, orgRef, projRef)
	case p.Kind == PrincipalUser:
		res, err = rs.resolveUser(ctx, p, orgRef, projRef, in.Permission)
	default:
		return Resolution{}, invalidf("principal of kind %s without its grant", p.Kind)
	}
	if err != nil {
		return Resolution{}, err
	}
	if in.Permission != "" && !slices.Contains(res.Permissions, in.Permission) {
		if in.Principal == nil {
			return Resolution{}, ErrAuthRequired
		}
		return Resolution{}, fmt.Errorf("%w: %s", ErrPermissionDenied, in.Permission)
	}
	return res, nil
}

func (rs *Resolver) resolveAnonymous(ctx context.Context, orgRef, projRef, perm string) (Resolution, error) {
	if orgRef != "" {
		return Resolution{}, fmt.Errorf("%w: the request names an organization", ErrAuthRequired)
	}
	if perm != "" {
		return Resolution{}, ErrAuthRequired
	}
	org, err := rs.orgBySlug(ctx, rs.defaultOrg)
	if err != nil {
		return Resolution{}, err
	}
	if org == nil {
		if projRef != "" {
			return Resolution{}, fmt.Errorf("%w: tenancy.default_org %q does not exist", ErrOrgRequired, rs.defaultOrg)
		}
		return Resolution{}, nil // nothing to forward: as before the proxy
	}
	res := Resolution{Tenant: TenantContext{OrgID: org.id, OrgSlug: org.slug}}
	if projRef != "" {
		if res.Tenant.ProjectID, err = rs.requireProject(ctx, org.id, projRef); err != nil {
			return Resolution{}, err
		}
	}
	return res, nil
}

func (rs *Resolver) resolveKey(ctx context.Context, p *Principal, orgRef, projRef string) (Resolution, error) {
	g := p.Key
	org, err := rs.orgByID(ctx, g.OrgID)
	if err != nil {
		return Resolution{}, err
	}
	if org == nil {
		// Deleting an org deletes its keys; a cached key may lag by a
		// change notification.
		return Resolution{}, invalidf("api key %s: its organization no longer exists", g.ID)
	}
	if orgRef != "" && !org.matches(orgRef) {
		return Resolution{}, fmt.Errorf("%w: the api key belongs to another organization", ErrTenantForbidden)
	}
	res := Resolution{
		Tenant: TenantContext{OrgID: org.id, OrgSlug: org.slug, UserID: p.UserID, Role: g.RoleCap},
	}
	res.Permissions = rs.keyPermissions(p)
	switch {
	case projRef != "":
		pid, err := rs.requireProject(ctx, org.id, projRef)
		if err != nil {
			return Resolution{}, err
		}
		if g.ProjectID != "" && pid != g.ProjectID {
			return Resolution{}, fmt.Errorf("%w: the api key is bound to another project", ErrTenantForbidden)
		}
		res.Tenant.ProjectID = pid
	case g.ProjectID != "":
		res.Tenant.ProjectID = g.ProjectID
	}
	return res, nil
}

// keyPermissions returns the effective permissions of a key principal,
// shared from the key's cached record when it is the one that produced p.
func (rs *Resolver) keyPermissions(p *Principal) []string {
	if rec, ok := rs.caches.keyByID.get(p.Key.ID, rs.now().UnixNano()); ok && rec.principal == p {
		return rec.perms
	}
	return rs.roles.Effective(p.Key.RoleCap, p.Key.Scopes)
}

func (rs *Resolver) resolveUser(ctx context.Context, p *Principal, orgRef, projRef, perm string) (Resolution, error) {
	userID, err := rs.userID(ctx, p)
	if err != nil {
		return Resolution{}, err
	}
	var (
		org  *orgRecord
		role Role
	)
	switch {
	case orgRef != "":
		if org, role, err = rs.memberOrg(ctx, userID, orgRef, "the organization named by the request"); err != nil {
			return Resolution{}, err
		}
	case p.OrgClaim != "":
		if org, role, err = rs.memberOrg(ctx, userID, p.OrgClaim, "the organization named by the token"); err != nil {
			return Resolution{}, err
		}
	default:
		if org, role, err = rs.defaultOrgOf(ctx, userID); err != nil {
			return Resolution{}, err
		}
		if org == nil {
			if perm != "" || projRef != "" {
				return Resolution{}, fmt.Errorf("%w: no membership and tenancy.default_org %q does not exist", ErrOrgRequired, rs.defaultOrg)
			}
			return Resolution{}, nil
		}
	}
	res := Resolution{
		Tenant:      TenantContext{OrgID: org.id, OrgSlug: org.slug, UserID: userID, Role: role},
		Permissions: rs.roles.Permissions(role),
	}
	switch {
	case projRef != "":
		if res.Tenant.ProjectID, err = rs.requireProject(ctx, org.id, projRef); err != nil {
			return Resolution{}, err
		}
	case p.ProjectClaim != "":
		if ref, ok := normRef(p.ProjectClaim); ok {
			pid, err := rs.project(ctx, org.id, ref)
			if err != nil {
				return Resolution{}, err
			}
			res.Tenant.ProjectID = pid // "" when not a project of this org
		}
	}
	return res, nil
}

// memberOrg resolves ref to an org the user belongs to.
func (rs *Resolver) memberOrg(ctx context.Context, userID, ref, what string) (*orgRecord, Role, error) {
	org, err := rs.orgByRef(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	if org == nil {
		return nil, "", fmt.Errorf("%w: %s", ErrTenantForbidden, what)
	}
	role, err := rs.membership(ctx, org.id, userID)
	if err != nil {
		return nil, "", err
	}
	if role == "" {
		return nil, "", fmt.Errorf("%w: not a member of %s", ErrTenantForbidden, what)
	}
	return org, role, nil
}

// defaultOrgOf picks the org of a user whose request names none. A nil org
// with a nil error means: no membership and no tenancy.default_org.
func (rs *Resolver) defaultOrgOf(ctx context.Context, userID string) (*orgRecord, Role, error) {
	u, err := rs.user(ctx, userID)
	if err != nil {
		return nil, "", err
	}
	if u.defaultOrgID != "" {
		role, err := rs.membership(ctx, u.defaultOrgID, userID)
		if err != nil {
			return nil, "", err
		}
		if role != "" {
			org, err := rs.orgByID(ctx, u.defaultOrgID)
			if err != nil || org != nil {
				return org, role, err
			}
		}
	}
	switch len(u.memberships) {
	case 0:
		// No membership: tenancy.default_org, no role (SPEC §7).
		org, err := rs.orgBySlug(ctx, rs.defaultOrg)
		return org, "", err
	case 1:
		m := u.memberships[0]
		org, err := rs.orgByID(ctx, m.OrgID)
		return org, m.Role, err
	}
	for _, m := range u.memberships {
		if m.OrgSlug == rs.defaultOrg {
			org, err := rs.orgByID(ctx, m.OrgID)
			return org, m.Role, err
		}
	}
	return nil, "", fmt.Errorf("%w: the user belongs to %d organizations and has no default", ErrOrgRequired, len(u.memberships))
}

// ---- header values ----

// maxRefLen bounds an org or project reference: a UUID is 36 bytes, a slug
// at most 63.
const maxRefLen = 64

// headerRef returns the one reference of a tenant header: "" when absent
// or empty, the normalised reference, or ErrBadTenantHeader.
func headerRef(vals []string) (string, error) {
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", fmt.Errorf("%w: %d values", ErrBadTenantHeader, len(vals))
	}
	v := strings.Trim(vals[0], " \t")
	if v == "" {
		return "", nil
	}
	ref, ok := normRef(v)
	if !ok {
		return "", ErrBadTenantHeader
	}
	return ref, nil
}

// normRef returns an org or project reference in canonical form: a UUID
// lower-cased, or a slug lower-cased. Slugs are ^[a-z0-9][a-z0-9_-]{0,62}$
// and never shaped like a UUID (migration 001), so the two cannot be
// confused. It does not allocate for references already in canonical form.
func normRef(v string) (string, bool) {
	if len(v) == 0 || len(v) > maxRefLen {
		return "", false
	}
	if len(v) == 36 {
		if id, ok := canonicalID(v); ok {
			return id, true
		}
	}
	lower := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			lower = false
		case (c == '-' || c == '_') && i > 0:
		default:
			return "", false
		}
	}
	if len(v) > 63 {
		return "", false
	}
	if !lower {
		v = strings.ToLower(v)
	}
	return v, true
}

// isIDRef reports whether a normalised reference is an ID (not a slug).
func isIDRef(ref string) bool { return len(ref) == 36 && isCanonicalUUID(ref) }

func (o *orgRecord) matches(ref string) bool {
	if isIDRef(ref) {
		return ref == o.id
	}
	return ref == o.slug
}

// ---- cached lookups ----

func (rs *Resolver) orgByRef(ctx context.Context, ref string) (*orgRecord, error) {
	ref, ok := normRef(ref)
	if !ok {
		return nil, nil
	}
	if isIDRef(ref) {
		return rs.orgByID(ctx, ref)
	}
	return rs.orgBySlug(ctx, ref)
}

// orgByID returns the org, or nil when there is none.
func (rs *Resolver) orgByID(ctx context.Context, id string) (*orgRecord, error) {
	if o, ok := rs.caches.orgByID.get(id, rs.now().UnixNano()); ok {
		return o, nil
	}
	return rs.loadOrg(ctx, rs.caches.orgByID, "i:"+id, id, rs.store.GetOrg)
}

// orgBySlug returns the org, or nil when there is none.
func (rs *Resolver) orgBySlug(ctx context.Context, slug string) (*orgRecord, error) {
	if o, ok := rs.caches.orgBySlg.get(slug, rs.now().UnixNano()); ok {
		return o, nil
	}
	return rs.loadOrg(ctx, rs.caches.orgBySlg, "s:"+slug, slug, rs.store.GetOrgBySlug)
}

// loadOrg reads an org missing from cache (by the key load takes) and
// caches it under both its ID and its slug, or caches its absence.
func (rs *Resolver) loadOrg(ctx context.Context, cache *authCache[string, *orgRecord], flightKey, key string,
	load func(context.Context, string) (Org, error)) (*orgRecord, error) {
	c := rs.caches
	return c.orgFlight.do(ctx, flightKey, func(ctx context.Context) (*orgRecord, error) {
		epoch := c.epoch.Load()
		o, err := load(ctx, key)
		t := rs.now()
		if errors.Is(err, ErrNotFound) {
			cache.put(key, nil, t.UnixNano(), c.expiry(t, c.opts.NegativeTTL), epoch)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up organization: %w", err)
		}
		rec := &orgRecord{id: o.ID, slug: o.Slug}
		exp := c.expiry(t, c.opts.OrgTTL)
		c.orgByID.put(o.ID, rec, t.UnixNano(), exp, epoch)
		c.orgBySlg.put(o.Slug, rec, t.UnixNano(), exp, epoch)
		return rec, nil
	})
}

// membership returns the user's role in the org, "" when not a member.
func (rs *Resolver) membership(ctx context.Context, orgID, userID string) (Role, error) {
	c := rs.caches
	k := memberKey{orgID, userID}
	if m, ok := c.members.get(k, rs.now().UnixNano()); ok {
		return m.role, nil
	}
	m, err := c.memberFlight.do(ctx, k, func(ctx context.Context) (memberRecord, error) {
		epoch := c.epoch.Load()
		ms, err := rs.store.GetMembership(ctx, orgID, userID)
		t := rs.now()
		switch {
		case errors.Is(err, ErrNotFound):
			ms.Role = ""
		case err != nil:
			return memberRecord{}, fmt.Errorf("look up membership: %w", err)
		}
		rec := memberRecord{role: ms.Role}
		// "Not a member" is announced when it changes (every membership
		// change, additions included): the normal TTL applies.
		c.members.put(k, rec, t.UnixNano(), c.expiry(t, c.opts.MembershipTTL), epoch)
		return rec, nil
	})
	return m.role, err
}

// user returns the user's default org and memberships. A user that does
// not exist (a built-in token outliving its user) is an invalid credential.
func (rs *Resolver) user(ctx context.Context, userID string) (*userRecord, error) {
	c := rs.caches
	if u, ok := c.users.get(userID, rs.now().UnixNano()); ok {
		return u, nil
	}
	return c.userFlight.do(ctx, userID, func(ctx context.Context) (*userRecord, error) {
		epoch := c.epoch.Load()
		u, err := rs.store.GetUser(ctx, userID)
		if errors.Is(err, ErrNotFound) {
			return nil, invalidf("user %s does not exist", userID)
		}
		if err != nil {
			return nil, fmt.Errorf("look up user: %w", err)
		}
		ms, err := rs.store.ListUserMemberships(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("list memberships: %w", err)
		}
		t := rs.now()
		rec := &userRecord{id: u.ID, defaultOrgID: u.DefaultOrgID, memberships: ms}
		c.users.put(userID, rec, t.UnixNano(), c.expiry(t, c.opts.UserTTL), epoch)
		return rec, nil
	})
}

// requireProject resolves a project reference the request names: a
// project of another org or none at all is ErrTenantForbidden.
func (rs *Resolver) requireProject(ctx context.Context, orgID, ref string) (string, error) {
	pid, err := rs.project(ctx, orgID, ref)
	if err != nil {
		return "", err
	}
	if pid == "" {
		return "", fmt.Errorf("%w: no such project in the organization", ErrTenantForbidden)
	}
	return pid, nil
}

// project returns the ID of the org's project ref (ID or slug), "" when
// the org has no such project.
func (rs *Resolver) project(ctx context.Context, orgID, ref string) (string, error) {
	c := rs.caches
	k := projectKey{orgID, ref}
	if pid, ok := c.projects.get(k, rs.now().UnixNano()); ok {
		return pid, nil
	}
	return c.projectFlight.do(ctx, k, func(ctx context.Context) (string, error) {
		epoch := c.epoch.Load()
		var (
			p   Project
			err error
		)
		if isIDRef(ref) {
			p, err = rs.store.GetProject(ctx, orgID, ref)
		} else {
			p, err = rs.store.GetProjectBySlug(ctx, orgID, ref)
		}
		t := rs.now()
		if errors.Is(err, ErrNotFound) {
			c.projects.put(k, "", t.UnixNano(), c.expiry(t, c.opts.NegativeTTL), epoch)
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("look up project: %w", err)
		}
		c.projects.put(k, p.ID, t.UnixNano(), c.expiry(t, c.opts.OrgTTL), epoch)
		return p.ID, nil
	})
}

package tenancy

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"

	"go.uber.org/zap"
)

// Tenant management API (SPEC §7). Permissions (tenancy.roles) per route:
//
//	GET    /orgs                                  any caller: the orgs it belongs to
//	POST   /orgs                                  users: a new org they own
//	GET    /orgs/{org}                            read
//	PATCH  /orgs/{org}                            org.manage
//	DELETE /orgs/{org}                            org.manage
//	GET    /orgs/{org}/projects[/{project}]       read
//	POST   /orgs/{org}/projects                   projects.manage
//	PATCH  /orgs/{org}/projects/{project}         projects.manage
//	DELETE /orgs/{org}/projects/{project}         projects.manage
//	GET    /orgs/{org}/members                    read (pending invitations: members.manage)
//	POST   /orgs/{org}/members                    members.manage
//	PATCH  /orgs/{org}/members/{user}             members.manage
//	DELETE /orgs/{org}/members/{user}             members.manage, or the member leaving
//	DELETE /orgs/{org}/invitations/{id}           members.manage
//	GET    /orgs/{org}/api-keys                   keys.manage
//	POST   /orgs/{org}/api-keys                   keys.manage
//	DELETE /orgs/{org}/api-keys/{id}              keys.manage
//
// {org} and {project} are IDs or slugs; {user} a user ID or an email; {id}
// an ID. An org the caller cannot see — missing, another tenant's, or an API
// key's other org — is 404 not_found, exactly like a missing one; so is a
// project, member or key that is not the org's. A member lacking the
// permission gets 403.
//
// Nobody grants more than they hold: roles given to members and to API
// keys rank at most the caller's own role, a key's permissions are a
// subset of the caller's, and members ranking above the caller cannot be
// changed or removed by it. The last owner cannot leave or be demoted (409).
// Every change writes an audit entry.

// Permissions the tenant API checks.
const (
	permRead           = "read"
	permOrgManage      = "org.manage"
	permProjectsManage = "projects.manage"
	permMembersManage  = "members.manage"
	permKeysManage     = "keys.manage"
)

func (h *Handlers) registerTenantAPI(mount func(string, http.Handler)) {
	for _, rt := range []struct {
		pattern string
		fn      http.HandlerFunc
	}{
		{"GET /orgs", h.listOrgs},
		{"POST /orgs", h.postOrg},
		{"GET /orgs/{org}", h.getOrg},
		{"PATCH /orgs/{org}", h.patchOrg},
		{"DELETE /orgs/{org}", h.deleteOrg},
		{"GET /orgs/{org}/projects", h.listProjects},
		{"POST /orgs/{org}/projects", h.postProject},
		{"GET /orgs/{org}/projects/{project}", h.getProject},
		{"PATCH /orgs/{org}/projects/{project}", h.patchProject},
		{"DELETE /orgs/{org}/projects/{project}", h.deleteProject},
		{"GET /orgs/{org}/members", h.listMembers},
		{"POST /orgs/{org}/members", h.postMember},
		{"PATCH /orgs/{org}/members/{user}", h.patchMember},
		{"DELETE /orgs/{org}/members/{user}", h.deleteMember},
		{"DELETE /orgs/{org}/invitations/{id}", h.deleteInvitation},
		{"GET /orgs/{org}/api-keys", h.listKeys},
		{"POST /orgs/{org}/api-keys", h.postKey},
		{"DELETE /orgs/{org}/api-keys/{id}", h.deleteKey},
	} {
		mount(rt.pattern, rt.fn)
	}
}

// orgRequest is the body of POST /orgs.
type orgRequest struct {
	Name string `json:"name"`
	// Slug default: derived from Name.
	Slug string `json:"slug"`
}

func parseOrgCreate(body []byte) (orgRequest, *apiError) {
	req, e := decodeStrict[orgRequest](body)
	if e != nil {
		return req, e
	}
	if req.Name, e = normalizeName("name", req.Name); e != nil {
		return req, e
	}
	if req.Slug != "" {
		if e = checkSlug("slug", req.Slug); e != nil {
			return req, e
		}
	}
	return req, nil
}

// patchRequest is the body of PATCH /orgs/{org} and of a project: absent
// members stay as they are.
type patchRequest struct {
	Name *string `json:"name"`
	Slug *string `json:"slug"`
}

func parsePatch(body []byte) (patchRequest, *apiError) {
	req, e := decodeStrict[patchRequest](body)
	if e != nil {
		return req, e
	}
	if req.Name == nil && req.Slug == nil {
		return req, badRequest("", "nothing to change: give name and/or slug")
	}
	if req.Name != nil {
		n, e := normalizeName("name", *req.Name)
		if e != nil {
			return req, e
		}
		req.Name = &n
	}
	if req.Slug != nil {
		if e = checkSlug("slug", *req.Slug); e != nil {
			return req, e
		}
	}
	return req, nil
}

// orgView is an org as the API shows it, with the caller's role.
type orgView struct {
	Org
	Role Role `json:"role,omitempty"`
}

// listOrgs lists the orgs the caller belongs to (an API key: its own).
func (h *Handlers) listOrgs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, e := h.authenticate(ctx, r)
	if e != nil {
		h.fail(w, r, e)
		return
	}
	out := []orgView{}
	if !c.isUser() {
		o, err := h.store.GetOrg(ctx, c.p.Key.OrgID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			h.fail(w, r, errInternal(err))
			return
		}
		if err == nil {
			out = append(out, orgView{Org: o, Role: c.p.Key.RoleCap})
		}
		writeJSON(w, http.StatusOK, map[string]any{"orgs": out})
		return
	}
	sctx := c.storeCtx(ctx)
	ms, err := h.store.ListUserMemberships(sctx, c.userID)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	for _, m := range ms {
		o, err := h.store.GetOrg(sctx, m.OrgID)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			h.fail(w, r, errInternal(err))
			return
		}
		out = append(out, orgView{Org: o, Role: m.Role})
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": out})
}

// postOrg creates an org owned by the calling user.
func (h *Handlers) postOrg(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, e := h.authenticate(ctx, r)
	if e != nil {
		h.fail(w, r, e)
		return
	}
	req, ok := decodeBody(h, w, r, parseOrgCreate)
	if !ok {
		return
	}
	if !c.isUser() {
		h.fail(w, r, errForbidden("API keys cannot create organizations"))
		return
	}
	o, e := h.createOrg(ctx, r, c, req.Name, req.Slug)
	if e != nil {
		h.fail(w, r, e)
		return
	}
	writeJSON(w, http.StatusCreated, orgView{Org: o, Role: RoleOwner})
}

// createOrg creates an org owned by c's user; an empty slug is derived from
// name (with a random suffix when taken). The user's default org becomes
// the new one when it had none.
func (h *Handlers) createOrg(ctx context.Context, r *http.Request, c *caller, name, slug string) (Org, *apiError) {
	sctx := c.storeCtx(ctx)
	candidates := []string{slug}
	if slug == "" {
		base := trimSlug(slugify(name), 50)
		if checkSlug("", base) != nil { // too short, or shaped like a UUID
			base = trimSlug("org-"+base, 50)
		}
		candidates = []string{base}
		for i := 0; i < 4; i++ {
			candidates = append(candidates, base+"-"+randomSuffix(6))
		}
	}
	var (
		o   Org
		err error
	)
	for _, s := range candidates {
		o, err = h.store.CreateOrg(sctx, Org{Slug: s, Name: name}, c.userID)
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	switch {
	case errors.Is(err, ErrConflict):
		return Org{}, errConflict("slug", "slug: already taken")
	case errors.Is(err, ErrInvalid):
		return Org{}, badRequest("slug", "not accepted")
	case err != nil:
		return Org{}, errInternal(err)
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: o.ID, action: AuditOrgCreate, targetType: auditTargetOrg, targetID: o.ID, after: o})
	if u, err := h.store.GetUser(sctx, c.userID); err == nil && u.DefaultOrgID == "" {
		if err := h.store.SetDefaultOrg(sctx, c.userID, o.ID); err != nil {
			h.log.Warn("setting the default org failed", zap.String("user_id", c.userID), zap.Error(err))
		}
	}
	return o, nil
}

// getOrg shows one org [read].
func (h *Handlers) getOrg(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permRead)
	if !ok {
		return
	}
	o, err := h.store.GetOrg(c.storeCtx(r.Context()), a.org.OrgID)
	if err != nil {
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	writeJSON(w, http.StatusOK, orgView{Org: o, Role: a.org.Role})
}

// patchOrg renames an org or changes its slug [org.manage].
func (h *Handlers) patchOrg(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permOrgManage)
	if !ok {
		return
	}
	req, ok := decodeBody(h, w, r, parsePatch)
	if !ok {
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	before, err := h.store.GetOrg(sctx, a.org.OrgID)
	if err != nil {
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	after, err := h.store.UpdateOrg(sctx, a.org.OrgID, OrgPatch{Slug: req.Slug, Name: req.Name})
	switch {
	case errors.Is(err, ErrConflict):
		h.fail(w, r, errConflict("slug", "slug: already taken"))
		return
	case err != nil:
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: after.ID, action: AuditOrgUpdate, targetType: auditTargetOrg,
		targetID: after.ID, before: before, after: after})
	writeJSON(w, http.StatusOK, orgView{Org: after, Role: a.org.Role})
}

// deleteOrg deletes an org and everything it owns [org.manage].
func (h *Handlers) deleteOrg(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permOrgManage)
	if !ok {
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	before, err := h.store.GetOrg(sctx, a.org.OrgID)
	if err != nil {
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	if err := h.store.DeleteOrg(sctx, a.org.OrgID); err != nil {
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: before.ID, action: AuditOrgDelete, targetType: auditTargetOrg,
		targetID: before.ID, before: before})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// orgCaller authenticates r's caller and resolves {org} with perm. On
// failure it has answered.
func (h *Handlers) orgCaller(w http.ResponseWriter, r *http.Request, perm string) (*caller, *orgAccess, bool) {
	ctx := r.Context()
	c, e := h.authenticate(ctx, r)
	if e != nil {
		h.fail(w, r, e)
		return nil, nil, false
	}
	a, e := h.access(ctx, c, r.PathValue("org"), perm)
	if e != nil {
		h.fail(w, r, e)
		return nil, nil, false
	}
	return c, a, true
}

// notFoundOr maps ErrNotFound to a 404 with msg, anything else to 500.
func notFoundOr(err error, msg string) *apiError {
	if errors.Is(err, ErrNotFound) {
		return errNotFound(msg)
	}
	return errInternal(err)
}

// trimSlug cuts a derived slug to n characters without a trailing '-'.
func trimSlug(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	for len(s) > 0 && s[len(s)-1] == '-' {
		s = s[:len(s)-1]
	}
	return s
}

// randomSuffix returns n random characters of [a-z0-9].
func randomSuffix(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

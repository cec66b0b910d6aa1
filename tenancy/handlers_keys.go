package tenancy

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxKeyScopes bounds the scopes of one API key.
const maxKeyScopes = 32

// keyRequest is the body of POST /orgs/{org}/api-keys.
type keyRequest struct {
	Name string `json:"name"`
	// Role caps what the key may do (at most the caller's role).
	Role string `json:"role"`
	// Scopes narrow the role's permissions; empty: all of them.
	Scopes []string `json:"scopes"`
	// Project binds the key to one project (ID or slug).
	Project string `json:"project"`
	// ExpiresAt (RFC 3339) ends the key; empty: no expiry.
	ExpiresAt string `json:"expires_at"`
}

// keyInput is a validated keyRequest (the project still a reference).
type keyInput struct {
	name      string
	role      Role
	scopes    []string
	project   string
	expiresAt time.Time
}

// parseKeyCreate decodes and validates the form of a key request; the
// handler checks scopes against the roles, the project against the org
// and the expiry against the clock.
func parseKeyCreate(body []byte) (keyInput, *apiError) {
	req, e := decodeStrict[keyRequest](body)
	if e != nil {
		return keyInput{}, e
	}
	var in keyInput
	if in.name, e = normalizeName("name", req.Name); e != nil {
		return keyInput{}, e
	}
	if in.role, e = checkRole("role", req.Role); e != nil {
		return keyInput{}, e
	}
	if len(req.Scopes) > maxKeyScopes {
		return keyInput{}, badRequest("scopes", "at most %d scopes", maxKeyScopes)
	}
	for i, s := range req.Scopes {
		field := fmt.Sprintf("scopes[%d]", i)
		if s == "" || len(s) > 64 {
			return keyInput{}, badRequest(field, "must be a permission name")
		}
		if slices.Contains(req.Scopes[:i], s) {
			return keyInput{}, badRequest(field, "given more than once")
		}
	}
	in.scopes = cloneStrings(req.Scopes)
	if req.Project != "" {
		ref, ok := normRef(req.Project)
		if !ok {
			return keyInput{}, badRequest("project", "must be a project ID or slug")
		}
		in.project = ref
	}
	if req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			return keyInput{}, badRequest("expires_at", "must be an RFC 3339 time")
		}
		in.expiresAt = t.UTC()
	}
	return in, nil
}

// listKeys lists the org's API keys, newest first, revoked ones included —
// by prefix: the secret is never shown again [keys.manage].
func (h *Handlers) listKeys(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permKeysManage)
	if !ok {
		return
	}
	ks, err := h.store.ListAPIKeys(c.storeCtx(r.Context()), a.org.OrgID)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": ks})
}

// keyCreated is the answer of POST /orgs/{org}/api-keys: the only time the
// secret is shown.
type keyCreated struct {
	APIKey APIKey `json:"api_key"`
	Secret string `json:"secret"`
}

// postKey creates an API key [keys.manage]. The key's role ranks at most
// the caller's, its scopes are permissions of that role, and everything it
// grants the caller holds (an API key cannot mint a wider key).
func (h *Handlers) postKey(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permKeysManage)
	if !ok {
		return
	}
	in, ok := decodeBody(h, w, r, parseKeyCreate)
	if !ok {
		return
	}
	if in.role.Rank() > a.org.Role.Rank() {
		h.fail(w, r, errForbidden("cannot create a key with a role above your own ("+string(a.org.Role)+")"))
		return
	}
	for i, s := range in.scopes {
		if !h.roles.Has(in.role, s) {
			h.fail(w, r, badRequest(fmt.Sprintf("scopes[%d]", i), "%q is not a permission of role %s", s, in.role))
			return
		}
	}
	for _, p := range h.roles.Effective(in.role, in.scopes) {
		if !a.has(p) {
			h.fail(w, r, errForbidden("cannot create a key with permission "+p+", which you do not hold"))
			return
		}
	}
	if !in.expiresAt.IsZero() && !in.expiresAt.After(h.now()) {
		h.fail(w, r, badRequest("expires_at", "must be in the future"))
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	projectID := ""
	if in.project != "" {
		p, e := h.project(sctx, a.org.OrgID, in.project)
		if e != nil {
			h.fail(w, r, badRequest("project", "no such project in this organization"))
			return
		}
		projectID = p.ID
	}
	secret, prefix, hash := GenerateAPIKey()
	k, err := h.store.CreateAPIKey(sctx, APIKey{
		OrgID: a.org.OrgID, ProjectID: projectID, Name: in.name, Prefix: prefix, Hash: hash,
		Role: in.role, Scopes: in.scopes, CreatedBy: c.userID, ExpiresAt: in.expiresAt,
	})
	switch {
	case errors.Is(err, ErrInvalid):
		h.fail(w, r, badRequest("", "the key was refused: %s", strings.TrimPrefix(err.Error(), "create api key: ")))
		return
	case err != nil:
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: k.OrgID, action: AuditAPIKeyCreate, targetType: auditTargetAPIKey,
		targetID: k.ID, after: k})
	writeJSON(w, http.StatusCreated, keyCreated{APIKey: k, Secret: secret})
}

// deleteKey revokes an API key [keys.manage]; it stops working on every
// replica within a second. Revoking a revoked key is a 204 that changes
// (and audits) nothing.
func (h *Handlers) deleteKey(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permKeysManage)
	if !ok {
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	id, valid := canonicalID(strings.ToLower(r.PathValue("id")))
	if !valid {
		h.fail(w, r, errNotFound("api key not found"))
		return
	}
	before, err := h.store.GetAPIKey(sctx, a.org.OrgID, id)
	if err != nil {
		h.fail(w, r, notFoundOr(err, "api key not found"))
		return
	}
	if before.RevokedAt.IsZero() {
		after, err := h.store.RevokeAPIKey(sctx, a.org.OrgID, id)
		if err != nil {
			h.fail(w, r, notFoundOr(err, "api key not found"))
			return
		}
		h.audit.record(ctx, r, c.who, auditEvent{orgID: a.org.OrgID, action: AuditAPIKeyRevoke, targetType: auditTargetAPIKey,
			targetID: id, before: before, after: after})
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

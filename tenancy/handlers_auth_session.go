package tenancy

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/7cycles-ai/strangler/config"
)

// refreshRequest is the body of POST /auth/refresh and (optionally) of
// POST /auth/logout.
type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// parseRefresh decodes a refresh body. The token's form is checked by the
// handler (a malformed token is an invalid credential, 401, not a 400).
func parseRefresh(body []byte) (refreshRequest, *apiError) {
	req, e := decodeStrict[refreshRequest](body)
	if e != nil {
		return req, e
	}
	if req.RefreshToken == "" {
		return req, badRequest("refresh_token", "is required")
	}
	return req, nil
}

// parseLogout decodes an optional logout body: empty, or {refresh_token}.
func parseLogout(body []byte) (refreshRequest, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return refreshRequest{}, nil
	}
	return decodeStrict[refreshRequest](body)
}

// refresh rotates a refresh token: the presented one is used up, a child
// in the same family is returned with a new access token.
func (h *Handlers) refresh(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if e := h.limitIP(h.limits.refreshIP, r); e != nil {
		h.fail(w, r, e)
		return
	}
	req, ok := decodeBody(h, w, r, parseRefresh)
	if !ok {
		return
	}
	hash, ok := parseRefreshToken(req.RefreshToken)
	if !ok {
		h.fail(w, r, errUnauthenticated("invalid refresh token"))
		return
	}
	parent, err := h.store.GetSessionByTokenHash(ctx, hash)
	switch {
	case errors.Is(err, ErrNotFound):
		h.fail(w, r, errUnauthenticated("invalid refresh token"))
		return
	case err != nil:
		h.fail(w, r, errInternal(err))
		return
	}
	if _, e := limitKey(h.limits.refreshAccount, parent.UserID); e != nil {
		h.fail(w, r, e)
		return
	}
	res, err := h.sessions.rotate(ctx, parent, h.meta(r))
	if res.reused && h.revoked != nil {
		// The family was just revoked: refuse its access tokens here at
		// once; other replicas learn it from the change feed.
		h.revoked.forget(parent.UserID, parent.FamilyID)
	}
	if res.reused {
		h.audit.record(ctx, r, actor{typ: ActorUser, id: parent.UserID, label: res.user.Email}, auditEvent{
			action: AuditSessionReuse, targetType: auditTargetSession, targetID: parent.FamilyID,
		})
	}
	switch {
	case errors.Is(err, errRefreshInvalid):
		h.fail(w, r, &apiError{status: http.StatusUnauthorized, code: codeUnauthenticated,
			message: "invalid refresh token", cause: err})
		return
	case err != nil:
		h.fail(w, r, errInternal(err))
		return
	}
	writeJSON(w, http.StatusOK, res.resp)
}

// logout revokes the session (the refresh-token family) of the presented
// built-in access token and/or refresh token: the family's refresh tokens
// stop working at once, and its access tokens on every route that
// consults SessionRevocations. Idempotent: 204 again for a session already
// ended, as long as a credential identifies it.
func (h *Handlers) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, ok := decodeBody(h, w, r, parseLogout)
	if !ok {
		return
	}
	type family struct{ userID, familyID, email string }
	var families []family

	p, err := h.auth.Authenticate(ctx, r, config.AuthOptional)
	ended := errors.Is(err, ErrSessionRevoked) // logged out already: nothing left to do
	if e := authError(err); e != nil && !ended {
		h.fail(w, r, e)
		return
	}
	if p != nil && p.Kind == PrincipalUser && p.Issuer == BuiltinIssuerName && p.SessionID != "" {
		families = append(families, family{p.UserID, p.SessionID, p.Email})
	}
	if req.RefreshToken != "" {
		if e := h.limitIP(h.limits.refreshIP, r); e != nil {
			h.fail(w, r, e)
			return
		}
		hash, ok := parseRefreshToken(req.RefreshToken)
		if !ok {
			h.fail(w, r, errUnauthenticated("invalid refresh token"))
			return
		}
		x, err := h.store.GetSessionByTokenHash(ctx, hash)
		switch {
		case errors.Is(err, ErrNotFound):
			h.fail(w, r, errUnauthenticated("invalid refresh token"))
			return
		case err != nil:
			h.fail(w, r, errInternal(err))
			return
		}
		if len(families) == 0 || families[0].familyID != x.FamilyID {
			families = append(families, family{x.UserID, x.FamilyID, ""})
		}
	}
	if len(families) == 0 {
		if ended {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if p != nil {
			h.fail(w, r, badRequest("", "nothing to log out: present a built-in access token or a refresh token"))
			return
		}
		h.fail(w, r, errUnauthenticated("authentication required"))
		return
	}
	for _, f := range families {
		err := h.store.RevokeSessionFamily(WithUserID(ctx, f.userID), f.userID, f.familyID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			h.fail(w, r, errInternal(err))
			return
		}
		// This replica refuses the session's access tokens at once; the
		// others learn it from the change feed (within 1 s).
		if h.revoked != nil {
			h.revoked.forget(f.userID, f.familyID)
		}
		h.audit.record(ctx, r, actor{typ: ActorUser, id: f.userID, label: f.email}, auditEvent{
			action: AuditSessionLogout, targetType: auditTargetSession, targetID: f.familyID,
		})
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// meResponse is the answer of GET /auth/me.
type meResponse struct {
	User        User             `json:"user"`
	Memberships []UserMembership `json:"memberships"`
	// SessionID is the session of a built-in access token (its sid).
	SessionID string `json:"session_id,omitempty"`
}

// me returns the calling user and its memberships. Any user token works (a
// built-in one of a live session, or an external issuer's); API keys are
// not users (403).
func (h *Handlers) me(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, e := h.authenticate(ctx, r)
	if e != nil {
		h.fail(w, r, e)
		return
	}
	if !c.isUser() {
		h.fail(w, r, errForbidden("an API key is not a user"))
		return
	}
	sctx := c.storeCtx(ctx)
	u, err := h.store.GetUser(sctx, c.userID)
	switch {
	case errors.Is(err, ErrNotFound):
		h.fail(w, r, errUnauthenticated("unknown user"))
		return
	case err != nil:
		h.fail(w, r, errInternal(err))
		return
	}
	ms, err := h.store.ListUserMemberships(sctx, u.ID)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	resp := meResponse{User: u, Memberships: ms}
	if c.p.Issuer == BuiltinIssuerName {
		resp.SessionID = c.p.SessionID
	}
	writeJSON(w, http.StatusOK, resp)
}

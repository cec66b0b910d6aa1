package tenancy

import (
	"errors"
	"net/http"

	"go.uber.org/zap"
)

// signupRequest is the body of POST /auth/signup.
type signupRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// OrgName, when set, creates an org with the new user as its owner.
	OrgName string `json:"org_name"`
	// OrgSlug chooses the new org's slug; default: derived from OrgName.
	OrgSlug string `json:"org_slug"`
}

// parseSignup decodes and validates a signup body.
func parseSignup(body []byte) (signupRequest, *apiError) {
	req, e := decodeStrict[signupRequest](body)
	if e != nil {
		return req, e
	}
	if req.Email, e = normalizeEmail("email", req.Email); e != nil {
		return req, e
	}
	if e = checkPassword("password", req.Password); e != nil {
		return req, e
	}
	if req.OrgName == "" && req.OrgSlug != "" {
		return req, badRequest("org_name", "is required with org_slug")
	}
	if req.OrgName != "" {
		if req.OrgName, e = normalizeName("org_name", req.OrgName); e != nil {
			return req, e
		}
	}
	if req.OrgSlug != "" {
		if e = checkSlug("org_slug", req.OrgSlug); e != nil {
			return req, e
		}
	}
	return req, nil
}

// loginRequest is the body of POST /auth/login.
type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// parseLogin decodes and validates a login body. The password is only
// bounded (a login checks a password, it does not set one).
func parseLogin(body []byte) (loginRequest, *apiError) {
	req, e := decodeStrict[loginRequest](body)
	if e != nil {
		return req, e
	}
	if req.Email, e = normalizeEmail("email", req.Email); e != nil {
		return req, e
	}
	switch {
	case req.Password == "":
		return req, badRequest("password", "is required")
	case len(req.Password) > maxPasswordLen:
		return req, badRequest("password", "must be at most %d bytes", maxPasswordLen)
	}
	return req, nil
}

// signupResponse is the answer of POST /auth/signup: the new user, the
// memberships it starts with (a created org, accepted invitations) and a
// logged-in session.
type signupResponse struct {
	tokenResponse
	User        User             `json:"user"`
	Memberships []UserMembership `json:"memberships"`
}

// signup creates a user (and optionally an org it owns), turns pending
// invitations of its email into memberships, and logs it in.
//
// A taken email is 409 conflict: signup cannot hide that an address is
// registered without an email round trip to prove ownership, which this
// issuer does not have. Per-IP and per-email rate limits bound such probing.
func (h *Handlers) signup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if e := h.limitIP(h.limits.loginIP, r); e != nil {
		h.fail(w, r, e)
		return
	}
	req, ok := decodeBody(h, w, r, parseSignup)
	if !ok {
		return
	}
	if _, e := limitKey(h.limits.loginAccount, "signup:"+req.Email); e != nil {
		h.fail(w, r, e)
		return
	}
	if req.OrgSlug != "" {
		if _, err := h.store.GetOrgBySlug(ctx, req.OrgSlug); err == nil {
			h.fail(w, r, errConflict("org_slug", "org_slug: already taken"))
			return
		} else if !errors.Is(err, ErrNotFound) {
			h.fail(w, r, errInternal(err))
			return
		}
	}
	hash, err := h.hashPassword(ctx, req.Password)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	u, err := h.store.CreateUser(ctx, User{Email: req.Email, PasswordHash: hash})
	switch {
	case errors.Is(err, ErrConflict):
		h.fail(w, r, errConflict("email", "email: already registered"))
		return
	case err != nil:
		h.fail(w, r, errInternal(err))
		return
	}
	who := userActor(u)
	h.audit.record(ctx, r, who, auditEvent{action: AuditUserSignup, targetType: auditTargetUser, targetID: u.ID, after: u})
	uctx := WithUserID(ctx, u.ID)

	accepted, err := h.store.AcceptInvitations(uctx, u.ID, u.Email)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	for _, m := range accepted {
		h.audit.record(ctx, r, who, auditEvent{orgID: m.OrgID, action: AuditInvitationAccept,
			targetType: auditTargetMember, targetID: u.ID, after: m})
	}
	if req.OrgName != "" {
		if _, e := h.createOrg(ctx, r, &caller{p: &Principal{Kind: PrincipalUser, UserID: u.ID, Email: u.Email}, userID: u.ID, who: who},
			req.OrgName, req.OrgSlug); e != nil {
			// The user exists: it can log in and create the org again.
			h.fail(w, r, e)
			return
		}
	}
	if req.OrgName == "" && len(accepted) > 0 {
		// The first org the user was invited to is where requests that
		// name none go (SPEC §7), as an org created at signup would be.
		if err := h.store.SetDefaultOrg(uctx, u.ID, accepted[0].OrgID); err != nil {
			h.log.Warn("setting the default org failed", zap.String("user_id", u.ID), zap.Error(err))
		}
	}
	resp, sess, err := h.sessions.open(ctx, u, h.meta(r))
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	h.audit.record(ctx, r, who, auditEvent{action: AuditSessionLogin, targetType: auditTargetSession, targetID: sess.FamilyID})
	if u, err = h.store.GetUser(uctx, u.ID); err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	ms, err := h.store.ListUserMemberships(uctx, u.ID)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	writeJSON(w, http.StatusCreated, signupResponse{tokenResponse: resp, User: u, Memberships: ms})
}

// login exchanges an email and password for tokens.
//
// An unknown email, a user without a password and a wrong password get the
// same 401 after the same work (an argon2id verification against a dummy
// hash when there is nothing to verify against). Per IP every attempt
// counts; per account only failures do.
func (h *Handlers) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if e := h.limitIP(h.limits.loginIP, r); e != nil {
		h.fail(w, r, e)
		return
	}
	req, ok := decodeBody(h, w, r, parseLogin)
	if !ok {
		return
	}
	tk, e := limitKey(h.limits.loginAccount, "login:"+req.Email)
	if e != nil {
		h.fail(w, r, e)
		return
	}
	u, err := h.store.GetUserByEmail(ctx, req.Email)
	switch {
	case errors.Is(err, ErrNotFound):
		u = User{}
	case err != nil:
		tk.giveBack()
		h.fail(w, r, errInternal(err))
		return
	}
	ok, err = h.verifyPassword(ctx, req.Password, u.PasswordHash)
	if err != nil && !errors.Is(err, ErrPasswordHash) {
		tk.giveBack()
		h.fail(w, r, errInternal(err))
		return
	}
	if err != nil {
		h.log.Error("stored password hash is not readable", zap.String("user_id", u.ID), zap.Error(err))
	}
	if !ok {
		h.fail(w, r, errUnauthenticated("invalid email or password"))
		return
	}
	tk.giveBack() // a successful login does not count against the account
	if PasswordNeedsRehash(u.PasswordHash) {
		h.rehash(r, u, req.Password)
	}
	resp, sess, err := h.sessions.open(ctx, u, h.meta(r))
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	h.audit.record(ctx, r, userActor(u), auditEvent{action: AuditSessionLogin, targetType: auditTargetSession, targetID: sess.FamilyID})
	writeJSON(w, http.StatusOK, resp)
}

// rehash stores a hash with the current parameters after a successful
// login with an older one. A failure only costs the upgrade.
func (h *Handlers) rehash(r *http.Request, u User, password string) {
	hash, err := h.hashPassword(r.Context(), password)
	if err == nil {
		err = h.store.SetPasswordHash(WithUserID(r.Context(), u.ID), u.ID, hash)
	}
	if err != nil {
		h.log.Warn("password hash upgrade failed", zap.String("user_id", u.ID), zap.Error(err))
	}
}

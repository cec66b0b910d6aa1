package tenancy

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// memberRequest is the body of POST /orgs/{org}/members.
type memberRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// memberInput is a validated memberRequest.
type memberInput struct {
	email string
	role  Role
}

func parseMemberAdd(body []byte) (memberInput, *apiError) {
	req, e := decodeStrict[memberRequest](body)
	if e != nil {
		return memberInput{}, e
	}
	var in memberInput
	if in.email, e = normalizeEmail("email", req.Email); e != nil {
		return memberInput{}, e
	}
	if in.role, e = checkRole("role", req.Role); e != nil {
		return memberInput{}, e
	}
	return in, nil
}

// rolePatchRequest is the body of PATCH /orgs/{org}/members/{user}.
type rolePatchRequest struct {
	Role string `json:"role"`
}

func parseMemberPatch(body []byte) (Role, *apiError) {
	req, e := decodeStrict[rolePatchRequest](body)
	if e != nil {
		return "", e
	}
	return checkRole("role", req.Role)
}

// listMembers lists the org's members [read], and its pending invitations
// to callers who may manage members.
func (h *Handlers) listMembers(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permRead)
	if !ok {
		return
	}
	sctx := c.storeCtx(r.Context())
	ms, err := h.store.ListMembers(sctx, a.org.OrgID)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	resp := map[string]any{"members": ms}
	if a.has(permMembersManage) {
		invs, err := h.store.ListInvitations(sctx, a.org.OrgID)
		if err != nil {
			h.fail(w, r, errInternal(err))
			return
		}
		resp["invitations"] = invs
	}
	writeJSON(w, http.StatusOK, resp)
}

// postMember adds an existing user by email, or invites an email that has
// no user yet (the invitation becomes a membership at signup)
// [members.manage]. 201 {"member": …} or 201 {"invitation": …}.
func (h *Handlers) postMember(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permMembersManage)
	if !ok {
		return
	}
	in, ok := decodeBody(h, w, r, parseMemberAdd)
	if !ok {
		return
	}
	if in.role.Rank() > a.org.Role.Rank() {
		h.fail(w, r, errForbidden("cannot grant a role above your own ("+string(a.org.Role)+")"))
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	u, err := h.store.GetUserByEmail(sctx, in.email)
	switch {
	case errors.Is(err, ErrNotFound):
		h.invite(w, r, c, a, in)
		return
	case err != nil:
		h.fail(w, r, errInternal(err))
		return
	}
	m, err := h.store.AddMember(sctx, a.org.OrgID, u.ID, in.role)
	switch {
	case errors.Is(err, ErrConflict):
		h.fail(w, r, errConflict("email", "email: already a member"))
		return
	case err != nil:
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	member := Member{Membership: m, Email: u.Email}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: m.OrgID, action: AuditMemberAdd, targetType: auditTargetMember,
		targetID: u.ID, after: member})
	writeJSON(w, http.StatusCreated, map[string]any{"member": member})
}

// invite creates a pending invitation.
func (h *Handlers) invite(w http.ResponseWriter, r *http.Request, c *caller, a *orgAccess, in memberInput) {
	ctx := r.Context()
	inv, err := h.store.CreateInvitation(c.storeCtx(ctx), Invitation{
		OrgID: a.org.OrgID, Email: in.email, Role: in.role, InvitedBy: c.userID,
	})
	switch {
	case errors.Is(err, ErrConflict):
		h.fail(w, r, errConflict("email", "email: already invited"))
		return
	case err != nil:
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: inv.OrgID, action: AuditInvitationCreate, targetType: auditTargetInvitation,
		targetID: inv.ID, after: inv})
	writeJSON(w, http.StatusCreated, map[string]any{"invitation": inv})
}

// member finds the membership of {user} (a user ID or an email) in the
// org: 404 when there is none.
func (h *Handlers) member(ctx context.Context, orgID, ref string) (Member, *apiError) {
	var userID, email string
	switch {
	case strings.IndexByte(ref, '@') >= 0:
		e, bad := normalizeEmail("", ref)
		if bad != nil {
			return Member{}, errNotFound("member not found")
		}
		u, err := h.store.GetUserByEmail(ctx, e)
		if err != nil {
			return Member{}, notFoundOr(err, "member not found")
		}
		userID, email = u.ID, u.Email
	default:
		id, ok := canonicalID(strings.ToLower(ref))
		if !ok {
			return Member{}, errNotFound("member not found")
		}
		userID = id
	}
	m, err := h.store.GetMembership(ctx, orgID, userID)
	if err != nil {
		return Member{}, notFoundOr(err, "member not found")
	}
	if email == "" {
		if u, err := h.store.GetUser(ctx, userID); err == nil {
			email = u.Email
		}
	}
	return Member{Membership: m, Email: email}, nil
}

// patchMember changes a member's role [members.manage]. The last owner
// cannot be demoted (409).
func (h *Handlers) patchMember(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permMembersManage)
	if !ok {
		return
	}
	role, ok := decodeBody(h, w, r, parseMemberPatch)
	if !ok {
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	before, e := h.member(sctx, a.org.OrgID, r.PathValue("user"))
	if e != nil {
		h.fail(w, r, e)
		return
	}
	mine := a.org.Role.Rank()
	if before.Role.Rank() > mine || role.Rank() > mine {
		h.fail(w, r, errForbidden("cannot change a member ranking above you, or grant a role above your own ("+string(a.org.Role)+")"))
		return
	}
	m, err := h.store.UpdateMemberRole(sctx, a.org.OrgID, before.UserID, role)
	switch {
	case errors.Is(err, ErrLastOwner):
		h.fail(w, r, errConflict("role", "the organization must keep at least one owner"))
		return
	case err != nil:
		h.fail(w, r, notFoundOr(err, "member not found"))
		return
	}
	after := Member{Membership: m, Email: before.Email}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: m.OrgID, action: AuditMemberUpdate, targetType: auditTargetMember,
		targetID: m.UserID, before: before, after: after})
	writeJSON(w, http.StatusOK, map[string]any{"member": after})
}

// deleteMember removes a member [members.manage], or lets a member leave
// (any role). The last owner cannot be removed or leave (409).
func (h *Handlers) deleteMember(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, "")
	if !ok {
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	before, e := h.member(sctx, a.org.OrgID, r.PathValue("user"))
	if e != nil && !a.has(permMembersManage) {
		// Whether someone else is a member is not for this caller to learn.
		e = errForbidden("permission denied: " + permMembersManage + " is required")
	}
	if e != nil {
		h.fail(w, r, e)
		return
	}
	self := c.isUser() && before.UserID == c.userID
	if !self {
		if !a.has(permMembersManage) {
			h.fail(w, r, errForbidden("permission denied: "+permMembersManage+" is required"))
			return
		}
		if before.Role.Rank() > a.org.Role.Rank() {
			h.fail(w, r, errForbidden("cannot remove a member ranking above you"))
			return
		}
	}
	err := h.store.RemoveMember(sctx, a.org.OrgID, before.UserID)
	switch {
	case errors.Is(err, ErrLastOwner):
		h.fail(w, r, errConflict("", "the organization must keep at least one owner"))
		return
	case err != nil:
		h.fail(w, r, notFoundOr(err, "member not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: a.org.OrgID, action: AuditMemberRemove, targetType: auditTargetMember,
		targetID: before.UserID, before: before})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// deleteInvitation withdraws a pending invitation [members.manage].
func (h *Handlers) deleteInvitation(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permMembersManage)
	if !ok {
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	id, valid := canonicalID(strings.ToLower(r.PathValue("id")))
	if !valid {
		h.fail(w, r, errNotFound("invitation not found"))
		return
	}
	invs, err := h.store.ListInvitations(sctx, a.org.OrgID)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	var before *Invitation
	for i := range invs {
		if invs[i].ID == id {
			before = &invs[i]
		}
	}
	if before == nil {
		h.fail(w, r, errNotFound("invitation not found"))
		return
	}
	if before.Role.Rank() > a.org.Role.Rank() {
		h.fail(w, r, errForbidden("cannot withdraw an invitation to a role above your own"))
		return
	}
	if err := h.store.RevokeInvitation(sctx, a.org.OrgID, id); err != nil {
		h.fail(w, r, notFoundOr(err, "invitation not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: a.org.OrgID, action: AuditInvitationRevoke, targetType: auditTargetInvitation,
		targetID: id, before: before})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

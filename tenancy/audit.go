package tenancy

import (
	"context"
	"encoding/json"
	"net/http"

	"go.uber.org/zap"
)

// Audit actions of the identity endpoints and the tenant API. Every change
// they make writes one entry: who (actor), what (action, target), the
// target before and after (JSON snapshots without secrets), the request id
// and the client address.
const (
	AuditUserSignup       = "user.signup"
	AuditSessionLogin     = "session.login"
	AuditSessionLogout    = "session.logout"
	AuditSessionReuse     = "session.reuse_revoked"
	AuditOrgCreate        = "org.create"
	AuditOrgUpdate        = "org.update"
	AuditOrgDelete        = "org.delete"
	AuditProjectCreate    = "project.create"
	AuditProjectUpdate    = "project.update"
	AuditProjectDelete    = "project.delete"
	AuditMemberAdd        = "member.add"
	AuditMemberUpdate     = "member.update"
	AuditMemberRemove     = "member.remove"
	AuditInvitationCreate = "invitation.create"
	AuditInvitationRevoke = "invitation.revoke"
	AuditInvitationAccept = "invitation.accept"
	AuditAPIKeyCreate     = "api_key.create"
	AuditAPIKeyRevoke     = "api_key.revoke"
	auditTargetUser       = "user"
	auditTargetSession    = "session"
	auditTargetOrg        = "org"
	auditTargetProject    = "project"
	auditTargetMember     = "member"
	auditTargetInvitation = "invitation"
	auditTargetAPIKey     = "api_key"
)

// actor is who makes a change.
type actor struct {
	typ   string // Actor* constant
	id    string
	label string // an email, a key prefix
}

// actorOf returns the actor of an authenticated caller.
func actorOf(p *Principal, userID string) actor {
	switch {
	case p == nil:
		return actor{typ: ActorSystem}
	case p.Kind == PrincipalAPIKey && p.Key != nil:
		return actor{typ: ActorAPIKey, id: p.Key.ID, label: "api_key:" + p.Key.ID}
	}
	return actor{typ: ActorUser, id: userID, label: p.Email}
}

// userActor is a user acting for themself (signup, login, logout).
func userActor(u User) actor { return actor{typ: ActorUser, id: u.ID, label: u.Email} }

// auditEvent is one change to record.
type auditEvent struct {
	orgID      string
	action     string
	targetType string
	targetID   string
	before     any // nil: absent
	after      any
}

// auditor appends entries. A failure to append is logged at error level and
// does not undo the change, which has already committed: the store has no
// transaction spanning both, and refusing the client a change that happened
// would be worse. Operators alert on the log line.
type auditor struct {
	store    AuditStore
	log      *zap.Logger
	clientIP func(*http.Request) string
}

// record appends ev made by a in request r.
func (a *auditor) record(ctx context.Context, r *http.Request, who actor, ev auditEvent) {
	e := AuditEntry{
		OrgID:      ev.orgID,
		ActorType:  who.typ,
		ActorID:    who.id,
		Actor:      who.label,
		Action:     ev.action,
		TargetType: ev.targetType,
		TargetID:   ev.targetID,
		Before:     snapshot(ev.before),
		After:      snapshot(ev.after),
		RequestID:  requestIDOf(r),
		ClientIP:   a.clientIP(r),
	}
	if who.typ == ActorUser && who.id != "" {
		ctx = WithUserID(ctx, who.id)
	}
	// The change is made: record it even if the client has gone.
	if err := a.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		a.log.Error("audit entry not written", zap.String("action", e.Action), zap.String("org_id", e.OrgID),
			zap.String("target_id", e.TargetID), zap.String("request_id", e.RequestID), zap.Error(err))
	}
}

// snapshot marshals v (nil stays nil). The types passed here carry no
// secrets: hashes are json:"-".
func snapshot(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// requestIDOf is the request id the proxy put on r ("" outside the proxy).
func requestIDOf(r *http.Request) string {
	id := r.Header.Get(requestIDHeader)
	if len(id) > 128 {
		return ""
	}
	return id
}

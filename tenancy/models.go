package tenancy

import (
	"encoding/json"
	"fmt"
	"time"
)

// Role is a member's role in an organization or project. Roles are ordered:
// owner > admin > member > viewer; tenancy.roles in the configuration maps
// each to permissions.
type Role string

// The four roles of SPEC §7.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r.Rank() > 0 }

// Rank orders roles by privilege (owner 4 … viewer 1, unknown 0), so a role
// cap (an API key's role) can be applied as min(rank(member role), rank(cap)).
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleMember:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// ParseRole returns the role named s, or an error wrapping ErrInvalid.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("role %q: %w", s, ErrInvalid)
	}
	return r, nil
}

// Org is an organization: the tenant. Every org-scoped row carries its ID.
type Org struct {
	ID string `json:"id"`
	// Slug is unique (case-insensitively; stored lower-case) and may be used
	// instead of the ID in X-Organization-ID and in /orgs/{org} URLs.
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OrgPatch changes an organization; nil fields stay as they are.
type OrgPatch struct {
	Slug *string
	Name *string
}

// Project groups resources inside an organization.
type Project struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	// Slug is unique within the org (case-insensitively; stored lower-case).
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ProjectPatch changes a project; nil fields stay as they are.
type ProjectPatch struct {
	Slug *string
	Name *string
}

// User is a person (or a service identity of an external issuer). A user
// belongs to organizations through memberships.
type User struct {
	ID string `json:"id"`
	// Email is unique case-insensitively and stored lower-case. It may be
	// empty for a user created just in time from an external token that
	// carries no email.
	Email string `json:"email,omitempty"`
	// ExternalSubject is the `sub` of an external issuer (Supabase); unique
	// when set. Empty for users of the built-in issuer.
	ExternalSubject string `json:"external_subject,omitempty"`
	// Name is the display name; may be empty.
	Name string `json:"name,omitempty"`
	// PasswordHash is an argon2id PHC string (see HashPassword); empty for
	// users who cannot log in with a password. Never serialised.
	PasswordHash string `json:"-"`
	// DefaultOrgID is the org chosen when a request names none (SPEC §7);
	// empty means tenancy.default_org.
	DefaultOrgID string `json:"default_org_id,omitempty"`
	// PlatformAdmin grants the admin API (/admin/api/) across all orgs.
	PlatformAdmin bool      `json:"platform_admin"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Membership is a user's role in an organization.
type Membership struct {
	OrgID     string    `json:"org_id"`
	UserID    string    `json:"user_id"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Member is a membership seen from the organization: with the user's email.
type Member struct {
	Membership
	Email string `json:"email,omitempty"`
}

// UserMembership is a membership seen from the user: with the org's slug and
// name, as /auth/me and tenant resolution need them.
type UserMembership struct {
	Membership
	OrgSlug string `json:"org_slug"`
	OrgName string `json:"org_name"`
}

// ProjectMembership is a user's role in one project of an org. The user must
// be a member of the org; removing the org membership removes it.
type ProjectMembership struct {
	ProjectID string    `json:"project_id"`
	OrgID     string    `json:"org_id"`
	UserID    string    `json:"user_id"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Invitation is a pending membership for an email that has no user yet. It
// becomes a membership when that email signs up (Store.AcceptInvitations).
type Invitation struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	// Email is stored lower-case; at most one pending invitation per (org, email).
	Email string `json:"email"`
	Role  Role   `json:"role"`
	// InvitedBy is the inviting user's ID; empty when invited by the platform.
	InvitedBy string    `json:"invited_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt bounds the invitation; zero at creation means
	// DefaultInvitationTTL from now.
	ExpiresAt time.Time `json:"expires_at"`
	// AcceptedAt is zero until the invitation becomes a membership.
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	// RevokedAt is zero unless the invitation was withdrawn (or replaced
	// after it expired).
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// DefaultInvitationTTL is the lifetime of an invitation created without an
// expiry: long enough for someone to get round to signing up.
const DefaultInvitationTTL = 30 * 24 * time.Hour

// Pending reports whether the invitation can still be accepted at now.
func (i Invitation) Pending(now time.Time) bool {
	return i.AcceptedAt.IsZero() && i.RevokedAt.IsZero() && now.Before(i.ExpiresAt)
}

// APIKey is an org's API key. Only its prefix (the lookup handle, shown in
// listings) and the SHA-256 of the whole key are stored: the plaintext is
// shown once at creation.
type APIKey struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	// ProjectID binds the key to one project; empty: any project of the org.
	ProjectID string `json:"project_id,omitempty"`
	Name      string `json:"name"`
	// Prefix is unique across all orgs; see ParseAPIKey.
	Prefix string `json:"prefix"`
	// Hash is SHA-256 of the whole plaintext key (HashAPIKey). Compare with
	// crypto/subtle. Never serialised.
	Hash []byte `json:"-"`
	// Role caps what the key may do: the caller's role is this role.
	Role Role `json:"role"`
	// Scopes further restrict the key to these permissions; empty: the
	// role's permissions.
	Scopes []string `json:"scopes"`
	// CreatedBy is the creating user's ID; empty when created by the platform
	// (seed, admin API).
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a key that does not expire.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// RevokedAt is zero while the key is not revoked.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// LastUsedAt is written asynchronously (Store.TouchAPIKey); it lags.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Usable reports whether the key is neither revoked nor expired at now.
func (k APIKey) Usable(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// Session is one refresh token of the built-in issuer. Rotation creates a
// child in the same family; the family is the login session (its ID is the
// session_id of access tokens), so revoking the family logs the session out.
type Session struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// OrgID is the org the session was opened for, if any (informational;
	// cleared when the org is deleted).
	OrgID string `json:"org_id,omitempty"`
	// FamilyID is the ID of the first token of the family (the login).
	FamilyID string `json:"family_id"`
	// ParentID is the token this one replaced; empty for the first.
	ParentID string `json:"parent_id,omitempty"`
	// TokenHash is SHA-256 of the opaque refresh token. Never serialised.
	TokenHash []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// UsedAt is when the token was rotated; zero while unused.
	UsedAt time.Time `json:"used_at,omitzero"`
	// RevokedAt is set on every token of a revoked family.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// UserAgent is at most 512 characters.
	UserAgent string `json:"user_agent,omitempty"`
	// ClientIP is an IPv4 or IPv6 address, or empty.
	ClientIP string `json:"client_ip,omitempty"`
}

// RotateInput asks Store.RotateSession to replace a refresh token.
type RotateInput struct {
	// UserID owns the presented token (Session.UserID from
	// GetSessionByTokenHash); the rotation runs as that user.
	UserID string
	// ParentID is the presented (current) token.
	ParentID string
	// Child is the new token: ID, TokenHash, ExpiresAt (and UserAgent,
	// ClientIP) are used; UserID, OrgID, FamilyID and ParentID come from the
	// parent.
	Child Session
	// Now is the rotation time, recorded as the parent's UsedAt.
	Now time.Time
	// Grace lets a token already rotated less than Grace ago be rotated
	// again (two concurrent refreshes of one client both succeed). Older
	// reuse revokes the family and fails with ErrTokenReused.
	Grace time.Duration
}

// AdminToken is a bearer token of the admin API. Only the SHA-256 of its
// plaintext is stored, and the store never returns it.
type AdminToken struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Hash is SHA-256 of the plaintext token: input of CreateAdminToken
	// only; the store never returns it. Never serialised.
	Hash []byte `json:"-"`
	// UserID is the platform admin the token acts for; empty for a token of
	// the platform itself (bootstrap).
	UserID string `json:"user_id,omitempty"`
	// SingleUse tokens are consumed by their first successful use.
	SingleUse bool      `json:"single_use"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// UsedAt is the first use, LastUsedAt the latest.
	UsedAt     time.Time `json:"used_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// RevokedAt is zero while the token is not revoked.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Usable reports whether the token would authenticate at now.
func (a AdminToken) Usable(now time.Time) bool {
	return a.RevokedAt.IsZero() && (a.ExpiresAt.IsZero() || now.Before(a.ExpiresAt)) &&
		!(a.SingleUse && !a.UsedAt.IsZero())
}

// Actor types of audit entries.
const (
	ActorUser       = "user"
	ActorAPIKey     = "api_key"
	ActorAdminToken = "admin_token"
	ActorSystem     = "system"
)

// AuditEntry records one change. Entries are append-only: the runtime
// database role cannot update or delete them.
type AuditEntry struct {
	ID string `json:"id"`
	// OrgID is the org the change concerns; empty for platform-level
	// changes (flags, kill switch, admin tokens).
	OrgID string `json:"org_id,omitempty"`
	// ActorType is one of the Actor* constants; ActorID its ID.
	ActorType string `json:"actor_type"`
	ActorID   string `json:"actor_id,omitempty"`
	// Actor is a human-readable label of the actor frozen at the time (an
	// email, a key name), so the entry stays readable after the actor is gone.
	Actor string `json:"actor,omitempty"`
	// Action names the change, e.g. "member.add", "api_key.revoke".
	Action     string `json:"action"`
	TargetType string `json:"target_type,omitempty"`
	TargetID   string `json:"target_id,omitempty"`
	// Before and After are JSON snapshots of the target (nil when absent).
	// They are stored as jsonb: key order and spacing are not preserved.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Reason is the operator's stated reason (flag changes, kill switch).
	Reason    string `json:"reason,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// ClientIP is an IPv4 or IPv6 address, or empty.
	ClientIP  string    `json:"client_ip,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	// OrgID limits the listing to one org. Store.ListAuditEntries requires
	// it; Store.ListPlatformAuditEntries treats it as an optional filter.
	OrgID      string
	ActorID    string
	Action     string
	TargetType string
	TargetID   string
	// Since and Until bound CreatedAt: Since <= created_at < Until.
	Since time.Time
	Until time.Time
	// Limit caps the page; 0 means 50, and it is clamped to 500.
	Limit int
	// Cursor continues a previous listing (AuditPage.NextCursor).
	Cursor string
}

// AuditPage is one page of audit entries, newest first.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// NextCursor is empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Default and maximum audit page sizes. The maximum stays below the 1000
// rows strangler.list_audit_logs returns at most, since a page reads one
// row more to learn whether another page follows.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 500
)

func (f AuditFilter) limit() int {
	switch {
	case f.Limit <= 0:
		return defaultAuditLimit
	case f.Limit > maxAuditLimit:
		return maxAuditLimit
	}
	return f.Limit
}

// ListOptions pages listings ordered by a stable key (slug for orgs).
type ListOptions struct {
	// Limit caps the page; 0 means 100, clamped to 1000.
	Limit int
	// After returns entries strictly after this key (the last slug seen).
	After string
}

func (o ListOptions) limit() int {
	switch {
	case o.Limit <= 0:
		return 100
	case o.Limit > 1000:
		return 1000
	}
	return o.Limit
}

package tenancy

import (
	"context"
	"time"
)

// Store is the tenancy data: organizations, projects, users, memberships,
// invitations, API keys, sessions, admin tokens and the audit log. It is
// implemented by MemoryStore (one node, development, the demo) and
// PostgresStore; both pass the contract suite in tenancy/storetest, so a
// caller cannot tell them apart.
//
// Tenant scoping: every method that takes an orgID sees and changes only
// that org's rows — an ID of another org's entity is ErrNotFound, exactly as
// a missing one. In PostgreSQL the work runs in a transaction that first
// sets strangler.org_id (and strangler.user_id, from WithUserID), so
// row-level security holds even if a caller passes the wrong ID. The
// cross-tenant lookups that authentication needs (API key by prefix, user by
// email or external subject, a user's memberships, org by slug) go through
// narrow SECURITY DEFINER functions.
//
// Methods are safe for concurrent use. They are not meant for the request
// hot path: authentication keeps caches in front of them.
type Store interface {
	OrgStore
	ProjectStore
	UserStore
	MembershipStore
	ProjectMembershipStore
	InvitationStore
	APIKeyStore
	SessionStore
	AdminTokenStore
	AuditStore
}

// OrgStore manages organizations.
type OrgStore interface {
	// CreateOrg creates the org (ID generated when empty; Slug lower-cased)
	// and, when ownerUserID is not empty, the owner's membership in the same
	// transaction. ErrConflict on a taken slug; ErrNotFound for an unknown
	// owner.
	CreateOrg(ctx context.Context, org Org, ownerUserID string) (Org, error)
	// GetOrg returns the org with this ID.
	GetOrg(ctx context.Context, orgID string) (Org, error)
	// GetOrgBySlug looks the org up by slug, case-insensitively.
	GetOrgBySlug(ctx context.Context, slug string) (Org, error)
	// ListOrgs lists every org by slug, for platform admins.
	ListOrgs(ctx context.Context, opts ListOptions) ([]Org, error)
	// UpdateOrg changes slug and/or name. ErrConflict on a taken slug.
	UpdateOrg(ctx context.Context, orgID string, patch OrgPatch) (Org, error)
	// DeleteOrg deletes the org and everything it owns: projects,
	// memberships, project memberships, invitations, API keys. Users whose
	// default org it was fall back to none. Audit entries stay.
	DeleteOrg(ctx context.Context, orgID string) error
}

// ProjectStore manages projects; every method is scoped to one org.
type ProjectStore interface {
	// CreateProject creates p in p.OrgID (ID generated when empty).
	// ErrConflict on a slug taken in that org; ErrNotFound for an unknown org.
	CreateProject(ctx context.Context, p Project) (Project, error)
	GetProject(ctx context.Context, orgID, projectID string) (Project, error)
	// GetProjectBySlug looks the project up by slug within the org.
	GetProjectBySlug(ctx context.Context, orgID, slug string) (Project, error)
	// ListProjects lists the org's projects by slug.
	ListProjects(ctx context.Context, orgID string) ([]Project, error)
	UpdateProject(ctx context.Context, orgID, projectID string, patch ProjectPatch) (Project, error)
	// DeleteProject deletes the project, its project memberships and the API
	// keys bound to it (a key must never widen to the whole org).
	DeleteProject(ctx context.Context, orgID, projectID string) error
}

// UserStore manages users. Users are global: one person may belong to
// several orgs.
type UserStore interface {
	// CreateUser creates u (ID generated when empty; Email lower-cased).
	// Email or ExternalSubject is required. ErrConflict on a taken email or
	// external subject.
	CreateUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, userID string) (User, error)
	// GetUserByEmail looks the user up case-insensitively.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	// GetUserByExternalSubject looks up the user of an external issuer's sub.
	GetUserByExternalSubject(ctx context.Context, subject string) (User, error)
	// SetDefaultOrg sets (or with "" clears) the user's default org. The
	// user must be a member of it: ErrNotFound otherwise.
	SetDefaultOrg(ctx context.Context, userID, orgID string) error
	// SetPlatformAdmin grants or withdraws platform-admin rights.
	SetPlatformAdmin(ctx context.Context, userID string, admin bool) error
	// SetPasswordHash replaces the user's password hash (password change,
	// parameter upgrade on login).
	SetPasswordHash(ctx context.Context, userID, hash string) error
}

// MembershipStore manages org memberships. The last-owner rule is enforced
// atomically: UpdateMemberRole and RemoveMember fail with ErrLastOwner
// rather than leave an org without an owner.
type MembershipStore interface {
	// AddMember adds the user to the org. ErrConflict if already a member;
	// ErrNotFound for an unknown user or org; ErrInvalid for a bad role.
	AddMember(ctx context.Context, orgID, userID string, role Role) (Membership, error)
	// GetMembership returns the user's membership in the org (the hot
	// "role of user in org" lookup). ErrNotFound when not a member.
	GetMembership(ctx context.Context, orgID, userID string) (Membership, error)
	// ListMembers lists the org's members with their emails, by email.
	ListMembers(ctx context.Context, orgID string) ([]Member, error)
	// ListUserMemberships lists every org the user belongs to, by org slug.
	ListUserMemberships(ctx context.Context, userID string) ([]UserMembership, error)
	// UpdateMemberRole changes the member's role.
	UpdateMemberRole(ctx context.Context, orgID, userID string, role Role) (Membership, error)
	// RemoveMember removes the membership and the user's project
	// memberships in that org; a default org pointing at it is cleared.
	RemoveMember(ctx context.Context, orgID, userID string) error
}

// ProjectMembershipStore manages per-project roles.
type ProjectMembershipStore interface {
	// AddProjectMember gives an org member a role in one of the org's
	// projects. ErrNotFound when the project is not the org's or the user is
	// not a member of the org; ErrConflict when already a project member.
	AddProjectMember(ctx context.Context, orgID, projectID, userID string, role Role) (ProjectMembership, error)
	GetProjectMembership(ctx context.Context, orgID, projectID, userID string) (ProjectMembership, error)
	// ListProjectMembers lists the project's members by user ID.
	ListProjectMembers(ctx context.Context, orgID, projectID string) ([]ProjectMembership, error)
	UpdateProjectMemberRole(ctx context.Context, orgID, projectID, userID string, role Role) (ProjectMembership, error)
	RemoveProjectMember(ctx context.Context, orgID, projectID, userID string) error
}

// InvitationStore manages invitations of emails that have no user yet.
type InvitationStore interface {
	// CreateInvitation invites inv.Email (lower-cased) to inv.OrgID, until
	// inv.ExpiresAt (zero: DefaultInvitationTTL). ErrConflict when a pending
	// invitation for that email exists in the org; an expired one is
	// revoked and replaced.
	CreateInvitation(ctx context.Context, inv Invitation) (Invitation, error)
	// ListInvitations lists the org's invitations that are neither accepted
	// nor revoked (expired ones included: see Invitation.Pending), by email.
	ListInvitations(ctx context.Context, orgID string) ([]Invitation, error)
	// RevokeInvitation withdraws an invitation that is neither accepted nor
	// revoked; ErrNotFound otherwise.
	RevokeInvitation(ctx context.Context, orgID, invitationID string) error
	// AcceptInvitations turns every pending, unexpired invitation of email
	// (in any org) into a membership of userID, marks them accepted, and
	// returns the memberships created. An org the user already belongs to
	// keeps its membership. Called on signup.
	AcceptInvitations(ctx context.Context, userID, email string) ([]Membership, error)
}

// APIKeyStore manages API keys.
type APIKeyStore interface {
	// CreateAPIKey stores k (ID generated when empty). Prefix, Hash, Role and
	// OrgID are required; a ProjectID must be a project of the org.
	// ErrConflict on a prefix taken (in any org).
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	// GetAPIKeyByPrefix is the cross-tenant lookup of authentication. It
	// returns revoked and expired keys too: the caller decides (Usable).
	GetAPIKeyByPrefix(ctx context.Context, prefix string) (APIKey, error)
	GetAPIKey(ctx context.Context, orgID, keyID string) (APIKey, error)
	// ListAPIKeys lists the org's keys, newest first, revoked ones included.
	ListAPIKeys(ctx context.Context, orgID string) ([]APIKey, error)
	// RevokeAPIKey sets RevokedAt (once: revoking again keeps the first
	// time) and returns the key.
	RevokeAPIKey(ctx context.Context, orgID, keyID string) (APIKey, error)
	// TouchAPIKeys records that the keys (of any org) were used at `at`, for
	// the asynchronous last-use writer that batches them. LastUsedAt never
	// moves back; unknown IDs are ignored.
	TouchAPIKeys(ctx context.Context, keyIDs []string, at time.Time) error
}

// SessionStore manages refresh-token families of the built-in issuer.
type SessionStore interface {
	// CreateSession stores the first token of a new family (FamilyID and
	// ParentID are set by the store: FamilyID = ID).
	CreateSession(ctx context.Context, s Session) (Session, error)
	// GetSessionByTokenHash finds a refresh token (any user) by its hash.
	GetSessionByTokenHash(ctx context.Context, hash []byte) (Session, error)
	// GetSession returns one token of the user.
	GetSession(ctx context.Context, userID, sessionID string) (Session, error)
	// RotateSession atomically marks the parent used and stores the child.
	// A revoked parent fails with ErrRevoked; a parent already used more
	// than in.Grace before in.Now revokes the family and fails with
	// ErrTokenReused. Expiry is the caller's check.
	RotateSession(ctx context.Context, in RotateInput) (Session, error)
	// RevokeSessionFamily revokes every token of the family (logout). It is
	// idempotent; ErrNotFound when the user has no such family.
	RevokeSessionFamily(ctx context.Context, userID, familyID string) error
	// RevokeUserSessions revokes every family of the user (password change).
	RevokeUserSessions(ctx context.Context, userID string) error
	// ListSessions lists the user's live tokens — neither used nor revoked
	// (expired ones included) — newest first: one per open login, more
	// during a grace window.
	ListSessions(ctx context.Context, userID string) ([]Session, error)
}

// AdminTokenStore manages admin API tokens (see GenerateAdminToken). The
// store never returns a token's hash.
type AdminTokenStore interface {
	// CreateAdminToken stores t (ID generated when empty). Hash (SHA-256,
	// unique) and Name are required; UserID, when set, must be a user.
	CreateAdminToken(ctx context.Context, t AdminToken) (AdminToken, error)
	// AuthenticateAdminToken returns the token whose plaintext hashes to
	// hash if it is usable now (not revoked, not expired, not a consumed
	// single-use token), and records the use. ErrNotFound otherwise, for
	// every reason alike. The returned token carries no usage times (see
	// ListAdminTokens for those).
	AuthenticateAdminToken(ctx context.Context, hash []byte) (AdminToken, error)
	// ListAdminTokens lists every token, oldest first.
	ListAdminTokens(ctx context.Context) ([]AdminToken, error)
	// RevokeAdminToken revokes a token that is not yet revoked;
	// ErrNotFound otherwise.
	RevokeAdminToken(ctx context.Context, tokenID string) error
}

// AuditStore is the append-only audit log.
type AuditStore interface {
	// AppendAudit records e (ID and CreatedAt are set by the store). An
	// entry with an OrgID is the org's (the org need not exist any more:
	// history outlives it); without one it is platform-level.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAuditEntries lists one org's entries (f.OrgID required), newest
	// first, filtered and paged.
	ListAuditEntries(ctx context.Context, f AuditFilter) (AuditPage, error)
	// ListPlatformAuditEntries lists entries of every org and the platform,
	// for platform admins; f.OrgID optionally narrows it.
	ListPlatformAuditEntries(ctx context.Context, f AuditFilter) (AuditPage, error)
}

// userIDKey carries the acting user's ID to the store.
type userIDKey struct{}

// WithUserID returns a context whose store operations act on behalf of
// userID: the PostgreSQL store sets strangler.user_id from it, so policies
// that use strangler.current_user_id() see the caller.
func WithUserID(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, userIDKey{}, userID)
}

// UserIDFrom returns the acting user's ID set by WithUserID, or "".
func UserIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(userIDKey{}).(string)
	return s
}

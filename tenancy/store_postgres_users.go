package tenancy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ---- users ----

const userCols = "id::text, coalesce(email, ''), coalesce(external_subject, ''), name, coalesce(password_hash, ''), " +
	"coalesce(default_org_id::text, ''), platform_admin, created_at, updated_at"

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.ExternalSubject, &u.Name, &u.PasswordHash, &u.DefaultOrgID, &u.PlatformAdmin, &u.CreatedAt, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

// CreateUser implements UserStore. The insert runs with strangler.user_id
// set to the new user's ID (policy self_insert).
func (s *PostgresStore) CreateUser(ctx context.Context, u User) (User, error) {
	id, ok := idOrNew(u.ID)
	if !ok {
		return User{}, fmt.Errorf("create user: id %q: %w", u.ID, ErrInvalid)
	}
	u.Email = normEmail(u.Email)
	if err := validateUser(u); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	var out User
	err := s.inTx(ctx, "", id, func(tx pgx.Tx) error {
		var err error
		out, err = scanUser(tx.QueryRow(ctx,
			"insert into strangler.users (id, email, external_subject, name, password_hash) "+
				"values ($1, nullif($2, ''), nullif($3, ''), $4, nullif($5, '')) returning "+userCols,
			id, u.Email, u.ExternalSubject, u.Name, u.PasswordHash))
		return err
	})
	if err != nil {
		return User{}, pgErr("create user", err)
	}
	return out, nil
}

// GetUser implements UserStore.
func (s *PostgresStore) GetUser(ctx context.Context, userID string) (User, error) {
	id, ok := canonicalID(userID)
	if !ok {
		return User{}, fmt.Errorf("get user: %w", ErrNotFound)
	}
	var out User
	err := s.readScoped(ctx, "", id, func(b *pgx.Batch) {
		b.Queue("select "+userCols+" from strangler.users where id = $1", id).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanUser(row); return err })
	})
	if err != nil {
		return User{}, pgErr("get user", err)
	}
	return out, nil
}

// GetUserByEmail implements UserStore.
func (s *PostgresStore) GetUserByEmail(ctx context.Context, email string) (User, error) {
	e := normEmail(email)
	if e == "" {
		return User{}, fmt.Errorf("get user by email: %w", ErrNotFound)
	}
	u, err := scanUser(s.pool.QueryRow(ctx, "select "+userCols+" from strangler.find_user_by_email($1)", e))
	if err != nil {
		return User{}, pgErr("get user by email", err)
	}
	return u, nil
}

// GetUserByExternalSubject implements UserStore.
func (s *PostgresStore) GetUserByExternalSubject(ctx context.Context, subject string) (User, error) {
	if subject == "" {
		return User{}, fmt.Errorf("get user by external subject: %w", ErrNotFound)
	}
	u, err := scanUser(s.pool.QueryRow(ctx, "select "+userCols+" from strangler.find_user_by_external_subject($1)", subject))
	if err != nil {
		return User{}, pgErr("get user by external subject", err)
	}
	return u, nil
}

// SetDefaultOrg implements UserStore: the membership is checked in the same
// statement as the update.
func (s *PostgresStore) SetDefaultOrg(ctx context.Context, userID, orgID string) error {
	user, ok := canonicalID(userID)
	if !ok {
		return fmt.Errorf("set default org: %w", ErrNotFound)
	}
	if orgID == "" {
		err := s.inTx(ctx, "", user, func(tx pgx.Tx) error {
			return execOne(ctx, tx, "update strangler.users set default_org_id = null where id = $1", user)
		})
		return pgErr("set default org", err)
	}
	org, ok := canonicalID(orgID)
	if !ok {
		return fmt.Errorf("set default org: %w", ErrNotFound)
	}
	err := s.inTx(ctx, org, user, func(tx pgx.Tx) error {
		return execOne(ctx, tx,
			"update strangler.users set default_org_id = $2 where id = $1 and exists "+
				"(select 1 from strangler.org_memberships m where m.org_id = $2 and m.user_id = $1)", user, org)
	})
	return pgErr("set default org", err)
}

// SetPlatformAdmin implements UserStore.
func (s *PostgresStore) SetPlatformAdmin(ctx context.Context, userID string, admin bool) error {
	return s.updateUser(ctx, "set platform admin", userID, "platform_admin = $2", admin)
}

// SetPasswordHash implements UserStore.
func (s *PostgresStore) SetPasswordHash(ctx context.Context, userID, hash string) error {
	if !validPasswordHash(hash) {
		return fmt.Errorf("set password hash: not a PHC string: %w", ErrInvalid)
	}
	return s.updateUser(ctx, "set password hash", userID, "password_hash = nullif($2, '')", hash)
}

func (s *PostgresStore) updateUser(ctx context.Context, op, userID, set string, arg any) error {
	user, ok := canonicalID(userID)
	if !ok {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	err := s.inTx(ctx, "", user, func(tx pgx.Tx) error {
		return execOne(ctx, tx, "update strangler.users set "+set+" where id = $1", user, arg)
	})
	return pgErr(op, err)
}

// ---- memberships ----

const membershipCols = "org_id::text, user_id::text, role, created_at, updated_at"

func scanMembership(row pgx.Row) (Membership, error) {
	var m Membership
	err := row.Scan(&m.OrgID, &m.UserID, &m.Role, &m.CreatedAt, &m.UpdatedAt)
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, err
}

// orgUser validates an (org, user) pair of IDs.
func orgUser(orgID, userID string) (string, string, bool) {
	org, ok1 := canonicalID(orgID)
	user, ok2 := canonicalID(userID)
	return org, user, ok1 && ok2
}

// AddMember implements MembershipStore.
func (s *PostgresStore) AddMember(ctx context.Context, orgID, userID string, role Role) (Membership, error) {
	if !role.Valid() {
		return Membership{}, fmt.Errorf("add member: role %q: %w", role, ErrInvalid)
	}
	org, user, ok := orgUser(orgID, userID)
	if !ok {
		return Membership{}, fmt.Errorf("add member: %w", ErrNotFound)
	}
	var out Membership
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		var err error
		out, err = scanMembership(tx.QueryRow(ctx,
			"insert into strangler.org_memberships (org_id, user_id, role) values ($1, $2, $3) returning "+membershipCols,
			org, user, string(role)))
		return err
	})
	if err != nil {
		return Membership{}, pgErr("add member", err)
	}
	s.deliverLocal(Change{Kind: ChangeMembership, OrgID: org, UserID: user})
	return out, nil
}

// getMembershipSQL is the hot "role of user in org" lookup; the primary key
// (org_id, user_id) serves it.
const getMembershipSQL = "select " + membershipCols + " from strangler.org_memberships where org_id = $1 and user_id = $2"

// GetMembership implements MembershipStore in one round trip.
func (s *PostgresStore) GetMembership(ctx context.Context, orgID, userID string) (Membership, error) {
	org, user, ok := orgUser(orgID, userID)
	if !ok {
		return Membership{}, fmt.Errorf("get membership: %w", ErrNotFound)
	}
	var out Membership
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue(getMembershipSQL, org, user).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanMembership(row); return err })
	})
	if err != nil {
		return Membership{}, pgErr("get membership", err)
	}
	return out, nil
}

// ListMembers implements MembershipStore. The users policy lets an org see
// its members' rows.
func (s *PostgresStore) ListMembers(ctx context.Context, orgID string) ([]Member, error) {
	org, ok := canonicalID(orgID)
	if !ok {
		return []Member{}, nil
	}
	var out []Member
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("select m.org_id::text, m.user_id::text, m.role, m.created_at, m.updated_at, coalesce(u.email, '') "+
			"from strangler.org_memberships m join strangler.users u on u.id = m.user_id "+
			"where m.org_id = $1 order by coalesce(u.email, '') collate \"C\", m.user_id", org).
			Query(func(rows pgx.Rows) (err error) {
				out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
					var m Member
					err := r.Scan(&m.OrgID, &m.UserID, &m.Role, &m.CreatedAt, &m.UpdatedAt, &m.Email)
					m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
					return m, err
				})
				return err
			})
	})
	if err != nil {
		return nil, pgErr("list members", err)
	}
	return nonNil(out), nil
}

// ListUserMemberships implements MembershipStore through
// strangler.user_memberships.
func (s *PostgresStore) ListUserMemberships(ctx context.Context, userID string) ([]UserMembership, error) {
	user, ok := canonicalID(userID)
	if !ok {
		return []UserMembership{}, nil
	}
	rows, _ := s.pool.Query(ctx,
		"select org_id::text, org_slug, org_name, role, created_at, updated_at from strangler.user_memberships($1) order by org_slug collate \"C\"", user)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserMembership, error) {
		m := UserMembership{Membership: Membership{UserID: user}}
		err := r.Scan(&m.OrgID, &m.OrgSlug, &m.OrgName, &m.Role, &m.CreatedAt, &m.UpdatedAt)
		m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
		return m, err
	})
	if err != nil {
		return nil, pgErr("list user memberships", err)
	}
	return nonNil(out), nil
}

// lockOrgMembers serialises membership role changes of one org: it locks
// the org row (FOR NO KEY UPDATE does not block the foreign-key checks of
// concurrent inserts) and returns the member's current role. Two
// concurrent demotions of the last two owners are thus ordered, and the
// second sees the first's result.
func lockOrgMembers(ctx context.Context, tx pgx.Tx, org, user string) (Role, error) {
	var id string
	if err := tx.QueryRow(ctx, "select id::text from strangler.organizations where id = $1 for no key update", org).Scan(&id); err != nil {
		return "", err
	}
	var role Role
	err := tx.QueryRow(ctx, "select role from strangler.org_memberships where org_id = $1 and user_id = $2", org, user).Scan(&role)
	return role, err
}

// otherOwners counts the org's owners other than user.
func otherOwners(ctx context.Context, tx pgx.Tx, org, user string) (int, error) {
	var n int
	err := tx.QueryRow(ctx,
		"select count(*) from strangler.org_memberships where org_id = $1 and role = 'owner' and user_id <> $2", org, user).Scan(&n)
	return n, err
}

// UpdateMemberRole implements MembershipStore.
func (s *PostgresStore) UpdateMemberRole(ctx context.Context, orgID, userID string, role Role) (Membership, error) {
	if !role.Valid() {
		return Membership{}, fmt.Errorf("update member role: role %q: %w", role, ErrInvalid)
	}
	org, user, ok := orgUser(orgID, userID)
	if !ok {
		return Membership{}, fmt.Errorf("update member role: %w", ErrNotFound)
	}
	var out Membership
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		current, err := lockOrgMembers(ctx, tx, org, user)
		if err != nil {
			return err
		}
		if current == RoleOwner && role != RoleOwner {
			n, err := otherOwners(ctx, tx, org, user)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLastOwner
			}
		}
		out, err = scanMembership(tx.QueryRow(ctx,
			"update strangler.org_memberships set role = $3 where org_id = $1 and user_id = $2 returning "+membershipCols,
			org, user, string(role)))
		return err
	})
	if err != nil {
		return Membership{}, pgErr("update member role", err)
	}
	s.deliverLocal(Change{Kind: ChangeMembership, OrgID: org, UserID: user})
	return out, nil
}

// RemoveMember implements MembershipStore. Project memberships go by
// foreign key; the default org is cleared with strangler.user_id set to the
// removed user, whose row the users policy then lets the store change.
func (s *PostgresStore) RemoveMember(ctx context.Context, orgID, userID string) error {
	org, user, ok := orgUser(orgID, userID)
	if !ok {
		return fmt.Errorf("remove member: %w", ErrNotFound)
	}
	err := s.inTx(ctx, org, user, func(tx pgx.Tx) error {
		current, err := lockOrgMembers(ctx, tx, org, user)
		if err != nil {
			return err
		}
		if current == RoleOwner {
			n, err := otherOwners(ctx, tx, org, user)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLastOwner
			}
		}
		if err := execOne(ctx, tx, "delete from strangler.org_memberships where org_id = $1 and user_id = $2", org, user); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "update strangler.users set default_org_id = null where id = $1 and default_org_id = $2", user, org)
		return err
	})
	if err == nil {
		s.deliverLocal(Change{Kind: ChangeMembership, OrgID: org, UserID: user})
	}
	return pgErr("remove member", err)
}

// ---- project memberships ----

const projectMemberCols = "project_id::text, org_id::text, user_id::text, role, created_at, updated_at"

func scanProjectMember(row pgx.Row) (ProjectMembership, error) {
	var pm ProjectMembership
	err := row.Scan(&pm.ProjectID, &pm.OrgID, &pm.UserID, &pm.Role, &pm.CreatedAt, &pm.UpdatedAt)
	pm.CreatedAt, pm.UpdatedAt = pm.CreatedAt.UTC(), pm.UpdatedAt.UTC()
	return pm, err
}

func projectUser(orgID, projectID, userID string) (string, string, string, bool) {
	org, ok1 := canonicalID(orgID)
	project, ok2 := canonicalID(projectID)
	user, ok3 := canonicalID(userID)
	return org, project, user, ok1 && ok2 && ok3
}

// AddProjectMember implements ProjectMembershipStore. The composite foreign
// keys refuse another org's project and a user who is not an org member.
func (s *PostgresStore) AddProjectMember(ctx context.Context, orgID, projectID, userID string, role Role) (ProjectMembership, error) {
	if !role.Valid() {
		return ProjectMembership{}, fmt.Errorf("add project member: role %q: %w", role, ErrInvalid)
	}
	org, project, user, ok := projectUser(orgID, projectID, userID)
	if !ok {
		return ProjectMembership{}, fmt.Errorf("add project member: %w", ErrNotFound)
	}
	var out ProjectMembership
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		var err error
		out, err = scanProjectMember(tx.QueryRow(ctx,
			"insert into strangler.project_memberships (org_id, project_id, user_id, role) values ($1, $2, $3, $4) returning "+projectMemberCols,
			org, project, user, string(role)))
		return err
	})
	if err != nil {
		return ProjectMembership{}, pgErr("add project member", err)
	}
	return out, nil
}

// GetProjectMembership implements ProjectMembershipStore.
func (s *PostgresStore) GetProjectMembership(ctx context.Context, orgID, projectID, userID string) (ProjectMembership, error) {
	org, project, user, ok := projectUser(orgID, projectID, userID)
	if !ok {
		return ProjectMembership{}, fmt.Errorf("get project membership: %w", ErrNotFound)
	}
	var out ProjectMembership
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("select "+projectMemberCols+" from strangler.project_memberships where org_id = $1 and project_id = $2 and user_id = $3",
			org, project, user).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanProjectMember(row); return err })
	})
	if err != nil {
		return ProjectMembership{}, pgErr("get project membership", err)
	}
	return out, nil
}

// ListProjectMembers implements ProjectMembershipStore.
func (s *PostgresStore) ListProjectMembers(ctx context.Context, orgID, projectID string) ([]ProjectMembership, error) {
	org, ok1 := canonicalID(orgID)
	project, ok2 := canonicalID(projectID)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("list project members: %w", ErrNotFound)
	}
	var exists bool
	var out []ProjectMembership
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("select exists (select 1 from strangler.projects where org_id = $1 and id = $2)", org, project).
			QueryRow(func(row pgx.Row) error { return row.Scan(&exists) })
		b.Queue("select "+projectMemberCols+" from strangler.project_memberships where org_id = $1 and project_id = $2 order by user_id",
			org, project).
			Query(func(rows pgx.Rows) (err error) {
				out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProjectMembership, error) { return scanProjectMember(r) })
				return err
			})
	})
	if err != nil {
		return nil, pgErr("list project members", err)
	}
	if !exists {
		return nil, fmt.Errorf("list project members: %w", ErrNotFound)
	}
	return nonNil(out), nil
}

// UpdateProjectMemberRole implements ProjectMembershipStore.
func (s *PostgresStore) UpdateProjectMemberRole(ctx context.Context, orgID, projectID, userID string, role Role) (ProjectMembership, error) {
	if !role.Valid() {
		return ProjectMembership{}, fmt.Errorf("update project member role: role %q: %w", role, ErrInvalid)
	}
	org, project, user, ok := projectUser(orgID, projectID, userID)
	if !ok {
		return ProjectMembership{}, fmt.Errorf("update project member role: %w", ErrNotFound)
	}
	var out ProjectMembership
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		var err error
		out, err = scanProjectMember(tx.QueryRow(ctx,
			"update strangler.project_memberships set role = $4 where org_id = $1 and project_id = $2 and user_id = $3 returning "+projectMemberCols,
			org, project, user, string(role)))
		return err
	})
	if err != nil {
		return ProjectMembership{}, pgErr("update project member role", err)
	}
	return out, nil
}

// RemoveProjectMember implements ProjectMembershipStore.
func (s *PostgresStore) RemoveProjectMember(ctx context.Context, orgID, projectID, userID string) error {
	org, project, user, ok := projectUser(orgID, projectID, userID)
	if !ok {
		return fmt.Errorf("remove project member: %w", ErrNotFound)
	}
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		return execOne(ctx, tx, "delete from strangler.project_memberships where org_id = $1 and project_id = $2 and user_id = $3", org, project, user)
	})
	if err == nil {
		s.deliverLocal(Change{Kind: ChangeMembership, OrgID: org, UserID: user})
	}
	return pgErr("remove project member", err)
}

// ---- invitations ----

const invitationCols = "id::text, org_id::text, email, role, coalesce(invited_by::text, ''), created_at, expires_at, accepted_at, revoked_at"

func scanInvitation(row pgx.Row) (Invitation, error) {
	var inv Invitation
	var accepted, revoked *time.Time
	err := row.Scan(&inv.ID, &inv.OrgID, &inv.Email, &inv.Role, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt, &accepted, &revoked)
	inv.CreatedAt, inv.ExpiresAt = inv.CreatedAt.UTC(), inv.ExpiresAt.UTC()
	inv.AcceptedAt, inv.RevokedAt = utc(accepted), utc(revoked)
	return inv, err
}

// CreateInvitation implements InvitationStore.
func (s *PostgresStore) CreateInvitation(ctx context.Context, inv Invitation) (Invitation, error) {
	id, ok := idOrNew(inv.ID)
	if !ok {
		return Invitation{}, fmt.Errorf("create invitation: id %q: %w", inv.ID, ErrInvalid)
	}
	email := normEmail(inv.Email)
	if !validEmail(email) || !inv.Role.Valid() {
		return Invitation{}, fmt.Errorf("create invitation: email and a valid role are required: %w", ErrInvalid)
	}
	org, ok := canonicalID(inv.OrgID)
	if !ok {
		return Invitation{}, fmt.Errorf("create invitation: org: %w", ErrNotFound)
	}
	inviter := ""
	if inv.InvitedBy != "" {
		if inviter, ok = canonicalID(inv.InvitedBy); !ok {
			return Invitation{}, fmt.Errorf("create invitation: inviter: %w", ErrNotFound)
		}
	}
	var out Invitation
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		// An expired, never answered invitation would hold the pending
		// unique index: retire it so the email can be invited again.
		if _, err := tx.Exec(ctx,
			"update strangler.org_invitations set revoked_at = now() where org_id = $1 and lower(email) = $2 "+
				"and accepted_at is null and revoked_at is null and expires_at <= now()", org, email); err != nil {
			return err
		}
		var err error
		out, err = scanInvitation(tx.QueryRow(ctx,
			"insert into strangler.org_invitations (id, org_id, email, role, invited_by, expires_at) "+
				"values ($1, $2, $3, $4, nullif($5, '')::uuid, coalesce($6::timestamptz, now() + $7::interval)) returning "+invitationCols,
			id, org, email, string(inv.Role), inviter, nullTime(inv.ExpiresAt), DefaultInvitationTTL))
		return err
	})
	if err != nil {
		return Invitation{}, pgErr("create invitation", err)
	}
	return out, nil
}

// ListInvitations implements InvitationStore.
func (s *PostgresStore) ListInvitations(ctx context.Context, orgID string) ([]Invitation, error) {
	org, ok := canonicalID(orgID)
	if !ok {
		return []Invitation{}, nil
	}
	var out []Invitation
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("select "+invitationCols+" from strangler.org_invitations where org_id = $1 "+
			"and accepted_at is null and revoked_at is null order by email collate \"C\", id", org).
			Query(func(rows pgx.Rows) (err error) {
				out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) { return scanInvitation(r) })
				return err
			})
	})
	if err != nil {
		return nil, pgErr("list invitations", err)
	}
	return nonNil(out), nil
}

// RevokeInvitation implements InvitationStore.
func (s *PostgresStore) RevokeInvitation(ctx context.Context, orgID, invitationID string) error {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(invitationID)
	if !ok1 || !ok2 {
		return fmt.Errorf("revoke invitation: %w", ErrNotFound)
	}
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		return execOne(ctx, tx, "update strangler.org_invitations set revoked_at = now() "+
			"where org_id = $1 and id = $2 and accepted_at is null and revoked_at is null", org, id)
	})
	return pgErr("revoke invitation", err)
}

// AcceptInvitations implements InvitationStore in one transaction: the
// pending invitations come from strangler.pending_invitations_for_email;
// each org's membership is written with strangler.org_id switched to that
// org (set_config is transaction-local and may change between statements).
func (s *PostgresStore) AcceptInvitations(ctx context.Context, userID, email string) ([]Membership, error) {
	user, ok := canonicalID(userID)
	if !ok {
		return nil, fmt.Errorf("accept invitations: user: %w", ErrNotFound)
	}
	e := normEmail(email)
	out := []Membership{}
	err := s.inTx(ctx, "", user, func(tx pgx.Tx) error {
		var own string
		if err := tx.QueryRow(ctx, "select coalesce(email, '') from strangler.users where id = $1", user).Scan(&own); err != nil {
			return err
		}
		if e == "" || own != e {
			return fmt.Errorf("email is not the user's: %w", ErrInvalid)
		}
		type pending struct {
			id, org string
			role    Role
		}
		rows, _ := tx.Query(ctx, "select id::text, org_id::text, role from strangler.pending_invitations_for_email($1)", e)
		invs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pending, error) {
			var p pending
			return p, r.Scan(&p.id, &p.org, &p.role)
		})
		if err != nil {
			return err
		}
		for _, inv := range invs {
			if _, err := tx.Exec(ctx, setTenantSQL, inv.org, user); err != nil {
				return err
			}
			rows, _ := tx.Query(ctx,
				"insert into strangler.org_memberships (org_id, user_id, role) values ($1, $2, $3) "+
					"on conflict (org_id, user_id) do nothing returning "+membershipCols, inv.org, user, string(inv.role))
			added, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) { return scanMembership(r) })
			if err != nil {
				return err
			}
			out = append(out, added...)
			if _, err := tx.Exec(ctx, "update strangler.org_invitations set accepted_at = now() "+
				"where id = $1 and accepted_at is null and revoked_at is null", inv.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, pgErr("accept invitations", err)
	}
	slices.SortFunc(out, func(a, b Membership) int { return strings.Compare(a.OrgID, b.OrgID) })
	return out, nil
}

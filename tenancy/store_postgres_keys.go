package tenancy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ---- API keys ----

const apiKeyCols = "id::text, org_id::text, coalesce(project_id::text, ''), name, prefix, secret_hash, role, scopes, " +
	"coalesce(created_by::text, ''), created_at, expires_at, revoked_at, last_used_at"

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	var expires, revoked, used *time.Time
	err := row.Scan(&k.ID, &k.OrgID, &k.ProjectID, &k.Name, &k.Prefix, &k.Hash, &k.Role, &k.Scopes,
		&k.CreatedBy, &k.CreatedAt, &expires, &revoked, &used)
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = utc(expires), utc(revoked), utc(used)
	k.Scopes = nonNil(k.Scopes)
	return k, err
}

// CreateAPIKey implements APIKeyStore. The composite foreign key
// (org_id, project_id) refuses a project of another org.
func (s *PostgresStore) CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	id, ok := idOrNew(k.ID)
	if !ok {
		return APIKey{}, fmt.Errorf("create api key: id %q: %w", k.ID, ErrInvalid)
	}
	if err := validateAPIKey(k); err != nil {
		return APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	org, ok := canonicalID(k.OrgID)
	if !ok {
		return APIKey{}, fmt.Errorf("create api key: org: %w", ErrNotFound)
	}
	project, creator := "", ""
	if k.ProjectID != "" {
		if project, ok = canonicalID(k.ProjectID); !ok {
			return APIKey{}, fmt.Errorf("create api key: project: %w", ErrNotFound)
		}
	}
	if k.CreatedBy != "" {
		if creator, ok = canonicalID(k.CreatedBy); !ok {
			return APIKey{}, fmt.Errorf("create api key: creator: %w", ErrNotFound)
		}
	}
	var out APIKey
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		var err error
		out, err = scanAPIKey(tx.QueryRow(ctx,
			"insert into strangler.api_keys (id, org_id, project_id, name, prefix, secret_hash, role, scopes, expires_at, created_by) "+
				"values ($1, $2, nullif($3, '')::uuid, $4, $5, $6, $7, $8, $9, nullif($10, '')::uuid) returning "+apiKeyCols,
			id, org, project, k.Name, k.Prefix, k.Hash, string(k.Role), cloneStrings(k.Scopes), nullTime(k.ExpiresAt), creator))
		return err
	})
	if err != nil {
		return APIKey{}, pgErr("create api key", err)
	}
	return out, nil
}

// getAPIKeyByPrefixSQL is the hot lookup of API key authentication: one
// statement, one round trip, the unique index on prefix.
const getAPIKeyByPrefixSQL = "select " + apiKeyCols + " from strangler.find_api_key_by_prefix($1)"

// GetAPIKeyByPrefix implements APIKeyStore.
func (s *PostgresStore) GetAPIKeyByPrefix(ctx context.Context, prefix string) (APIKey, error) {
	if prefix == "" {
		return APIKey{}, fmt.Errorf("get api key by prefix: %w", ErrNotFound)
	}
	k, err := scanAPIKey(s.pool.QueryRow(ctx, getAPIKeyByPrefixSQL, prefix))
	if err != nil {
		return APIKey{}, pgErr("get api key by prefix", err)
	}
	return k, nil
}

// GetAPIKey implements APIKeyStore.
func (s *PostgresStore) GetAPIKey(ctx context.Context, orgID, keyID string) (APIKey, error) {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(keyID)
	if !ok1 || !ok2 {
		return APIKey{}, fmt.Errorf("get api key: %w", ErrNotFound)
	}
	var out APIKey
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("select "+apiKeyCols+" from strangler.api_keys where org_id = $1 and id = $2", org, id).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanAPIKey(row); return err })
	})
	if err != nil {
		return APIKey{}, pgErr("get api key", err)
	}
	return out, nil
}

// ListAPIKeys implements APIKeyStore.
func (s *PostgresStore) ListAPIKeys(ctx context.Context, orgID string) ([]APIKey, error) {
	org, ok := canonicalID(orgID)
	if !ok {
		return []APIKey{}, nil
	}
	var out []APIKey
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("select "+apiKeyCols+" from strangler.api_keys where org_id = $1 order by created_at desc, id desc", org).
			Query(func(rows pgx.Rows) (err error) {
				out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
				return err
			})
	})
	if err != nil {
		return nil, pgErr("list api keys", err)
	}
	return nonNil(out), nil
}

// RevokeAPIKey implements APIKeyStore. The api_keys trigger announces the
// revocation to every replica.
func (s *PostgresStore) RevokeAPIKey(ctx context.Context, orgID, keyID string) (APIKey, error) {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(keyID)
	if !ok1 || !ok2 {
		return APIKey{}, fmt.Errorf("revoke api key: %w", ErrNotFound)
	}
	var out APIKey
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		var err error
		out, err = scanAPIKey(tx.QueryRow(ctx,
			"update strangler.api_keys set revoked_at = coalesce(revoked_at, now()) where org_id = $1 and id = $2 returning "+apiKeyCols,
			org, id))
		return err
	})
	if err != nil {
		return APIKey{}, pgErr("revoke api key", err)
	}
	s.deliverLocal(Change{Kind: ChangeAPIKey, OrgID: org, ID: id})
	return out, nil
}

// TouchAPIKeys implements APIKeyStore through
// strangler.touch_api_keys_last_used (keys of any org, one statement).
func (s *PostgresStore) TouchAPIKeys(ctx context.Context, keyIDs []string, at time.Time) error {
	ids := make([]string, 0, len(keyIDs))
	for _, k := range keyIDs {
		if id, ok := canonicalID(k); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, "select strangler.touch_api_keys_last_used($1::uuid[], $2)", ids, dbTime(at))
	return pgErr("touch api keys", err)
}

// ---- sessions ----

const sessionCols = "id::text, user_id::text, coalesce(org_id::text, ''), family_id::text, coalesce(parent_id::text, ''), " +
	"token_hash, created_at, expires_at, used_at, revoked_at, user_agent, coalesce(host(ip), '')"

func scanSession(row pgx.Row) (Session, error) {
	var x Session
	var used, revoked *time.Time
	err := row.Scan(&x.ID, &x.UserID, &x.OrgID, &x.FamilyID, &x.ParentID, &x.TokenHash, &x.CreatedAt, &x.ExpiresAt,
		&used, &revoked, &x.UserAgent, &x.ClientIP)
	x.CreatedAt, x.ExpiresAt = x.CreatedAt.UTC(), x.ExpiresAt.UTC()
	x.UsedAt, x.RevokedAt = utc(used), utc(revoked)
	return x, err
}

const insertSessionSQL = "insert into strangler.sessions (id, user_id, org_id, family_id, parent_id, token_hash, expires_at, user_agent, ip) " +
	"values ($1, $2, nullif($3, '')::uuid, $4, nullif($5, '')::uuid, $6, $7, $8, nullif($9, '')::inet) returning " + sessionCols

func insertSession(ctx context.Context, tx pgx.Tx, x Session) (Session, error) {
	return scanSession(tx.QueryRow(ctx, insertSessionSQL,
		x.ID, x.UserID, x.OrgID, x.FamilyID, x.ParentID, x.TokenHash, x.ExpiresAt, x.UserAgent, x.ClientIP))
}

// CreateSession implements SessionStore (strangler.user_id = the session's
// user, as the sessions policy requires).
func (s *PostgresStore) CreateSession(ctx context.Context, x Session) (Session, error) {
	x, err := prepareSession(x)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	user, ok := canonicalID(x.UserID)
	if !ok {
		return Session{}, fmt.Errorf("create session: user: %w", ErrNotFound)
	}
	if x.OrgID != "" {
		if x.OrgID, ok = canonicalID(x.OrgID); !ok {
			return Session{}, fmt.Errorf("create session: org: %w", ErrNotFound)
		}
	}
	x.UserID, x.FamilyID, x.ParentID = user, x.ID, ""
	var out Session
	err = s.inTx(ctx, "", user, func(tx pgx.Tx) error {
		var err error
		out, err = insertSession(ctx, tx, x)
		return err
	})
	if err != nil {
		return Session{}, pgErr("create session", err)
	}
	return out, nil
}

// GetSessionByTokenHash implements SessionStore through
// strangler.find_session_by_token_hash.
func (s *PostgresStore) GetSessionByTokenHash(ctx context.Context, hash []byte) (Session, error) {
	if len(hash) == 0 {
		return Session{}, fmt.Errorf("get session by token hash: %w", ErrNotFound)
	}
	x, err := scanSession(s.pool.QueryRow(ctx, "select "+sessionCols+" from strangler.find_session_by_token_hash($1)", hash))
	if err != nil {
		return Session{}, pgErr("get session by token hash", err)
	}
	return x, nil
}

// GetSession implements SessionStore.
func (s *PostgresStore) GetSession(ctx context.Context, userID, sessionID string) (Session, error) {
	user, ok1 := canonicalID(userID)
	id, ok2 := canonicalID(sessionID)
	if !ok1 || !ok2 {
		return Session{}, fmt.Errorf("get session: %w", ErrNotFound)
	}
	var out Session
	err := s.readScoped(ctx, "", user, func(b *pgx.Batch) {
		b.Queue("select "+sessionCols+" from strangler.sessions where user_id = $1 and id = $2", user, id).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanSession(row); return err })
	})
	if err != nil {
		return Session{}, pgErr("get session", err)
	}
	return out, nil
}

// RotateSession implements SessionStore. The parent row is locked, so
// concurrent rotations of one token are ordered; a reuse outside the grace
// window revokes the family and commits before reporting ErrTokenReused.
func (s *PostgresStore) RotateSession(ctx context.Context, in RotateInput) (Session, error) {
	child, err := prepareSession(in.Child)
	if err != nil {
		return Session{}, fmt.Errorf("rotate session: %w", err)
	}
	parentID, ok1 := canonicalID(in.ParentID)
	user, ok2 := canonicalID(in.UserID)
	if !ok1 || !ok2 {
		return Session{}, fmt.Errorf("rotate session: %w", ErrNotFound)
	}
	now := dbTime(in.Now)
	var out Session
	err = s.inTx(ctx, "", user, func(tx pgx.Tx) error {
		parent, err := scanSession(tx.QueryRow(ctx,
			"select "+sessionCols+" from strangler.sessions where user_id = $1 and id = $2 for update", user, parentID))
		if err != nil {
			return err
		}
		if !parent.RevokedAt.IsZero() {
			return ErrRevoked
		}
		if !parent.UsedAt.IsZero() && now.Sub(parent.UsedAt) > in.Grace {
			if _, err := tx.Exec(ctx, "update strangler.sessions set revoked_at = now() where user_id = $1 and family_id = $2 and revoked_at is null",
				user, parent.FamilyID); err != nil {
				return err
			}
			if err := notifySessions(ctx, tx, user, parent.FamilyID); err != nil {
				return err
			}
			return afterCommit{ErrTokenReused}
		}
		child.UserID, child.OrgID, child.FamilyID, child.ParentID = parent.UserID, parent.OrgID, parent.FamilyID, parent.ID
		if out, err = insertSession(ctx, tx, child); err != nil {
			return err
		}
		if parent.UsedAt.IsZero() {
			_, err = tx.Exec(ctx, "update strangler.sessions set used_at = $3 where user_id = $1 and id = $2", user, parent.ID, now)
		}
		return err
	})
	if err != nil {
		return Session{}, pgErr("rotate session", err)
	}
	return out, nil
}

// notifySessions announces a revocation on the tenancy channel (the
// sessions table has no notify trigger), inside the revoking transaction,
// so it is delivered exactly when the revocation commits. An empty family
// means every family of the user.
func notifySessions(ctx context.Context, tx pgx.Tx, user, family string) error {
	payload, err := json.Marshal(changePayload{Table: "sessions", Op: "UPDATE", ID: family, UserID: user})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "select pg_notify($1, $2)", changeChannel, string(payload))
	return err
}

// RevokeSessionFamily implements SessionStore.
func (s *PostgresStore) RevokeSessionFamily(ctx context.Context, userID, familyID string) error {
	user, ok1 := canonicalID(userID)
	family, ok2 := canonicalID(familyID)
	if !ok1 || !ok2 {
		return fmt.Errorf("revoke session family: %w", ErrNotFound)
	}
	err := s.inTx(ctx, "", user, func(tx pgx.Tx) error {
		if err := execOne(ctx, tx, "update strangler.sessions set revoked_at = coalesce(revoked_at, now()) where user_id = $1 and family_id = $2",
			user, family); err != nil {
			return err
		}
		return notifySessions(ctx, tx, user, family)
	})
	if err == nil {
		s.deliverLocal(Change{Kind: ChangeSession, UserID: user, ID: family})
	}
	return pgErr("revoke session family", err)
}

// RevokeUserSessions implements SessionStore.
func (s *PostgresStore) RevokeUserSessions(ctx context.Context, userID string) error {
	user, ok := canonicalID(userID)
	if !ok {
		return nil
	}
	err := s.inTx(ctx, "", user, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "update strangler.sessions set revoked_at = now() where user_id = $1 and revoked_at is null", user); err != nil {
			return err
		}
		return notifySessions(ctx, tx, user, "")
	})
	if err == nil {
		s.deliverLocal(Change{Kind: ChangeSession, UserID: user})
	}
	return pgErr("revoke user sessions", err)
}

// ListSessions implements SessionStore.
func (s *PostgresStore) ListSessions(ctx context.Context, userID string) ([]Session, error) {
	user, ok := canonicalID(userID)
	if !ok {
		return []Session{}, nil
	}
	var out []Session
	err := s.readScoped(ctx, "", user, func(b *pgx.Batch) {
		b.Queue("select "+sessionCols+" from strangler.sessions where user_id = $1 and used_at is null and revoked_at is null "+
			"order by created_at desc, id desc", user).
			Query(func(rows pgx.Rows) (err error) {
				out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) { return scanSession(r) })
				return err
			})
	})
	if err != nil {
		return nil, pgErr("list sessions", err)
	}
	return nonNil(out), nil
}

// ---- admin tokens ----

const adminTokenCols = "id::text, name, coalesce(user_id::text, ''), single_use, created_at, expires_at, used_at, last_used_at, revoked_at"

func scanAdminToken(row pgx.Row) (AdminToken, error) {
	var t AdminToken
	var expires, used, last, revoked *time.Time
	err := row.Scan(&t.ID, &t.Name, &t.UserID, &t.SingleUse, &t.CreatedAt, &expires, &used, &last, &revoked)
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt, t.UsedAt, t.LastUsedAt, t.RevokedAt = utc(expires), utc(used), utc(last), utc(revoked)
	return t, err
}

// CreateAdminToken implements AdminTokenStore. The runtime role may insert
// and read every column but token_hash.
func (s *PostgresStore) CreateAdminToken(ctx context.Context, t AdminToken) (AdminToken, error) {
	id, ok := idOrNew(t.ID)
	if !ok {
		return AdminToken{}, fmt.Errorf("create admin token: id %q: %w", t.ID, ErrInvalid)
	}
	if len(t.Hash) != 32 || !validName(t.Name) {
		return AdminToken{}, fmt.Errorf("create admin token: a SHA-256 hash and a name are required: %w", ErrInvalid)
	}
	user := ""
	if t.UserID != "" {
		if user, ok = canonicalID(t.UserID); !ok {
			return AdminToken{}, fmt.Errorf("create admin token: user: %w", ErrNotFound)
		}
	}
	out, err := scanAdminToken(s.pool.QueryRow(ctx,
		"insert into strangler.admin_tokens (id, name, token_hash, user_id, single_use, expires_at) "+
			"values ($1, $2, $3, nullif($4, '')::uuid, $5, $6) returning "+adminTokenCols,
		id, t.Name, t.Hash, user, t.SingleUse, nullTime(t.ExpiresAt)))
	if err != nil {
		return AdminToken{}, pgErr("create admin token", err)
	}
	return out, nil
}

// AuthenticateAdminToken implements AdminTokenStore through
// strangler.authenticate_admin_token (check and record the use in one
// statement).
func (s *PostgresStore) AuthenticateAdminToken(ctx context.Context, hash []byte) (AdminToken, error) {
	var t AdminToken
	var expires *time.Time
	err := s.pool.QueryRow(ctx,
		"select id::text, name, coalesce(user_id::text, ''), single_use, created_at, expires_at from strangler.authenticate_admin_token($1)", hash).
		Scan(&t.ID, &t.Name, &t.UserID, &t.SingleUse, &t.CreatedAt, &expires)
	if err != nil {
		return AdminToken{}, pgErr("authenticate admin token", err)
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), utc(expires)
	return t, nil
}

// ListAdminTokens implements AdminTokenStore.
func (s *PostgresStore) ListAdminTokens(ctx context.Context) ([]AdminToken, error) {
	rows, _ := s.pool.Query(ctx, "select "+adminTokenCols+" from strangler.list_admin_tokens()")
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AdminToken, error) { return scanAdminToken(r) })
	if err != nil {
		return nil, pgErr("list admin tokens", err)
	}
	return nonNil(out), nil
}

// RevokeAdminToken implements AdminTokenStore through
// strangler.revoke_admin_token, and announces the revocation.
func (s *PostgresStore) RevokeAdminToken(ctx context.Context, tokenID string) error {
	id, ok := canonicalID(tokenID)
	if !ok {
		return fmt.Errorf("revoke admin token: %w", ErrNotFound)
	}
	payload, err := json.Marshal(changePayload{Table: "admin_tokens", Op: "UPDATE", ID: id})
	if err != nil {
		return fmt.Errorf("revoke admin token: %w", err)
	}
	var revoked bool
	err = s.inTx(ctx, "", UserIDFrom(ctx), func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "select strangler.revoke_admin_token($1)", id).Scan(&revoked); err != nil || !revoked {
			return err
		}
		_, err := tx.Exec(ctx, "select pg_notify($1, $2)", changeChannel, string(payload))
		return err
	})
	if err != nil {
		return pgErr("revoke admin token", err)
	}
	if !revoked {
		return fmt.Errorf("revoke admin token: %w", ErrNotFound)
	}
	return nil
}

// ---- audit ----

const auditCols = "id, coalesce(org_id::text, ''), actor_type, actor_id, actor, action, target_type, target_id, " +
	"before, after, reason, request_id, coalesce(host(client_ip), ''), created_at"

func scanAudit(row pgx.Row) (AuditEntry, error) {
	var e AuditEntry
	var id int64
	var before, after []byte
	err := row.Scan(&id, &e.OrgID, &e.ActorType, &e.ActorID, &e.Actor, &e.Action, &e.TargetType, &e.TargetID,
		&before, &after, &e.Reason, &e.RequestID, &e.ClientIP, &e.CreatedAt)
	e.ID = strconv.FormatInt(id, 10)
	e.CreatedAt = e.CreatedAt.UTC()
	if before != nil {
		e.Before = json.RawMessage(before)
	}
	if after != nil {
		e.After = json.RawMessage(after)
	}
	return e, err
}

// AppendAudit implements AuditStore: set_config and the insert in one round
// trip. No RETURNING: a platform entry (org NULL) is not readable by the
// runtime role, so returning it would fail the SELECT policy.
func (s *PostgresStore) AppendAudit(ctx context.Context, e AuditEntry) error {
	e, err := prepareAudit(e)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	err = s.readScoped(ctx, e.OrgID, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("insert into strangler.audit_logs (org_id, actor_type, actor_id, actor, action, target_type, target_id, "+
			"before, after, reason, request_id, client_ip) values (nullif($1, '')::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, nullif($12, '')::inet)",
			e.OrgID, e.ActorType, e.ActorID, e.Actor, e.Action, e.TargetType, e.TargetID,
			jsonParam(e.Before), jsonParam(e.After), e.Reason, e.RequestID, e.ClientIP)
	})
	return pgErr("append audit", err)
}

// jsonParam passes raw JSON to a jsonb parameter, nil as NULL.
func jsonParam(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}

// auditCursor parses a cursor (the ID of the last entry seen).
func auditCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("cursor: %w", ErrInvalid)
	}
	return n, nil
}

// ListAuditEntries implements AuditStore: filters in SQL, keyset paging on
// id, one row more than the page to know whether another page exists.
func (s *PostgresStore) ListAuditEntries(ctx context.Context, f AuditFilter) (AuditPage, error) {
	org, ok := canonicalID(f.OrgID)
	if !ok {
		if f.OrgID == "" {
			return AuditPage{}, fmt.Errorf("list audit entries: org is required: %w", ErrInvalid)
		}
		return AuditPage{Entries: []AuditEntry{}}, nil
	}
	before, err := auditCursor(f.Cursor)
	if err != nil {
		return AuditPage{}, fmt.Errorf("list audit entries: %w", err)
	}
	var where strings.Builder
	args := []any{org}
	where.WriteString("org_id = $1")
	add := func(cond string, v any) {
		args = append(args, v)
		fmt.Fprintf(&where, " and "+cond, len(args))
	}
	if before > 0 {
		add("id < $%d", before)
	}
	if f.ActorID != "" {
		add("actor_id = $%d", f.ActorID)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if f.TargetType != "" {
		add("target_type = $%d", f.TargetType)
	}
	if f.TargetID != "" {
		add("target_id = $%d", f.TargetID)
	}
	if !f.Since.IsZero() {
		add("created_at >= $%d", dbTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < $%d", dbTime(f.Until))
	}
	limit := f.limit()
	args = append(args, limit+1)
	sql := fmt.Sprintf("select %s from strangler.audit_logs where %s order by id desc limit $%d", auditCols, where.String(), len(args))
	var entries []AuditEntry
	err = s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) {
			entries, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) { return scanAudit(r) })
			return err
		})
	})
	if err != nil {
		return AuditPage{}, pgErr("list audit entries", err)
	}
	return auditPage(entries, limit), nil
}

// auditPage cuts a limit+1 result to a page and its cursor.
func auditPage(entries []AuditEntry, limit int) AuditPage {
	if len(entries) > limit {
		entries = entries[:limit]
		return AuditPage{Entries: entries, NextCursor: entries[limit-1].ID}
	}
	return AuditPage{Entries: nonNil(entries)}
}

// ListPlatformAuditEntries implements AuditStore through
// strangler.list_audit_logs, which filters across orgs in SQL.
func (s *PostgresStore) ListPlatformAuditEntries(ctx context.Context, f AuditFilter) (AuditPage, error) {
	var org any
	if f.OrgID != "" {
		id, ok := canonicalID(f.OrgID)
		if !ok {
			return AuditPage{Entries: []AuditEntry{}}, nil
		}
		org = id
	}
	before, err := auditCursor(f.Cursor)
	if err != nil {
		return AuditPage{}, fmt.Errorf("list platform audit entries: %w", err)
	}
	var cursor any
	if before > 0 {
		cursor = before
	}
	limit := f.limit()
	rows, _ := s.pool.Query(ctx, "select "+auditCols+" from strangler.list_audit_logs($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		org, cursor, limit+1, nullString(f.ActorID), nullString(f.Action), nullString(f.TargetType), nullString(f.TargetID),
		nullTime(dbTime(f.Since)), nullTime(dbTime(f.Until)))
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) { return scanAudit(r) })
	if err != nil {
		return AuditPage{}, pgErr("list platform audit entries", err)
	}
	return auditPage(entries, limit), nil
}

// nullString returns nil (SQL NULL: "any" for the filter functions) for "".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

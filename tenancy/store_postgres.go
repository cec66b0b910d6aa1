package tenancy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// PostgresStore is the Store on PostgreSQL (schema `strangler`, migrations
// 001–009), meant to connect as the runtime role strangler_app, which
// row-level security binds.
//
// How it keeps tenants apart:
//   - Org-scoped work runs in one transaction whose first statement is
//     `select set_config('strangler.org_id', $1, true),
//     set_config('strangler.user_id', $2, true)` — transaction-local, so
//     nothing leaks to the next borrower of a pooled connection. Reads are
//     sent as one pipelined batch (set_config + query, an implicit
//     transaction: one round trip); writes use an explicit transaction whose
//     BEGIN travels with the set_config. Queries also name the org in their
//     WHERE clauses; RLS is the second wall, not the only one.
//   - User-scoped work (a user's own row, sessions) sets strangler.user_id
//     to that user, as the users and sessions policies require.
//   - Cross-tenant lookups go through the schema's SECURITY DEFINER
//     functions (find_api_key_by_prefix, find_user_by_email, ...), single
//     statements without a transaction.
//
// IDs are generated here, not by the database, so the org context of a new
// org can be set before the org row exists: creating an org (and bootstrap)
// needs no owner connection.
type PostgresStore struct {
	pool *pgxpool.Pool
	log  *zap.Logger
	// reconnectDelay is the pause before the change listener reconnects.
	reconnectDelay time.Duration

	// Change notification (store_postgres_notify.go).
	subMu     sync.Mutex
	subs      map[int]func(Change)
	nextSub   int
	live      bool // the listener is connected and LISTENing
	closed    bool // Close was called: no listener starts again
	deliverMu sync.Mutex
	stop      context.CancelFunc
	done      chan struct{}
}

var (
	_ Store          = (*PostgresStore)(nil)
	_ ChangeNotifier = (*PostgresStore)(nil)
)

// PostgresOption configures a PostgresStore.
type PostgresOption func(*PostgresStore)

// WithPostgresLogger sets the logger for background errors (the change
// listener's connection failures). Default: no logging.
func WithPostgresLogger(l *zap.Logger) PostgresOption {
	return func(s *PostgresStore) { s.log = l }
}

// WithListenerReconnectDelay sets how long the change listener waits before
// reconnecting after losing its connection. Default 1s: subscribers get
// ChangeAll on reconnection, so a short outage costs one cache flush.
func WithListenerReconnectDelay(d time.Duration) PostgresOption {
	return func(s *PostgresStore) { s.reconnectDelay = d }
}

// NewPostgresStore returns a store on pool. The caller keeps ownership of
// the pool; Close stops only the store's change listener. The connecting
// role should be strangler_app (see migrations.CheckRuntimeRole): as a
// superuser or BYPASSRLS role the store still works, but row-level security
// no longer backs it up.
func NewPostgresStore(pool *pgxpool.Pool, opts ...PostgresOption) *PostgresStore {
	s := &PostgresStore{
		pool:           pool,
		log:            zap.NewNop(),
		reconnectDelay: time.Second,
		subs:           map[int]func(Change){},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Close stops the change listener, if one was started. It does not close
// the pool.
func (s *PostgresStore) Close() {
	s.subMu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.closed = nil, true
	s.subMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// setTenantSQL sets the tenant context of the current transaction.
const setTenantSQL = "select set_config('strangler.org_id', $1, true), set_config('strangler.user_id', $2, true)"

// afterCommit makes inTx commit and then return err: work that must stay
// done although the operation reports a failure (revoking a token family on
// refresh-token reuse).
type afterCommit struct{ err error }

func (a afterCommit) Error() string { return a.err.Error() }
func (a afterCommit) Unwrap() error { return a.err }

// inTx runs fn in a transaction whose tenant context is (orgID, userID).
// BEGIN and set_config travel in one round trip. fn's error rolls back,
// except an afterCommit, which commits first.
func (s *PostgresStore) inTx(ctx context.Context, orgID, userID string, fn func(pgx.Tx) error) (err error) {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(setTenantSQL, orgID, userID)
	br := s.pool.SendBatch(ctx, b)
	tx := br.Tx()
	if err := br.Close(); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := fn(tx); err != nil {
		var ac afterCommit
		if errors.As(err, &ac) {
			if cerr := tx.Commit(ctx); cerr != nil {
				return cerr
			}
			return ac.err
		}
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return tx.Commit(ctx)
}

// readScoped sends set_config and the queries queued by queue as one
// pipelined batch: one round trip, one implicit transaction, so the
// transaction-local tenant context applies to the queries and ends with
// them.
func (s *PostgresStore) readScoped(ctx context.Context, orgID, userID string, queue func(*pgx.Batch)) error {
	b := &pgx.Batch{}
	b.Queue(setTenantSQL, orgID, userID)
	queue(b)
	return s.pool.SendBatch(ctx, b).Close()
}

// pgErr maps a database error to the store's sentinels, keeping the driver
// error in the chain for logs.
func pgErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		var sentinel error
		switch pe.Code {
		case "23505": // unique_violation
			sentinel = ErrConflict
		case "23503": // foreign_key_violation: the referenced row is missing, or another org's
			sentinel = ErrNotFound
		case "42501": // insufficient_privilege: a row-level security check failed
			sentinel = ErrForbidden
		case "23514", "23502", "22P02", "22001", "22023", "22007", "22008": // check, not null, bad text, too long, ...
			sentinel = ErrInvalid
		}
		if sentinel != nil {
			return fmt.Errorf("%s: %w: %w", op, sentinel, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// nullTime returns nil for the zero time (SQL NULL) and t otherwise.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// utc converts a scanned nullable timestamp to the store's form: UTC, zero
// for NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// ---- organizations ----

const orgCols = "id::text, slug, name, created_at, updated_at"

func scanOrg(row pgx.Row) (Org, error) {
	var o Org
	err := row.Scan(&o.ID, &o.Slug, &o.Name, &o.CreatedAt, &o.UpdatedAt)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, err
}

// CreateOrg implements OrgStore.
func (s *PostgresStore) CreateOrg(ctx context.Context, org Org, ownerUserID string) (Org, error) {
	id, ok := idOrNew(org.ID)
	if !ok {
		return Org{}, fmt.Errorf("create org: id %q: %w", org.ID, ErrInvalid)
	}
	org.Slug = normSlug(org.Slug)
	if !validSlug(org.Slug) || !validName(org.Name) {
		return Org{}, fmt.Errorf("create org: slug %q or name: %w", org.Slug, ErrInvalid)
	}
	owner := ""
	if ownerUserID != "" {
		if owner, ok = canonicalID(ownerUserID); !ok {
			return Org{}, fmt.Errorf("create org: owner %q: %w", ownerUserID, ErrNotFound)
		}
	}
	var out Org
	err := s.inTx(ctx, id, owner, func(tx pgx.Tx) error {
		var err error
		out, err = scanOrg(tx.QueryRow(ctx,
			"insert into strangler.organizations (id, slug, name) values ($1, $2, $3) returning "+orgCols,
			id, org.Slug, org.Name))
		if err != nil {
			return err
		}
		if owner != "" {
			_, err = tx.Exec(ctx, "insert into strangler.org_memberships (org_id, user_id, role) values ($1, $2, 'owner')", id, owner)
		}
		return err
	})
	if err != nil {
		return Org{}, pgErr("create org", err)
	}
	return out, nil
}

// GetOrg implements OrgStore.
func (s *PostgresStore) GetOrg(ctx context.Context, orgID string) (Org, error) {
	id, ok := canonicalID(orgID)
	if !ok {
		return Org{}, fmt.Errorf("get org: %w", ErrNotFound)
	}
	o, err := scanOrg(s.pool.QueryRow(ctx, "select "+orgCols+" from strangler.find_organization_by_id($1)", id))
	if err != nil {
		return Org{}, pgErr("get org", err)
	}
	return o, nil
}

// GetOrgBySlug implements OrgStore.
func (s *PostgresStore) GetOrgBySlug(ctx context.Context, slug string) (Org, error) {
	slug = normSlug(slug)
	if slug == "" {
		return Org{}, fmt.Errorf("get org by slug: %w", ErrNotFound)
	}
	o, err := scanOrg(s.pool.QueryRow(ctx, "select "+orgCols+" from strangler.find_organization_by_slug($1)", slug))
	if err != nil {
		return Org{}, pgErr("get org by slug", err)
	}
	return o, nil
}

// ListOrgs implements OrgStore.
func (s *PostgresStore) ListOrgs(ctx context.Context, opts ListOptions) ([]Org, error) {
	rows, _ := s.pool.Query(ctx, "select "+orgCols+" from strangler.list_organizations($1, $2)", opts.After, opts.limit())
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Org, error) { return scanOrg(r) })
	if err != nil {
		return nil, pgErr("list orgs", err)
	}
	return nonNil(out), nil
}

// UpdateOrg implements OrgStore.
func (s *PostgresStore) UpdateOrg(ctx context.Context, orgID string, patch OrgPatch) (Org, error) {
	id, ok := canonicalID(orgID)
	if !ok {
		return Org{}, fmt.Errorf("update org: %w", ErrNotFound)
	}
	if patch.Name != nil && !validName(*patch.Name) {
		return Org{}, fmt.Errorf("update org: name: %w", ErrInvalid)
	}
	var slug *string
	if patch.Slug != nil {
		v := normSlug(*patch.Slug)
		if !validSlug(v) {
			return Org{}, fmt.Errorf("update org: slug %q: %w", v, ErrInvalid)
		}
		slug = &v
	}
	var out Org
	err := s.inTx(ctx, id, UserIDFrom(ctx), func(tx pgx.Tx) error {
		var err error
		out, err = scanOrg(tx.QueryRow(ctx,
			"update strangler.organizations set slug = coalesce($2, slug), name = coalesce($3, name) where id = $1 returning "+orgCols,
			id, slug, patch.Name))
		return err
	})
	if err != nil {
		return Org{}, pgErr("update org", err)
	}
	return out, nil
}

// DeleteOrg implements OrgStore. The foreign keys cascade to projects,
// memberships, invitations and API keys, and clear default orgs and session
// orgs; audit_logs has no foreign key, so the history stays.
func (s *PostgresStore) DeleteOrg(ctx context.Context, orgID string) error {
	id, ok := canonicalID(orgID)
	if !ok {
		return fmt.Errorf("delete org: %w", ErrNotFound)
	}
	err := s.inTx(ctx, id, UserIDFrom(ctx), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "delete from strangler.organizations where id = $1", id)
		if err == nil && tag.RowsAffected() == 0 {
			err = pgx.ErrNoRows
		}
		return err
	})
	if err == nil {
		s.deliverLocal(Change{Kind: ChangeOrg, ID: id})
	}
	return pgErr("delete org", err)
}

// ---- projects ----

const projectCols = "id::text, org_id::text, slug, name, created_at, updated_at"

func scanProject(row pgx.Row) (Project, error) {
	var p Project
	err := row.Scan(&p.ID, &p.OrgID, &p.Slug, &p.Name, &p.CreatedAt, &p.UpdatedAt)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

// CreateProject implements ProjectStore.
func (s *PostgresStore) CreateProject(ctx context.Context, p Project) (Project, error) {
	id, ok := idOrNew(p.ID)
	if !ok {
		return Project{}, fmt.Errorf("create project: id %q: %w", p.ID, ErrInvalid)
	}
	org, ok := canonicalID(p.OrgID)
	if !ok {
		return Project{}, fmt.Errorf("create project: org: %w", ErrNotFound)
	}
	p.Slug = normSlug(p.Slug)
	if !validSlug(p.Slug) || !validName(p.Name) {
		return Project{}, fmt.Errorf("create project: slug %q or name: %w", p.Slug, ErrInvalid)
	}
	var out Project
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		var err error
		out, err = scanProject(tx.QueryRow(ctx,
			"insert into strangler.projects (id, org_id, slug, name) values ($1, $2, $3, $4) returning "+projectCols,
			id, org, p.Slug, p.Name))
		return err
	})
	if err != nil {
		return Project{}, pgErr("create project", err)
	}
	return out, nil
}

// GetProject implements ProjectStore.
func (s *PostgresStore) GetProject(ctx context.Context, orgID, projectID string) (Project, error) {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(projectID)
	if !ok1 || !ok2 {
		return Project{}, fmt.Errorf("get project: %w", ErrNotFound)
	}
	return s.oneProject(ctx, "get project", org, "id = $2", id)
}

// GetProjectBySlug implements ProjectStore.
func (s *PostgresStore) GetProjectBySlug(ctx context.Context, orgID, slug string) (Project, error) {
	org, ok := canonicalID(orgID)
	if !ok {
		return Project{}, fmt.Errorf("get project by slug: %w", ErrNotFound)
	}
	return s.oneProject(ctx, "get project by slug", org, "slug = $2", normSlug(slug))
}

func (s *PostgresStore) oneProject(ctx context.Context, op, org, cond string, arg any) (Project, error) {
	var out Project
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("select "+projectCols+" from strangler.projects where org_id = $1 and "+cond, org, arg).
			QueryRow(func(row pgx.Row) (err error) { out, err = scanProject(row); return err })
	})
	if err != nil {
		return Project{}, pgErr(op, err)
	}
	return out, nil
}

// ListProjects implements ProjectStore.
func (s *PostgresStore) ListProjects(ctx context.Context, orgID string) ([]Project, error) {
	org, ok := canonicalID(orgID)
	if !ok {
		return []Project{}, nil
	}
	var out []Project
	err := s.readScoped(ctx, org, UserIDFrom(ctx), func(b *pgx.Batch) {
		b.Queue("select "+projectCols+" from strangler.projects where org_id = $1 order by slug collate \"C\"", org).
			Query(func(rows pgx.Rows) (err error) {
				out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Project, error) { return scanProject(r) })
				return err
			})
	})
	if err != nil {
		return nil, pgErr("list projects", err)
	}
	return nonNil(out), nil
}

// UpdateProject implements ProjectStore.
func (s *PostgresStore) UpdateProject(ctx context.Context, orgID, projectID string, patch ProjectPatch) (Project, error) {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(projectID)
	if !ok1 || !ok2 {
		return Project{}, fmt.Errorf("update project: %w", ErrNotFound)
	}
	if patch.Name != nil && !validName(*patch.Name) {
		return Project{}, fmt.Errorf("update project: name: %w", ErrInvalid)
	}
	var slug *string
	if patch.Slug != nil {
		v := normSlug(*patch.Slug)
		if !validSlug(v) {
			return Project{}, fmt.Errorf("update project: slug %q: %w", v, ErrInvalid)
		}
		slug = &v
	}
	var out Project
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		var err error
		out, err = scanProject(tx.QueryRow(ctx,
			"update strangler.projects set slug = coalesce($3, slug), name = coalesce($4, name) where org_id = $1 and id = $2 returning "+projectCols,
			org, id, slug, patch.Name))
		return err
	})
	if err != nil {
		return Project{}, pgErr("update project", err)
	}
	return out, nil
}

// DeleteProject implements ProjectStore; project memberships and the
// project's API keys go with it (foreign keys ON DELETE CASCADE).
func (s *PostgresStore) DeleteProject(ctx context.Context, orgID, projectID string) error {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(projectID)
	if !ok1 || !ok2 {
		return fmt.Errorf("delete project: %w", ErrNotFound)
	}
	err := s.inTx(ctx, org, UserIDFrom(ctx), func(tx pgx.Tx) error {
		return execOne(ctx, tx, "delete from strangler.projects where org_id = $1 and id = $2", org, id)
	})
	if err == nil {
		s.deliverLocal(Change{Kind: ChangeProject, OrgID: org, ID: id})
	}
	return pgErr("delete project", err)
}

// execOne runs a statement that must affect at least one row; none is
// pgx.ErrNoRows (→ ErrNotFound).
func execOne(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	tag, err := tx.Exec(ctx, sql, args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return err
}

// nonNil maps a nil slice to an empty one, so listings are never JSON null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

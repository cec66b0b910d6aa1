package migrations_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/migrations"
)

// tenants is two orgs with a user, a project, an API key, a session and an
// audit entry each, created through the runtime role as the store would.
type tenants struct {
	orgA, orgB         string
	userA, userB       string
	projectA, projectB string
	keyA, keyB         string
}

func seedTenants(t *testing.T, app *pgxpool.Pool) tenants {
	t.Helper()
	ctx := context.Background()
	s := tenants{
		orgA: uuid.NewString(), orgB: uuid.NewString(),
		userA: uuid.NewString(), userB: uuid.NewString(),
		projectA: uuid.NewString(), projectB: uuid.NewString(),
		keyA: uuid.NewString(), keyB: uuid.NewString(),
	}
	for _, x := range []struct{ org, slug, user, email, project, key, prefix string }{
		{s.orgA, "acme", s.userA, "Alice@Acme.test", s.projectA, s.keyA, "sk_live_aaaa"},
		{s.orgB, "beta", s.userB, "bob@beta.test", s.projectB, s.keyB, "sk_live_bbbb"},
	} {
		mustTenantTx(t, app, x.org, x.user, func(tx pgx.Tx) error {
			hash := sha256.Sum256([]byte(x.prefix))
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{"insert into strangler.organizations (id, slug, name) values ($1, $2, $2)", []any{x.org, x.slug}},
				{"insert into strangler.users (id, email, default_org_id) values ($1, $2, $3)", []any{x.user, x.email, x.org}},
				{"insert into strangler.org_memberships (org_id, user_id, role) values ($1, $2, 'owner')", []any{x.org, x.user}},
				{"insert into strangler.projects (id, org_id, slug, name) values ($1, $2, 'web', 'Web')", []any{x.project, x.org}},
				{"insert into strangler.project_memberships (org_id, project_id, user_id, role) values ($1, $2, $3, 'admin')", []any{x.org, x.project, x.user}},
				{`insert into strangler.api_keys (id, org_id, project_id, name, prefix, secret_hash, role, scopes, created_by)
				  values ($1, $2, $3, 'ci', $4, $5, 'member', '{read}', $6)`, []any{x.key, x.org, x.project, x.prefix, hash[:], x.user}},
				{`insert into strangler.org_invitations (org_id, email, role, expires_at) values ($1, 'carol@x.test', 'member', now() + interval '1 day')`, []any{x.org}},
				{`insert into strangler.sessions (user_id, org_id, family_id, token_hash, expires_at) values ($1, $2, gen_random_uuid(), $3, now() + interval '1 day')`, []any{x.user, x.org, hash[:]}},
				{`insert into strangler.audit_logs (org_id, actor_type, actor_id, action) values ($1, 'user', $2, 'org.create')`, []any{x.org, x.user}},
			} {
				if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return s
}

// orgScopedTables are the tables whose rows belong to one org (column
// org_id, or id for organizations).
var orgScopedTables = map[string]string{
	"organizations":       "id",
	"projects":            "org_id",
	"org_memberships":     "org_id",
	"project_memberships": "org_id",
	"org_invitations":     "org_id",
	"api_keys":            "org_id",
	"audit_logs":          "org_id",
}

func appPool(t *testing.T, url string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestRuntimeRoleIsBoundByRLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 4)

	var super, bypass bool
	require.NoError(t, app.QueryRow(ctx, "select rolsuper, rolbypassrls from pg_roles where rolname = current_user").Scan(&super, &bypass))
	assert.False(t, super)
	assert.False(t, bypass)
	require.NoError(t, migrations.CheckRuntimeRole(ctx, app))

	// The owner and a superuser are refused, with the reason.
	err := migrations.CheckRuntimeRole(ctx, pgtest.Conn(t, owner))
	require.ErrorIs(t, err, migrations.ErrUnsafeRuntimeRole)
	assert.Contains(t, err.Error(), "owns")
	err = migrations.CheckRuntimeRole(ctx, pgtest.Conn(t, pgtest.AdminURL()))
	require.ErrorIs(t, err, migrations.ErrUnsafeRuntimeRole)
	assert.Contains(t, err.Error(), "superuser")

	// Every org-scoped table (and sessions) has RLS enabled and forced.
	rows, err := app.Query(ctx, `
		select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = 'strangler' and c.relrowsecurity and c.relforcerowsecurity`)
	require.NoError(t, err)
	forced, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	for table := range orgScopedTables {
		assert.Contains(t, forced, table)
	}
	assert.Contains(t, forced, "users")
	assert.Contains(t, forced, "sessions")
}

func TestRuntimeRoleRefusedWithBypassRLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerURL, _ := pgtest.Migrated(t)
	admin := pgtest.Conn(t, pgtest.AdminURL())
	role := "strangler_test_bypass_" + uuid.NewString()[:8]
	_, err := admin.Exec(ctx, "create role "+pgx.Identifier{role}.Sanitize()+" login bypassrls")
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "drop role if exists "+pgx.Identifier{role}.Sanitize())
	})

	cfg, err := pgx.ParseConfig(ownerURL)
	require.NoError(t, err)
	cfg.User = role
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close(ctx)
	err = migrations.CheckRuntimeRole(ctx, conn)
	require.ErrorIs(t, err, migrations.ErrUnsafeRuntimeRole)
	assert.Contains(t, err.Error(), "BYPASSRLS")
}

func TestOrgCannotReadUpdateOrDeleteAnotherOrgsRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 4)
	s := seedTenants(t, app)

	for table, col := range orgScopedTables {
		t.Run(table, func(t *testing.T) {
			ident := pgx.Identifier{"strangler", table}.Sanitize()
			mustTenantTx(t, app, s.orgA, s.userA, func(tx pgx.Tx) error {
				// Reads: only org A, even when asking for org B explicitly.
				var own, other, total int
				require.NoError(t, tx.QueryRow(ctx, "select count(*) filter (where "+col+" = $1), count(*) filter (where "+col+" = $2), count(*) from "+ident, s.orgA, s.orgB).Scan(&own, &other, &total))
				assert.Positive(t, own)
				assert.Zero(t, other)
				assert.Equal(t, own, total)
				return nil
			})
			if table == "audit_logs" {
				return // append-only: see TestAuditLogsAreAppendOnly
			}
			mustTenantTx(t, app, s.orgA, s.userA, func(tx pgx.Tx) error {
				// Writes aimed at org B touch nothing.
				tag, err := tx.Exec(ctx, "update "+ident+" set "+col+" = "+col+" where "+col+" = $1", s.orgB)
				require.NoError(t, err)
				assert.Zero(t, tag.RowsAffected(), "update")
				tag, err = tx.Exec(ctx, "delete from "+ident+" where "+col+" = $1", s.orgB)
				require.NoError(t, err)
				assert.Zero(t, tag.RowsAffected(), "delete")
				return nil
			})
			// Moving an own row into org B is refused by WITH CHECK.
			if col == "org_id" {
				err := tenantTx(ctx, app, s.orgA, s.userA, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, "update "+ident+" set org_id = $1", s.orgB)
					return err
				})
				assert.Contains(t, []string{"42501", "23503"}, pgCode(err), "update into org B: %v", err)
			}
		})
	}

	// Org B's rows are all still there.
	mustTenantTx(t, app, s.orgB, s.userB, func(tx pgx.Tx) error {
		for table, col := range orgScopedTables {
			var n int
			require.NoError(t, tx.QueryRow(ctx, "select count(*) from "+pgx.Identifier{"strangler", table}.Sanitize()+" where "+col+" = $1", s.orgB).Scan(&n))
			assert.Positive(t, n, table)
		}
		return nil
	})
}

func TestInsertForAnotherOrgFailsWith42501(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 2)
	s := seedTenants(t, app)

	inserts := map[string]struct {
		sql  string
		args []any
	}{
		"organizations":   {"insert into strangler.organizations (slug, name) values ('gamma', 'Gamma')", nil},
		"projects":        {"insert into strangler.projects (org_id, slug, name) values ($1, 'api', 'API')", []any{s.orgB}},
		"org_memberships": {"insert into strangler.org_memberships (org_id, user_id, role) values ($1, $2, 'viewer')", []any{s.orgB, s.userA}},
		"org_invitations": {"insert into strangler.org_invitations (org_id, email, role, expires_at) values ($1, 'd@x.test', 'member', now())", []any{s.orgB}},
		"api_keys": {`insert into strangler.api_keys (org_id, name, prefix, secret_hash, role) values ($1, 'x', 'sk_live_xxxx', $2, 'member')`,
			[]any{s.orgB, make([]byte, 32)}},
		"audit_logs": {"insert into strangler.audit_logs (org_id, actor_type, action) values ($1, 'system', 'x')", []any{s.orgB}},
		"sessions": {`insert into strangler.sessions (user_id, family_id, token_hash, expires_at) values ($1, gen_random_uuid(), $2, now())`,
			[]any{s.userB, make([]byte, 32)}},
		"users": {"insert into strangler.users (email) values ('eve@x.test')", nil},
	}
	for name, ins := range inserts {
		err := tenantTx(ctx, app, s.orgA, s.userA, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, ins.sql, ins.args...)
			return err
		})
		assert.Equal(t, "42501", pgCode(err), "%s: %v", name, err)
	}
}

func TestNoOrgSetReadsNothingAndWritesFail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 2)
	s := seedTenants(t, app)

	// Outside any transaction (the setting was never set on this session)
	// and inside one that sets nothing.
	for table := range orgScopedTables {
		var n int
		require.NoError(t, app.QueryRow(ctx, "select count(*) from "+pgx.Identifier{"strangler", table}.Sanitize()).Scan(&n))
		assert.Zero(t, n, table)
	}
	for _, table := range []string{"users", "sessions"} {
		var n int
		require.NoError(t, app.QueryRow(ctx, "select count(*) from "+pgx.Identifier{"strangler", table}.Sanitize()).Scan(&n))
		assert.Zero(t, n, table)
	}
	err := tenantTx(ctx, app, "", "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into strangler.projects (org_id, slug, name) values ($1, 'api', 'API')", s.orgA)
		return err
	})
	assert.Equal(t, "42501", pgCode(err), "insert without org: %v", err)
	tag, err := app.Exec(ctx, "update strangler.projects set name = 'x'")
	require.NoError(t, err)
	assert.Zero(t, tag.RowsAffected())
	tag, err = app.Exec(ctx, "delete from strangler.api_keys")
	require.NoError(t, err)
	assert.Zero(t, tag.RowsAffected())

	// A malformed org id fails closed with an error, never matches.
	err = tenantTx(ctx, app, "not-a-uuid", "", func(tx pgx.Tx) error {
		var n int
		return tx.QueryRow(ctx, "select count(*) from strangler.projects").Scan(&n)
	})
	assert.Equal(t, "22P02", pgCode(err))
}

// With one pooled connection, org A's transaction then org B's on the same
// session leak nothing: set_config(..., true) dies with the transaction.
func TestSameConnectionOrgAThenOrgBLeaksNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 1)
	s := seedTenants(t, app)

	projectsSeen := func(org string) (pid uint32, ids []string) {
		mustTenantTx(t, app, org, "", func(tx pgx.Tx) error {
			require.NoError(t, tx.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid))
			rows, err := tx.Query(ctx, "select id::text from strangler.projects")
			require.NoError(t, err)
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		return pid, ids
	}
	pidA, idsA := projectsSeen(s.orgA)
	pidB, idsB := projectsSeen(s.orgB)
	assert.Equal(t, pidA, pidB, "same backend session")
	assert.Equal(t, []string{s.projectA}, idsA)
	assert.Equal(t, []string{s.projectB}, idsB)

	// After commit the session has no org: nothing visible, nothing writable.
	var pid uint32
	var org *string
	var n int
	require.NoError(t, app.QueryRow(ctx, "select pg_backend_pid(), strangler.current_org_id()::text, (select count(*) from strangler.projects)").Scan(&pid, &org, &n))
	assert.Equal(t, pidA, pid)
	assert.Nil(t, org)
	assert.Zero(t, n)

	// A rolled-back transaction does not leak either.
	err := tenantTx(ctx, app, s.orgA, "", func(tx pgx.Tx) error { return errRollback })
	require.ErrorIs(t, err, errRollback)
	require.NoError(t, app.QueryRow(ctx, "select strangler.current_org_id()::text").Scan(&org))
	assert.Nil(t, org)
}

var errRollback = &pgconn.PgError{Code: "P0001", Message: "deliberate rollback"}

func TestAuditLogsAreAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 2)
	s := seedTenants(t, app)

	for _, sql := range []string{
		"update strangler.audit_logs set action = 'forged'",
		"delete from strangler.audit_logs",
		"truncate strangler.audit_logs",
	} {
		err := tenantTx(ctx, app, s.orgA, s.userA, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		assert.Equal(t, "42501", pgCode(err), "%s: %v", sql, err)
	}
	// Appending works for the own org and for platform entries (org NULL).
	mustTenantTx(t, app, s.orgA, s.userA, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into strangler.audit_logs (org_id, actor_type, action) values ($1, 'user', 'project.update')", s.orgA)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "insert into strangler.audit_logs (org_id, actor_type, action) values (null, 'admin_token', 'flag.set')")
		return err
	})
	// The platform view sees everything; org A's view only org A.
	rows, err := app.Query(ctx, "select coalesce(org_id::text, '') from strangler.list_audit_logs(null, null, 100)")
	require.NoError(t, err)
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{s.orgA, s.orgB, s.orgA, ""}, all)
	rows, err = app.Query(ctx, "select action from strangler.list_audit_logs($1, null, 100, p_action => 'project.update')", s.orgA)
	require.NoError(t, err)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"project.update"}, actions)
}

func TestSecurityDefinerLookupsReturnOnlyWhatTheyShould(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerURL, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 2)
	s := seedTenants(t, app)

	one := func(sql string, args ...any) []string {
		t.Helper()
		rows, err := app.Query(ctx, sql, args...)
		require.NoError(t, err, sql)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, sql)
		return out
	}
	// No tenant context is needed for these, and they match exactly.
	assert.Equal(t, []string{s.keyB}, one("select id::text from strangler.find_api_key_by_prefix($1)", "sk_live_bbbb"))
	assert.Empty(t, one("select id::text from strangler.find_api_key_by_prefix($1)", "sk_live_b%"))
	assert.Empty(t, one("select id::text from strangler.find_api_key_by_prefix($1)", "sk_live_zzzz"))
	assert.Equal(t, []string{s.userA}, one("select id::text from strangler.find_user_by_email($1)", "alice@ACME.test"))
	assert.Empty(t, one("select id::text from strangler.find_user_by_email($1)", "%@acme.test"))
	assert.Equal(t, []string{s.orgB}, one("select id::text from strangler.find_organization_by_slug($1)", "BETA"))
	assert.Equal(t, []string{"acme"}, one("select slug from strangler.find_organization_by_id($1)", s.orgA))
	assert.Equal(t, []string{"acme", "beta"}, one("select slug from strangler.list_organizations(null, 10)"))
	assert.Equal(t, []string{"beta"}, one("select slug from strangler.list_organizations('acme', 10)"))
	assert.Equal(t, []string{"acme:owner"}, one("select org_slug || ':' || role from strangler.user_memberships($1)", s.userA))
	hashB := sha256.Sum256([]byte("sk_live_bbbb"))
	assert.Equal(t, []string{s.userB}, one("select user_id::text from strangler.find_session_by_token_hash($1)", hashB[:]))
	assert.Len(t, one("select org_id::text from strangler.pending_invitations_for_email('CAROL@x.test')"), 2)

	// External subjects.
	sub := "supabase|" + uuid.NewString()
	mustTenantTx(t, app, "", s.userA, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "update strangler.users set external_subject = $1 where id = $2", sub, s.userA)
		return err
	})
	assert.Equal(t, []string{s.userA}, one("select id::text from strangler.find_user_by_external_subject($1)", sub))

	// last_used_at: only that column, only forwards.
	var n int
	require.NoError(t, app.QueryRow(ctx, "select strangler.touch_api_keys_last_used($1, now())", []string{s.keyA, s.keyB}).Scan(&n))
	assert.Equal(t, 2, n)
	require.NoError(t, app.QueryRow(ctx, "select strangler.touch_api_keys_last_used($1, now() - interval '1 hour')", []string{s.keyA}).Scan(&n))
	assert.Zero(t, n)

	// The cross-tenant flag does not outlive the call, and setting it by
	// hand gives the runtime role nothing.
	mustTenantTx(t, app, s.orgA, "", func(tx pgx.Tx) error {
		var flag *string
		require.NoError(t, tx.QueryRow(ctx, "select (select count(*) from strangler.find_api_key_by_prefix('sk_live_bbbb'))::text, current_setting('strangler.cross_tenant', true)").Scan(new(string), &flag))
		require.NotNil(t, flag)
		assert.Equal(t, "", *flag)
		_, err := tx.Exec(ctx, "select set_config('strangler.cross_tenant', 'on', true)")
		require.NoError(t, err)
		require.NoError(t, tx.QueryRow(ctx, "select count(*) from strangler.api_keys").Scan(&n))
		assert.Equal(t, 1, n, "org A's key only")
		return nil
	})

	// Definer functions are not executable by PUBLIC.
	owner := pgtest.Conn(t, ownerURL)
	var public []string
	rows, err := owner.Query(ctx, `
		select p.proname::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		where n.nspname = 'strangler' and p.prosecdef
		  and exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x where x.grantee = 0)`)
	require.NoError(t, err)
	public, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Empty(t, public)
	// ... and each has a fixed search_path.
	rows, err = owner.Query(ctx, `
		select p.proname::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		where n.nspname = 'strangler' and p.prosecdef
		  and not coalesce(p.proconfig @> array['search_path=pg_catalog, strangler, pg_temp'], false)`)
	require.NoError(t, err)
	unpinned, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Empty(t, unpinned)
}

func TestAdminTokensNeverExposeHashes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 2)
	hash := sha256.Sum256([]byte("adm_secret"))
	var id string
	require.NoError(t, app.QueryRow(ctx, "insert into strangler.admin_tokens (name, token_hash, single_use) values ('bootstrap', $1, true) returning id::text", hash[:]).Scan(&id))

	_, err := app.Exec(ctx, "select token_hash from strangler.admin_tokens")
	assert.Equal(t, "42501", pgCode(err))
	_, err = app.Exec(ctx, "update strangler.admin_tokens set revoked_at = null")
	assert.Equal(t, "42501", pgCode(err))
	_, err = app.Exec(ctx, "delete from strangler.admin_tokens")
	assert.Equal(t, "42501", pgCode(err))

	var got string
	require.NoError(t, app.QueryRow(ctx, "select id::text from strangler.authenticate_admin_token($1)", hash[:]).Scan(&got))
	assert.Equal(t, id, got)
	// Single use: the second presentation fails.
	err = app.QueryRow(ctx, "select id::text from strangler.authenticate_admin_token($1)", hash[:]).Scan(&got)
	assert.ErrorIs(t, err, pgx.ErrNoRows)

	hash2 := sha256.Sum256([]byte("adm_other"))
	require.NoError(t, app.QueryRow(ctx, "insert into strangler.admin_tokens (name, token_hash) values ('ops', $1) returning id::text", hash2[:]).Scan(&id))
	require.NoError(t, app.QueryRow(ctx, "select id::text from strangler.authenticate_admin_token($1)", hash2[:]).Scan(&got))
	require.NoError(t, app.QueryRow(ctx, "select id::text from strangler.authenticate_admin_token($1)", hash2[:]).Scan(&got))
	var revoked bool
	require.NoError(t, app.QueryRow(ctx, "select strangler.revoke_admin_token($1)", id).Scan(&revoked))
	assert.True(t, revoked)
	err = app.QueryRow(ctx, "select id::text from strangler.authenticate_admin_token($1)", hash2[:]).Scan(&got)
	assert.ErrorIs(t, err, pgx.ErrNoRows)
}

// A unique or foreign-key violation names only the caller's own values:
// org B's identical slug neither blocks org A nor shows up in an error.
func TestConstraintErrorsRevealNothingAboutOtherTenants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 2)
	s := seedTenants(t, app) // both orgs already have a project "web"

	err := tenantTx(ctx, app, s.orgA, s.userA, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into strangler.projects (org_id, slug, name) values ($1, 'web', 'Again')", s.orgA)
		return err
	})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "23505", pgErr.Code)
	assert.Equal(t, "projects_org_id_slug_key", pgErr.ConstraintName)
	// PostgreSQL even leaves out the key values on an RLS table.
	assert.NotContains(t, pgErr.Detail, s.orgB)
	assert.NotContains(t, pgErr.Detail, s.projectB)
	// Org B could create "web" although org A has it (seedTenants did), and
	// org A's second "web" fails on its own row only.

	// A key of org A pointing at org B's project: the composite foreign key
	// fails on (org A, project) — whether org B has that project is not said.
	err = tenantTx(ctx, app, s.orgA, s.userA, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `insert into strangler.api_keys (org_id, project_id, name, prefix, secret_hash, role)
			values ($1, $2, 'x', 'sk_live_cccc', $3, 'member')`, s.orgA, s.projectB, make([]byte, 32))
		return err
	})
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "23503", pgErr.Code)
	assert.NotContains(t, pgErr.Detail, s.orgB)
	unknown := uuid.NewString()
	err2 := tenantTx(ctx, app, s.orgA, s.userA, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `insert into strangler.api_keys (org_id, project_id, name, prefix, secret_hash, role)
			values ($1, $2, 'x', 'sk_live_dddd', $3, 'member')`, s.orgA, unknown, make([]byte, 32))
		return err
	})
	var pgErr2 *pgconn.PgError
	require.ErrorAs(t, err2, &pgErr2)
	// Same code and constraint whether the project exists in another org or not.
	assert.Equal(t, pgErr.Code, pgErr2.Code)
	assert.Equal(t, pgErr.ConstraintName, pgErr2.ConstraintName)

	// Project memberships must reference a member of the same org.
	err = tenantTx(ctx, app, s.orgA, s.userA, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into strangler.project_memberships (org_id, project_id, user_id, role) values ($1, $2, $3, 'viewer')", s.orgA, s.projectA, s.userB)
		return err
	})
	assert.Equal(t, "23503", pgCode(err))
}

func TestUsersSeeThemselvesAndTheirOrgsMembersOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 2)
	s := seedTenants(t, app)

	visible := func(org, user string) []string {
		var ids []string
		mustTenantTx(t, app, org, user, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "select id::text from strangler.users order by email")
			require.NoError(t, err)
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		return ids
	}
	assert.Equal(t, []string{s.userA}, visible(s.orgA, ""))
	assert.Equal(t, []string{s.userB}, visible("", s.userB))
	assert.Equal(t, []string{s.userB}, visible(s.orgB, s.userB))
	assert.Empty(t, visible("", ""))

	// A user cannot change another user, even a member of its org.
	mustTenantTx(t, app, s.orgA, s.userB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "update strangler.users set platform_admin = true where id = $1", s.userA)
		require.NoError(t, err)
		assert.Zero(t, tag.RowsAffected())
		return nil
	})
	// Sessions are per user.
	mustTenantTx(t, app, s.orgA, s.userA, func(tx pgx.Tx) error {
		var n int
		require.NoError(t, tx.QueryRow(ctx, "select count(*) from strangler.sessions where user_id = $1", s.userB).Scan(&n))
		assert.Zero(t, n)
		tag, err := tx.Exec(ctx, "update strangler.sessions set revoked_at = now() where user_id = $1", s.userB)
		require.NoError(t, err)
		assert.Zero(t, tag.RowsAffected())
		return nil
	})
}

func TestTenancyChangesAreNotified(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	app := appPool(t, appURL, 2)
	s := seedTenants(t, app)
	listener := pgtest.Conn(t, appURL)
	_, err := listener.Exec(ctx, "listen strangler_tenancy_changes")
	require.NoError(t, err)

	mustTenantTx(t, app, s.orgA, s.userA, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "update strangler.api_keys set revoked_at = now() where id = $1", s.keyA)
		return err
	})
	n, err := listener.WaitForNotification(ctx)
	require.NoError(t, err)
	assert.JSONEq(t, `{"table":"api_keys","op":"UPDATE","id":"`+s.keyA+`","org_id":"`+s.orgA+`","user_id":null}`, n.Payload)

	// last_used_at bookkeeping is not announced.
	var touched int
	require.NoError(t, app.QueryRow(ctx, "select strangler.touch_api_keys_last_used($1, now())", []string{s.keyB}).Scan(&touched))
	mustTenantTx(t, app, s.orgB, s.userB, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "delete from strangler.org_memberships where user_id = $1", s.userB)
		return err
	})
	n, err = listener.WaitForNotification(ctx)
	require.NoError(t, err)
	assert.Contains(t, n.Payload, `"table": "org_memberships"`)
}

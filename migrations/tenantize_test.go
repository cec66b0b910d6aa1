package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/migrations"
)

// createOrg creates an org through the runtime role and returns its id.
func createOrg(t *testing.T, app *pgxpool.Pool, slug string) string {
	t.Helper()
	id := uuid.NewString()
	mustTenantTx(t, app, id, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), "insert into strangler.organizations (id, slug, name) values ($1, $2, $2)", id, slug)
		return err
	})
	return id
}

// createRole creates a cluster-wide login role for one test. Call it before
// pgtest.Migrated/NewDatabase so its cleanup runs after the database is
// dropped (cleanups run last-in first-out).
func createRole(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	role := prefix + "_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	admin := pgtest.Conn(t, pgtest.AdminURL())
	_, err := admin.Exec(ctx, "create role "+pgx.Identifier{role}.Sanitize()+" login nosuperuser nobypassrls")
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pgtest.AdminURL())
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "drop role if exists "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return role
}

func urlAs(t *testing.T, url, role string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", role, cfg.Host, cfg.Port, cfg.Database)
}

// writer keeps inserting and updating legacy rows the way the legacy
// application does (it knows nothing of org_id), measuring every write.
type writer struct {
	pool     *pgxpool.Pool
	table    string
	maxID    int64
	inserted atomic.Int64
	updated  atomic.Int64
	mu       sync.Mutex
	maxLat   time.Duration
	slow     []string
	errs     []error
	stop     chan struct{}
	done     chan struct{}
}

func startWriter(pool *pgxpool.Pool, table string, maxID int64, updates bool) *writer {
	w := &writer{pool: pool, table: table, maxID: maxID, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		ctx := context.Background()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			start := time.Now()
			var err error
			if !updates || i%2 == 0 {
				_, err = pool.Exec(ctx, "insert into "+table+" (title, body) values ($1, 'written during tenantize')", fmt.Sprintf("live %d", i))
				if err == nil {
					w.inserted.Add(1)
				}
			} else {
				_, err = pool.Exec(ctx, "update "+table+" set title = title || '.', updated_at = now() where id = $1", 1+rand.Int64N(w.maxID))
				if err == nil {
					w.updated.Add(1)
				}
			}
			lat := time.Since(start)
			w.mu.Lock()
			w.maxLat = max(w.maxLat, lat)
			if lat > 200*time.Millisecond {
				w.slow = append(w.slow, fmt.Sprintf("%s write took %s", start.Format("15:04:05.000"), lat))
			}
			if err != nil {
				w.errs = append(w.errs, err)
			}
			w.mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	return w
}

func (w *writer) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	require.Empty(t, w.errs, "the legacy writer never fails")
	for _, s := range w.slow {
		t.Log(s)
	}
	// The one permitted time bound: the lock-blocking requirement of
	// tenantize (a writer is never blocked for more than a second).
	assert.Less(t, w.maxLat, time.Second, "slowest legacy write")
	assert.Positive(t, w.inserted.Load())
	t.Logf("legacy writer: %d inserts, %d updates, slowest write %s", w.inserted.Load(), w.updated.Load(), w.maxLat)
}

func rowsChecksum(t *testing.T, conn *pgx.Conn, maxID int64) (int64, string) {
	t.Helper()
	var n int64
	var sum string
	require.NoError(t, conn.QueryRow(context.Background(), `
		select count(*), md5(string_agg(format('%s|%s|%s|%s', id, title, body, updated_at), ',' order by id))
		from public.documents where id <= $1`, maxID).Scan(&n, &sum))
	return n, sum
}

const legacyRows = 200_000

// The acceptance test: 200k legacy rows, a legacy writer inserting
// and updating all the time, tenantize, then RLS isolation, then rollback.
func TestTenantizeLegacyTableUnderConcurrentWrites(t *testing.T) {
	// Not parallel: the writer's latency is measured; no competition from
	// this package's other tests for the CPU.
	ctx := context.Background()
	legacyRole := createRole(t, "strangler_test_legacy")
	ownerURL, appURL := pgtest.Migrated(t)
	owner := pgtest.Conn(t, ownerURL)
	app := appPool(t, appURL, 4)
	legacyOrg := createOrg(t, app, "legacy")
	acme := createOrg(t, app, "acme")

	// The legacy table, written by its own role (not the owner, no rights on
	// schema strangler), as a legacy service would.
	_, err := owner.Exec(ctx, `
		create table public.documents (
			id bigserial primary key,
			title text not null,
			body text not null default '',
			updated_at timestamptz not null default now()
		);
		insert into public.documents (title, body)
			select 'doc ' || g, repeat(md5(g::text), 3) from generate_series(1, 200000) g;
		analyze public.documents;`)
	require.NoError(t, err)
	ident := pgx.Identifier{legacyRole}.Sanitize()
	_, err = owner.Exec(ctx, "grant select, insert, update, delete on public.documents to "+ident+"; grant usage on sequence public.documents_id_seq to "+ident)
	require.NoError(t, err)
	before := catalogSnapshot(t, owner, "public")

	legacy := appPool(t, urlAs(t, ownerURL, legacyRole), 2)
	w := startWriter(legacy, "public.documents", legacyRows, true)
	var logs []string
	start := time.Now()
	rep, err := migrations.Tenantize(ctx, owner, "documents", migrations.TenantizeOptions{
		DefaultOrg: "legacy",
		BatchSize:  1000,
		Logf:       func(f string, a ...any) { logs = append(logs, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(f, a...)) },
	})
	elapsed := time.Since(start)
	t.Log(strings.Join(logs, "\n"))
	w.finish(t)
	require.NoError(t, err, strings.Join(logs, "\n"))
	t.Logf("tenantize %d rows: %s, %d batches, %d retries", legacyRows, elapsed.Round(time.Millisecond), rep.Batches, rep.Retries)
	assert.GreaterOrEqual(t, rep.RowsBefore, int64(legacyRows))
	assert.GreaterOrEqual(t, rep.BackfilledRows, int64(legacyRows))
	assert.Equal(t, legacyOrg, rep.DefaultOrgID)

	// Every row, old or written meanwhile, belongs to the default org.
	var total, wrong int64
	require.NoError(t, owner.QueryRow(ctx, "select count(*), count(*) filter (where org_id is distinct from $1) from public.documents", legacyOrg).Scan(&total, &wrong))

	assert.Equal(t, legacyRows+w.inserted.Load(), total)
	assert.Zero(t, wrong)
	assert.LessOrEqual(t, rep.RowsAfter, total, "rows counted at verification, before the writer stopped")
	assert.GreaterOrEqual(t, rep.RowsAfter, rep.RowsBefore)

	// RLS isolates the runtime role; the legacy role keeps seeing everything.
	count := func(org string) (n int64) {
		mustTenantTx(t, app, org, "", func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "select count(*) from public.documents").Scan(&n)
		})
		return n
	}
	assert.Equal(t, total, count(legacyOrg))
	assert.Zero(t, count(acme))
	assert.Zero(t, count(""))
	mustTenantTx(t, app, acme, "", func(tx pgx.Tx) error {
		var org string
		require.NoError(t, tx.QueryRow(ctx, "insert into public.documents (title) values ('acme doc') returning org_id::text").Scan(&org))
		assert.Equal(t, acme, org, "the column default takes the transaction's org")
		return nil
	})
	assert.Equal(t, int64(1), count(acme))
	err = tenantTx(ctx, app, acme, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into public.documents (title, org_id) values ('forged', $1)", legacyOrg)
		return err
	})
	assert.Equal(t, "42501", pgCode(err))
	err = tenantTx(ctx, app, acme, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into public.documents (title, org_id) values ('bad org', $1)", uuid.NewString())
		return err
	})
	assert.Equal(t, "42501", pgCode(err), "RLS rejects before the foreign key is even checked")
	var legacySees int64
	require.NoError(t, legacy.QueryRow(ctx, "select count(*) from public.documents").Scan(&legacySees))
	assert.Equal(t, total+1, legacySees)

	// Running it again changes nothing.
	again, err := migrations.Tenantize(ctx, owner, "documents", migrations.TenantizeOptions{DefaultOrg: "legacy"})
	require.NoError(t, err)
	assert.True(t, again.AlreadyDone)

	// Rollback, with the legacy writer inserting all along: the original
	// definition, every row intact.
	var maxID int64
	require.NoError(t, owner.QueryRow(ctx, "select max(id) from public.documents").Scan(&maxID))
	rowsBefore, sumBefore := rowsChecksum(t, owner, maxID)
	w2 := startWriter(legacy, "public.documents", maxID, false)
	start = time.Now()
	rb, err := migrations.RollbackTenantize(ctx, owner, "documents", migrations.TenantizeOptions{})
	elapsed = time.Since(start)
	w2.finish(t)
	require.NoError(t, err)
	t.Logf("rollback: %s, %d retries", elapsed.Round(time.Millisecond), rb.Retries)
	assert.Equal(t, []string{"verify", "grants", "row_level_security", "foreign_keys_validate", "foreign_keys_not_valid",
		"index", "set_not_null", "check_validate", "check_not_valid", "backfill", "add_columns"}, rb.Undone)
	rowsAfter, sumAfter := rowsChecksum(t, owner, maxID)
	assert.Equal(t, rowsBefore, rowsAfter)
	assert.Equal(t, sumBefore, sumAfter)
	assert.Equal(t, before, catalogSnapshot(t, owner, "public"), "original table definition")
	var state string
	require.NoError(t, owner.QueryRow(ctx, "select state from strangler.tenantized_tables where table_name = 'documents'").Scan(&state))
	assert.Equal(t, "rolled_back", state)
	_, err = migrations.RollbackTenantize(ctx, owner, "documents", migrations.TenantizeOptions{})
	assert.ErrorIs(t, err, migrations.ErrNotTenantized)
}

func TestTenantizeDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerURL, appURL := pgtest.Migrated(t)
	owner := pgtest.Conn(t, ownerURL)
	app := appPool(t, appURL, 2)
	orgID := createOrg(t, app, "legacy")
	_, err := owner.Exec(ctx, `create table public.notes (id serial primary key, body text, updated_at timestamptz);
		insert into public.notes (body) values ('a'), ('b');
		create function public.touch() returns trigger language plpgsql as $$ begin new.updated_at := now(); return new; end $$;
		create trigger notes_touch before update on public.notes for each row execute function public.touch();`)
	require.NoError(t, err)
	before := catalogSnapshot(t, owner, "public")

	plan, err := migrations.PlanTenantize(ctx, owner, "notes", migrations.TenantizeOptions{DefaultOrg: "legacy", ProjectColumn: true})
	require.NoError(t, err)
	assert.Equal(t, orgID, plan.DefaultOrgID)
	assert.False(t, plan.AlreadyDone)
	require.Len(t, plan.Warnings, 1)
	assert.Contains(t, plan.Warnings[0], "notes_touch")
	var all []string
	var names []string
	for _, s := range plan.Steps {
		names = append(names, s.Name)
		assert.False(t, s.Done)
		all = append(all, s.SQL...)
	}
	assert.Equal(t, []string{"add_columns", "backfill", "check_not_valid", "check_validate", "set_not_null", "index",
		"foreign_keys_not_valid", "foreign_keys_validate", "row_level_security", "grants", "verify"}, names)
	sql := strings.Join(all, "\n")
	for _, want := range []string{
		`ALTER TABLE "public"."notes" ADD COLUMN "org_id" uuid`,
		`ALTER TABLE "public"."notes" ADD COLUMN "project_id" uuid`,
		`SET DEFAULT coalesce(nullif(pg_catalog.current_setting('strangler.org_id', true), '')::uuid, '` + orgID + `'::uuid)`,
		`CHECK ("org_id" IS NOT NULL) NOT VALID`,
		`VALIDATE CONSTRAINT "notes_org_id_not_null"`,
		`CREATE INDEX CONCURRENTLY IF NOT EXISTS "notes_org_id_idx" ON "public"."notes" ("org_id", "project_id")`,
		`REFERENCES strangler.organizations (id) NOT VALID`,
		`FOREIGN KEY ("org_id", "project_id") REFERENCES strangler.projects (org_id, id) NOT VALID`,
		`ENABLE ROW LEVEL SECURITY`,
		`CREATE POLICY strangler_tenant_guard ON "public"."notes" AS RESTRICTIVE`,
		`CREATE POLICY strangler_legacy_passthrough`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON "public"."notes" TO "strangler_app"`,
		`GRANT USAGE ON SEQUENCE "public"."notes_id_seq" TO "strangler_app"`,
	} {
		assert.Contains(t, sql, want)
	}

	assert.Equal(t, before, catalogSnapshot(t, owner, "public"))
	var records int
	require.NoError(t, owner.QueryRow(ctx, "select count(*) from strangler.tenantized_tables").Scan(&records))
	assert.Zero(t, records)
	_, err = migrations.PlanRollbackTenantize(ctx, owner, "notes", migrations.TenantizeOptions{})
	assert.ErrorIs(t, err, migrations.ErrNotTenantized)
}

// A table that already uses RLS (Supabase style, with a permissive policy
// for everyone): the runtime role is still confined to its org (restrictive
// guard), the existing policy keeps governing other roles, and rollback
// leaves RLS and that policy as they were. With --project-column.
func TestTenantizeTableWithExistingPoliciesAndProjectColumn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerURL, appURL := pgtest.Migrated(t)
	owner := pgtest.Conn(t, ownerURL)
	app := appPool(t, appURL, 2)
	legacyOrg := createOrg(t, app, "legacy")
	acme := createOrg(t, app, "acme")
	acmeProject, otherProject := uuid.NewString(), uuid.NewString()
	mustTenantTx(t, app, acme, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into strangler.projects (id, org_id, slug, name) values ($1, $2, 'web', 'Web')", acmeProject, acme)
		return err
	})
	mustTenantTx(t, app, legacyOrg, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into strangler.projects (id, org_id, slug, name) values ($1, $2, 'web', 'Web')", otherProject, legacyOrg)
		return err
	})
	_, err := owner.Exec(ctx, `
		create table public.items (id uuid primary key default gen_random_uuid(), name text);
		insert into public.items (name) select 'item ' || g from generate_series(1, 500) g;
		alter table public.items enable row level security;
		create policy everyone_reads on public.items for select using (true);
		grant select, insert on public.items to strangler_app;`)
	require.NoError(t, err)
	before := catalogSnapshot(t, owner, "public")

	rep, err := migrations.Tenantize(ctx, owner, "items", migrations.TenantizeOptions{DefaultOrg: "legacy", ProjectColumn: true, BatchSize: 64})
	require.NoError(t, err)
	assert.Equal(t, int64(500), rep.RowsAfter)

	var visible int
	mustTenantTx(t, app, acme, "", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select count(*) from public.items").Scan(&visible)
	})
	assert.Zero(t, visible, "the permissive using(true) policy does not widen the runtime role")
	mustTenantTx(t, app, acme, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into public.items (name, project_id) values ('acme item', $1)", acmeProject)
		return err
	})
	err = tenantTx(ctx, app, acme, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into public.items (name, project_id) values ('cross', $1)", otherProject)
		return err
	})
	assert.Equal(t, "23503", pgCode(err), "a project of another org is refused by the composite foreign key")
	var policies []string
	rows, err := owner.Query(ctx, "select policyname::text from pg_policies where tablename = 'items' order by 1")
	require.NoError(t, err)
	policies, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"everyone_reads", "strangler_tenant_guard", "strangler_tenant_isolation"}, policies, "no passthrough when RLS was already on")

	_, err = owner.Exec(ctx, "delete from public.items where name = 'acme item'")
	require.NoError(t, err)
	_, err = migrations.RollbackTenantize(ctx, owner, "items", migrations.TenantizeOptions{})
	require.NoError(t, err)
	assert.Equal(t, before, catalogSnapshot(t, owner, "public"))
}

// An interrupted run resumes from its record; the plan shows what is done.
func TestTenantizeResumesAfterInterruption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerURL, appURL := pgtest.Migrated(t)
	owner := pgtest.Conn(t, ownerURL)
	app := appPool(t, appURL, 2)
	createOrg(t, app, "legacy")
	_, err := owner.Exec(ctx, "create table public.events (id bigint generated always as identity primary key, kind text); insert into public.events (kind) select 'k' from generate_series(1, 5000)")
	require.NoError(t, err)
	before := catalogSnapshot(t, owner, "public")

	cctx, cancel := context.WithCancel(ctx)
	_, err = migrations.Tenantize(cctx, owner, "events", migrations.TenantizeOptions{DefaultOrg: "legacy", Logf: func(f string, a ...any) {
		if strings.Contains(fmt.Sprintf(f, a...), "index") {
			cancel() // stop just as the index step begins
		}
	}})
	cancel()
	require.Error(t, err)
	owner = pgtest.Conn(t, ownerURL) // the interrupted connection may be unusable

	plan, err := migrations.PlanTenantize(ctx, owner, "events", migrations.TenantizeOptions{DefaultOrg: "legacy"})
	require.NoError(t, err)
	done := map[string]bool{}
	for _, s := range plan.Steps {
		done[s.Name] = s.Done
	}
	assert.True(t, done["set_not_null"])
	assert.False(t, done["verify"])

	// A different default org is refused while a run is recorded.
	app2 := createOrg(t, app, "other")
	_ = app2
	_, err = migrations.Tenantize(ctx, owner, "events", migrations.TenantizeOptions{DefaultOrg: "other"})
	assert.ErrorIs(t, err, migrations.ErrTableNotSupported)

	rep, err := migrations.Tenantize(ctx, owner, "events", migrations.TenantizeOptions{DefaultOrg: "legacy"})
	require.NoError(t, err)
	assert.True(t, rep.Resumed)
	assert.Equal(t, int64(5000), rep.RowsAfter)

	rb, err := migrations.PlanRollbackTenantize(ctx, owner, "events", migrations.TenantizeOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, rb.Steps)
	assert.Equal(t, "undo verify", rb.Steps[0].Name)
	_, err = migrations.RollbackTenantize(ctx, owner, "events", migrations.TenantizeOptions{})
	require.NoError(t, err)
	assert.Equal(t, before, catalogSnapshot(t, owner, "public"))
}

// Hostile names are looked up exactly and always quoted: a name full of
// quotes and semicolons is just a (strange) table.
func TestTenantizeHostileNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerURL, appURL := pgtest.Migrated(t)
	owner := pgtest.Conn(t, ownerURL)
	app := appPool(t, appURL, 2)
	createOrg(t, app, "legacy")
	weirdSchema := `sch"ema; drop schema strangler cascade; --`
	weird := `we"ird'); DROP TABLE public.victim; --`
	_, err := owner.Exec(ctx, "create table public.victim (id int); create schema "+pgx.Identifier{weirdSchema}.Sanitize()+
		"; create table "+pgx.Identifier{weirdSchema, weird}.Sanitize()+" (id int primary key); insert into "+
		pgx.Identifier{weirdSchema, weird}.Sanitize()+" values (1), (2)")
	require.NoError(t, err)

	opts := migrations.TenantizeOptions{DefaultOrg: "legacy", Schema: weirdSchema}
	rep, err := migrations.Tenantize(ctx, owner, weird, opts)
	require.NoError(t, err)
	assert.Equal(t, int64(2), rep.RowsAfter)
	_, err = migrations.RollbackTenantize(ctx, owner, weird, opts)
	require.NoError(t, err)
	var victim, schema *string
	require.NoError(t, owner.QueryRow(ctx, "select to_regclass('public.victim')::text, to_regnamespace('strangler')::text").Scan(&victim, &schema))
	assert.NotNil(t, victim)
	assert.NotNil(t, schema)

	_, err = owner.Exec(ctx, `
		create view public.a_view as select 1 as x;
		create table public.parted (id int, org text) partition by list (org);
		create table public.parent (id int); create table public.child () inherits (public.parent);`)
	require.NoError(t, err)
	for _, tc := range []struct {
		schema, table string
		want          error
	}{
		{"public", "victim; drop table public.victim", migrations.ErrTableNotFound},
		{"public", `"victim"`, migrations.ErrTableNotFound},
		{"public", "VICTIM", migrations.ErrTableNotFound},
		{"public", "", migrations.ErrInvalidTableName},
		{"public", strings.Repeat("x", 64), migrations.ErrInvalidTableName},
		{"public", "a\x00b", migrations.ErrInvalidTableName},
		{"public", "\xff\xfe", migrations.ErrInvalidTableName},
		{"", "victim", nil}, // empty schema means public
		{"strangler", "users", migrations.ErrTableNotSupported},
		{"pg_catalog", "pg_class", migrations.ErrTableNotSupported},
		{"public", "a_view", migrations.ErrTableNotSupported},
		{"public", "parted", migrations.ErrTableNotSupported},
		{"public", "parent", migrations.ErrTableNotSupported},
		{"public", "child", migrations.ErrTableNotSupported},
	} {
		_, err := migrations.PlanTenantize(ctx, owner, tc.table, migrations.TenantizeOptions{DefaultOrg: "legacy", Schema: tc.schema})
		if tc.want == nil {
			assert.NoError(t, err, "%q.%q", tc.schema, tc.table)
			continue
		}
		assert.ErrorIs(t, err, tc.want, "%q.%q", tc.schema, tc.table)
	}
	_, err = migrations.PlanTenantize(ctx, owner, "victim", migrations.TenantizeOptions{DefaultOrg: "nope"})
	assert.ErrorIs(t, err, migrations.ErrOrgNotFound)
	_, err = owner.Exec(ctx, "alter table public.victim add column org_id uuid")
	require.NoError(t, err)
	_, err = migrations.PlanTenantize(ctx, owner, "victim", migrations.TenantizeOptions{DefaultOrg: "legacy"})
	assert.ErrorIs(t, err, migrations.ErrTableNotSupported)
}

func TestTenantizeRequiresMigratedSchema(t *testing.T) {
	t.Parallel()
	conn := pgtest.Conn(t, pgtest.NewDatabase(t))
	_, err := migrations.PlanTenantize(context.Background(), conn, "x", migrations.TenantizeOptions{DefaultOrg: "legacy"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "migrate up")
	assert.False(t, errors.Is(err, migrations.ErrTableNotFound))
}

// A legacy transaction that holds its lock for a long time: tenantize's
// ALTER TABLE times out (lock_timeout) and retries instead of queueing, so
// the other writers are never stuck behind it for long.
func TestTenantizeRetriesBehindLongTransactionsWithoutBlockingWriters(t *testing.T) {
	// Not parallel: the writer's latency is measured; no competition from
	// this package's other tests for the CPU.
	ctx := context.Background()
	ownerURL, appURL := pgtest.Migrated(t)
	owner := pgtest.Conn(t, ownerURL)
	app := appPool(t, appURL, 2)
	createOrg(t, app, "legacy")
	_, err := owner.Exec(ctx, `
		create table public.documents (id bigserial primary key, title text not null, body text not null default '',
		                               updated_at timestamptz not null default now());
		insert into public.documents (title) select 'doc ' || g from generate_series(1, 20000) g;`)
	require.NoError(t, err)

	legacy := appPool(t, ownerURL, 3)
	// The long transaction: holds a row lock (and so ROW EXCLUSIVE on the
	// table) for 2 seconds from before tenantize starts.
	holding := make(chan struct{})
	released := make(chan error, 1)
	go func() {
		released <- pgx.BeginFunc(ctx, legacy, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "update public.documents set title = 'held' where id = 1"); err != nil {
				return err
			}
			close(holding)
			time.Sleep(2 * time.Second)
			return nil
		})
	}()
	<-holding
	w := startWriter(legacy, "public.documents", 20000, true)
	rep, err := migrations.Tenantize(ctx, owner, "documents", migrations.TenantizeOptions{DefaultOrg: "legacy", LockTimeout: 200 * time.Millisecond})
	w.finish(t)
	require.NoError(t, <-released)
	require.NoError(t, err)
	assert.Positive(t, rep.Retries, "the first ALTER TABLE gave way to the long transaction")
	t.Logf("retries behind the long transaction: %d", rep.Retries)
}

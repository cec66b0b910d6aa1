package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tenantize prepares a legacy table for multi-tenancy without downtime
// (SPEC §9): it adds a nullable org_id (and project_id), backfills the
// default org in short batches, proves the column complete with
// CHECK (org_id IS NOT NULL) NOT VALID then VALIDATE (then SET NOT NULL,
// which PostgreSQL 12+ does without a scan thanks to the validated check),
// builds the index CONCURRENTLY, adds the foreign key to
// strangler.organizations NOT VALID then VALIDATE, protects the table with
// the RLS template, grants the runtime role, verifies, and records every
// step with its undo in strangler.tenantized_tables.
//
// Locks: each statement that needs a lock that blocks writers (ADD COLUMN,
// ADD CONSTRAINT, SET NOT NULL, the policies) runs in its own short
// transaction with lock_timeout (TenantizeOptions.LockTimeout) and is retried
// with backoff, so a writer waits at most about LockTimeout behind it. The
// long steps (backfill batches, VALIDATE, CREATE INDEX CONCURRENTLY) take no
// lock that blocks INSERT/UPDATE/DELETE.
//
// The org_id default is
// coalesce(nullif(current_setting('strangler.org_id', true), '')::uuid, <default org>):
// a tenant-aware writer that set strangler.org_id gets its own org; a legacy
// writer that knows nothing of orgs gets the default org and keeps working.
// The expression uses only pg_catalog, so legacy roles need no privilege on
// schema strangler.
//
// An interrupted run resumes where it stopped (recorded steps are skipped);
// RollbackTenantize undoes exactly the recorded steps, in reverse.

// TenantizeOptions configure Tenantize and RollbackTenantize.
type TenantizeOptions struct {
	// Schema of the legacy table; default "public".
	Schema string
	// DefaultOrg is the slug of the org that owns every existing row.
	DefaultOrg string
	// ProjectColumn also adds a nullable project_id with a composite foreign
	// key (org_id, project_id) to strangler.projects. It is not backfilled.
	ProjectColumn bool
	// BatchSize is the number of rows per backfill transaction; default
	// 1000. Smaller batches hold row locks for less time.
	BatchSize int
	// LockTimeout bounds how long a statement waits for a lock that blocks
	// writers while it waits; default 300ms. Writers queue behind a waiting
	// ALTER TABLE, so this is roughly the worst extra latency a writer sees.
	LockTimeout time.Duration
	// MaxAttempts bounds retries of one statement after lock timeouts,
	// deadlocks or serialization failures; default 100.
	MaxAttempts int
	// WaitTimeout bounds the steps that never block writers (VALIDATE, CREATE
	// INDEX CONCURRENTLY wait for older transactions); default 10m.
	WaitTimeout time.Duration
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Defaults used when TenantizeOptions leave a field zero.
const (
	DefaultTenantizeSchema    = "public"
	DefaultTenantizeBatchSize = 1000
	DefaultLockTimeout        = 300 * time.Millisecond
	DefaultMaxAttempts        = 100
	DefaultWaitTimeout        = 10 * time.Minute
)

func (o TenantizeOptions) withDefaults() TenantizeOptions {
	if o.Schema == "" {
		o.Schema = DefaultTenantizeSchema
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultTenantizeBatchSize
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Sentinel errors of tenantize.
var (
	// ErrTableNotFound: no ordinary table of that name in that schema.
	ErrTableNotFound = errors.New("table not found")
	// ErrTableNotSupported: a table tenantize refuses (strangler or system
	// schema, partitioned, inheritance, already has org_id, ...).
	ErrTableNotSupported = errors.New("table not supported")
	// ErrOrgNotFound: --default-org names no organization.
	ErrOrgNotFound = errors.New("default organization not found")
	// ErrNotTenantized: rollback of a table tenantize has no record of.
	ErrNotTenantized = errors.New("table was not tenantized")
	// ErrTenantizeBusy: another tenantize or rollback runs on the table.
	ErrTenantizeBusy = errors.New("another tenantize is running on this table")
	// ErrVerifyFailed: the final verification found a problem.
	ErrVerifyFailed = errors.New("tenantize verification failed")
)

// PlannedStep is one step of a plan: the SQL it runs (a backfill shows one
// representative batch) and whether an earlier run already did it.
type PlannedStep struct {
	Name string
	SQL  []string
	Done bool
}

// Plan is what Tenantize (or RollbackTenantize) would do to one table.
type Plan struct {
	Schema, Table string
	// DefaultOrgID is the id of TenantizeOptions.DefaultOrg.
	DefaultOrgID string
	// AlreadyDone: the table is tenantized; nothing to do.
	AlreadyDone bool
	Steps       []PlannedStep
	// Warnings are things an operator should know before running it.
	Warnings []string
}

// triggerWarning explains that the backfill fires the table's UPDATE
// triggers (an updated_at trigger bumps every row, an audit trigger logs
// every row). Disabling them would also silence the legacy writers' own
// updates meanwhile, so tenantize leaves them alone and says so.
func triggerWarning(t *legacyTable) []string {
	if len(t.updateTriggers) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("the backfill UPDATEs every row and so fires the UPDATE triggers of %s: %s",
		t.display, strings.Join(t.updateTriggers, ", "))}
}

// TableReport says what Tenantize did to one table.
type TableReport struct {
	Schema, Table string
	DefaultOrgID  string
	// AlreadyDone: the table was tenantized before; nothing was changed.
	AlreadyDone bool
	// Resumed: an interrupted run was continued.
	Resumed bool
	// RowsBefore is the row count when the first run started; RowsAfter at
	// verification (concurrent writers may have added rows in between).
	RowsBefore, RowsAfter int64
	// BackfilledRows and Batches describe the backfill.
	BackfilledRows int64
	Batches        int
	// Retries counts statements retried after a lock timeout or conflict.
	Retries  int
	Duration time.Duration
}

// PlanTenantize returns the steps Tenantize would run, changing nothing.
func PlanTenantize(ctx context.Context, conn *pgx.Conn, table string, opts TenantizeOptions) (Plan, error) {
	opts = opts.withDefaults()
	t, err := inspectForTenantize(ctx, conn, opts, table)
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{Schema: t.schema, Table: t.table, DefaultOrgID: t.defaultOrgID, AlreadyDone: t.record != nil && t.record.state == stateDone}
	if !plan.AlreadyDone {
		plan.Warnings = triggerWarning(t)
	}
	done := map[string]bool{}
	if t.record != nil {
		for _, s := range t.record.steps {
			done[s.Name] = true
		}
	}
	for _, s := range buildSteps(t, opts) {
		plan.Steps = append(plan.Steps, PlannedStep{Name: s.Name, SQL: s.display(), Done: plan.AlreadyDone || done[s.Name]})
	}
	return plan, nil
}

// Tenantize runs (or resumes) the tenantization of one table. A table that
// is already tenantized is left alone (AlreadyDone).
func Tenantize(ctx context.Context, conn *pgx.Conn, table string, opts TenantizeOptions) (TableReport, error) {
	opts = opts.withDefaults()
	start := time.Now()
	t, err := inspectForTenantize(ctx, conn, opts, table)
	if err != nil {
		return TableReport{}, err
	}
	rep := TableReport{Schema: t.schema, Table: t.table, DefaultOrgID: t.defaultOrgID}
	if t.record != nil && t.record.state == stateDone {
		rep.AlreadyDone = true
		rep.RowsBefore, rep.RowsAfter = t.record.rowsBefore, t.record.rowsAfter
		return rep, nil
	}

	unlock, err := lockTable(ctx, conn, t.oid)
	if err != nil {
		return rep, err
	}
	defer unlock()

	r := &runner{conn: conn, opts: opts}
	rec := t.record
	if rec == nil {
		rows, err := countRows(ctx, conn, t.ident)
		if err != nil {
			return rep, err
		}
		rec, err = createRecord(ctx, conn, t, opts.ProjectColumn, rows, buildSteps(t, opts))
		if err != nil {
			return rep, err
		}
		opts.Logf("%s: %d rows, default org %s (%s)", t.display, rows, opts.DefaultOrg, t.defaultOrgID)
		for _, w := range triggerWarning(t) {
			opts.Logf("%s: warning: %s", t.display, w)
		}
	} else {
		rep.Resumed = true
		opts.Logf("%s: resuming after %d recorded steps", t.display, len(rec.steps))
	}
	rep.RowsBefore = rec.rowsBefore

	done := map[string]bool{}
	for _, s := range rec.steps {
		done[s.Name] = true
	}
	for _, s := range rec.plan {
		if done[s.Name] {
			continue
		}
		opts.Logf("%s: %s", t.display, s.Name)
		if err := r.runStep(ctx, rec, t, s, &rep); err != nil {
			rep.Retries = r.retries
			return rep, fmt.Errorf("tenantize %s: step %s: %w", t.display, s.Name, err)
		}
	}
	rep.Retries = r.retries
	rep.RowsAfter = rec.rowsAfter
	rep.Duration = time.Since(start)
	opts.Logf("%s: done: rows before %d, after %d, %d backfilled in %d batches, %d retries, %s",
		t.display, rep.RowsBefore, rep.RowsAfter, rep.BackfilledRows, rep.Batches, rep.Retries, rep.Duration.Round(time.Millisecond))
	return rep, nil
}

// lockTable takes a session advisory lock for the table so two tenantize or
// rollback runs never interleave; it does not wait.
func lockTable(ctx context.Context, conn *pgx.Conn, oid uint32) (func(), error) {
	var ok bool
	if err := conn.QueryRow(ctx, "select pg_try_advisory_lock($1, $2::oid::int)", tenantizeLockClass, oid).Scan(&ok); err != nil {
		return nil, fmt.Errorf("tenantize lock: %w", err)
	}
	if !ok {
		return nil, ErrTenantizeBusy
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, "select pg_advisory_unlock($1, $2::oid::int)", tenantizeLockClass, oid)
	}, nil
}

// tenantizeLockClass is the first key of the two-key advisory lock.
const tenantizeLockClass int32 = 0x53746e74 // "Stnt"

func countRows(ctx context.Context, conn *pgx.Conn, ident string) (int64, error) {
	var n int64
	if err := conn.QueryRow(ctx, "select count(*) from "+ident).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	return n, nil
}

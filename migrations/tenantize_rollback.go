package migrations

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RollbackReport says what RollbackTenantize undid.
type RollbackReport struct {
	Schema, Table string
	// Undone lists the steps undone, last applied first.
	Undone []string
	// Rows is the row count after the rollback.
	Rows     int64
	Retries  int
	Duration time.Duration
}

// PlanRollbackTenantize returns the undo SQL of every recorded step, in the
// order RollbackTenantize would run it, changing nothing.
func PlanRollbackTenantize(ctx context.Context, conn *pgx.Conn, table string, opts TenantizeOptions) (Plan, error) {
	opts = opts.withDefaults()
	t, rec, err := inspectForRollback(ctx, conn, opts, table)
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{Schema: t.schema, Table: t.table, DefaultOrgID: rec.defaultOrgID}
	for _, s := range undoOrder(rec) {
		sql := s.Undo
		if len(sql) == 0 {
			sql = []string{"-- nothing to undo (dropping the column removes it)"}
		}
		plan.Steps = append(plan.Steps, PlannedStep{Name: "undo " + s.Name, SQL: sql})
	}
	return plan, nil
}

// RollbackTenantize undoes exactly the recorded steps of a tenantized (or
// partly tenantized) table, last first, each in its own short transaction
// with the same lock_timeout and retries as Tenantize. Every row stays; the
// columns tenantize added are dropped with what depends on them. An
// interrupted rollback can be run again.
func RollbackTenantize(ctx context.Context, conn *pgx.Conn, table string, opts TenantizeOptions) (RollbackReport, error) {
	opts = opts.withDefaults()
	start := time.Now()
	t, rec, err := inspectForRollback(ctx, conn, opts, table)
	if err != nil {
		return RollbackReport{}, err
	}
	rep := RollbackReport{Schema: t.schema, Table: t.table}
	unlock, err := lockTable(ctx, conn, t.oid)
	if err != nil {
		return rep, err
	}
	defer unlock()
	// Re-read under the lock: a run may have finished meanwhile.
	if rec, err = loadRecord(ctx, conn, t.schema, t.table); err != nil {
		return rep, err
	}
	if rec == nil {
		return rep, fmt.Errorf("%w: %s", ErrNotTenantized, t.display)
	}

	r := &runner{conn: conn, opts: opts}
	for _, s := range undoOrder(rec) {
		opts.Logf("%s: undo %s", t.display, s.Name)
		var err error
		switch {
		case len(s.Undo) == 0:
			err = unmarkDone(ctx, conn, rec)
		case s.UndoKind == kindConcurrent:
			if err = r.concurrent(ctx, t, s.Undo); err == nil {
				err = unmarkDone(ctx, conn, rec)
			}
		default:
			err = r.inTx(ctx, opts.LockTimeout, "undo "+s.Name, func(tx pgx.Tx) error {
				if err := execAll(ctx, tx, s.Undo); err != nil {
					return err
				}
				return unmarkDone(ctx, tx, rec)
			})
		}
		if err != nil {
			rep.Retries = r.retries
			return rep, fmt.Errorf("rollback %s: undo %s: %w", t.display, s.Name, err)
		}
		rep.Undone = append(rep.Undone, s.Name)
	}
	if err := closeRecord(ctx, conn, rec); err != nil {
		return rep, err
	}
	rep.Rows, err = countRows(ctx, conn, t.ident)
	rep.Retries = r.retries
	rep.Duration = time.Since(start)
	opts.Logf("%s: rolled back %d steps, %d rows, %d retries, %s", t.display, len(rep.Undone), rep.Rows, rep.Retries, rep.Duration.Round(time.Millisecond))
	return rep, err
}

func inspectForRollback(ctx context.Context, conn *pgx.Conn, opts TenantizeOptions, table string) (*legacyTable, *record, error) {
	if err := requireMigrated(ctx, conn); err != nil {
		return nil, nil, err
	}
	t, err := findTable(ctx, conn, opts.Schema, table)
	if err != nil {
		return nil, nil, err
	}
	rec, err := loadRecord(ctx, conn, t.schema, t.table)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotTenantized, t.display)
	}
	return t, rec, nil
}

// undoOrder is the recorded steps, last done first, with their plan entry.
func undoOrder(rec *record) []step {
	byName := map[string]step{}
	for _, s := range rec.plan {
		byName[s.Name] = s
	}
	out := make([]step, 0, len(rec.steps))
	for i := len(rec.steps) - 1; i >= 0; i-- {
		s, ok := byName[rec.steps[i].Name]
		if !ok {
			s = step{Name: rec.steps[i].Name}
		}
		out = append(out, s)
	}
	return out
}

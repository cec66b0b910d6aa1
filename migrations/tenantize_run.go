package migrations

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// runner executes tenantize steps on one connection.
type runner struct {
	conn    *pgx.Conn
	opts    TenantizeOptions
	retries int
}

// retryable reports errors worth another attempt: a lock wait that hit
// lock_timeout, a deadlock, a serialization failure.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "55P03", "40P01", "40001":
		return true
	}
	return false
}

// retry runs fn until it succeeds, fails for good, or MaxAttempts is
// reached, backing off with jitter between attempts.
func (r *runner) retry(ctx context.Context, what string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) || attempt >= r.opts.MaxAttempts {
			return err
		}
		r.retries++
		backoff := min(20*time.Millisecond<<min(attempt, 6), time.Second)
		backoff += rand.N(backoff/2 + 1)
		r.opts.Logf("  %s: %v; retrying in %s (attempt %d)", what, shortPgError(err), backoff.Round(time.Millisecond), attempt+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// inTx runs fn in a transaction whose lock waits are bounded by lockTimeout,
// retrying the whole transaction on lock timeouts and conflicts.
func (r *runner) inTx(ctx context.Context, lockTimeout time.Duration, what string, fn func(pgx.Tx) error) error {
	return r.retry(ctx, what, func() error {
		return pgx.BeginFunc(ctx, r.conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "select pg_catalog.set_config('lock_timeout', $1, true)", durationSetting(lockTimeout)); err != nil {
				return err
			}
			return fn(tx)
		})
	})
}

func durationSetting(d time.Duration) string {
	return fmt.Sprintf("%dms", max(d.Milliseconds(), 1))
}

// execAll runs statements in order, skipping comment-only ones.
func execAll(ctx context.Context, q execer, stmts []string) error {
	for _, s := range stmts {
		if isComment(s) {
			continue
		}
		if _, err := q.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func isComment(s string) bool {
	return strings.HasPrefix(strings.TrimSpace(s), "--")
}

func (r *runner) runStep(ctx context.Context, rec *record, t *legacyTable, s step, rep *TableReport) error {
	switch s.Kind {
	case kindLocked, kindWait:
		timeout := r.opts.LockTimeout
		if s.Kind == kindWait {
			timeout = r.opts.WaitTimeout
		}
		return r.inTx(ctx, timeout, s.Name, func(tx pgx.Tx) error {
			if err := execAll(ctx, tx, s.SQL); err != nil {
				return err
			}
			return markDone(ctx, tx, rec, s.Name)
		})
	case kindConcurrent:
		if err := r.concurrent(ctx, t, s.SQL); err != nil {
			return err
		}
		return markDone(ctx, r.conn, rec, s.Name)
	case kindBackfill:
		if err := r.backfill(ctx, t, rep); err != nil {
			return err
		}
		return markDone(ctx, r.conn, rec, s.Name)
	case kindVerify:
		return r.verify(ctx, t, rec)
	}
	return fmt.Errorf("unknown step kind %q", s.Kind)
}

// concurrent runs CREATE/DROP INDEX CONCURRENTLY statements outside a
// transaction. They never block writers, so their waits are bounded by
// WaitTimeout only. A failed CREATE leaves an INVALID index behind; it is
// dropped before the next attempt (also when resuming after a crash).
func (r *runner) concurrent(ctx context.Context, t *legacyTable, stmts []string) error {
	if _, err := r.conn.Exec(ctx, "select pg_catalog.set_config('lock_timeout', $1, false)", durationSetting(r.opts.WaitTimeout)); err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = r.conn.Exec(rctx, "reset lock_timeout")
	}()
	for _, s := range stmts {
		if isComment(s) {
			continue
		}
		err := r.retry(ctx, "index", func() error {
			if err := r.dropInvalidIndex(ctx, t); err != nil {
				return err
			}
			_, err := r.conn.Exec(ctx, s)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// dropInvalidIndex drops tenantize's index if a failed concurrent build
// left it INVALID.
func (r *runner) dropInvalidIndex(ctx context.Context, t *legacyTable) error {
	name := objectName(t.table, indexSuffix)
	var invalid bool
	err := r.conn.QueryRow(ctx, `
		select exists (select 1 from pg_catalog.pg_index i
		               join pg_catalog.pg_class c on c.oid = i.indexrelid
		               where i.indrelid = $1 and c.relname = $2 and not i.indisvalid)`, t.oid, name).Scan(&invalid)
	if err != nil || !invalid {
		return err
	}
	r.opts.Logf("  dropping invalid index %s left by an interrupted build", name)
	_, err = r.conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+quoteQualified(t.schema, name))
	return err
}

// backfill sets org_id on every row that has none, in short transactions:
// first by ranges of heap pages (a TID range scan, no index needed, each
// batch about BatchSize rows), then a sweep over rows still NULL (rows a
// concurrent writer moved to pages already passed, or locked at the time).
// Writers are never blocked for longer than one batch holds its row locks.
func (r *runner) backfill(ctx context.Context, t *legacyTable, rep *TableReport) error {
	var pages int64
	var perPage float64
	err := r.conn.QueryRow(ctx, `
		select pg_catalog.pg_relation_size($1::oid::regclass) / pg_catalog.current_setting('block_size')::bigint,
		       case when c.relpages > 0 and c.reltuples > 0 then c.reltuples / c.relpages else 0 end
		from pg_catalog.pg_class c where c.oid = $1`, t.oid).Scan(&pages, &perPage)
	if err != nil {
		return fmt.Errorf("size of %s: %w", t.display, err)
	}
	if perPage < 1 {
		perPage = 50 // never analyzed: a typical narrow row
	}
	batchPages := max(int64(float64(r.opts.BatchSize)/perPage), 1)
	update := fmt.Sprintf("UPDATE %s SET %s = $1 WHERE ctid >= $2::tid AND ctid < $3::tid AND %s IS NULL",
		t.ident, quoteQualified(orgColumn), quoteQualified(orgColumn))
	var lastLog time.Time
	for start := int64(0); start < pages; start += batchPages {
		var n int64
		lo, hi := fmt.Sprintf("(%d,0)", start), fmt.Sprintf("(%d,0)", start+batchPages)
		err := r.inTx(ctx, r.opts.LockTimeout, "backfill batch", func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, update, t.defaultOrgID, lo, hi)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return fmt.Errorf("backfill pages %d-%d: %w", start, start+batchPages, err)
		}
		rep.BackfilledRows += n
		rep.Batches++
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			r.opts.Logf("  backfill: page %d of %d, %d rows", min(start+batchPages, pages), pages, rep.BackfilledRows)
		}
	}

	sweep := fmt.Sprintf(`UPDATE %[1]s SET %[2]s = $1 WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM %[1]s WHERE %[2]s IS NULL LIMIT $2 FOR UPDATE SKIP LOCKED))`, t.ident, quoteQualified(orgColumn))
	remaining := fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s IS NULL)", t.ident, quoteQualified(orgColumn))
	for {
		var n int64
		err := r.inTx(ctx, r.opts.LockTimeout, "backfill sweep", func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, sweep, t.defaultOrgID, r.opts.BatchSize)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return fmt.Errorf("backfill sweep: %w", err)
		}
		rep.BackfilledRows += n
		if n > 0 {
			rep.Batches++
			continue
		}
		var left bool
		if err := r.conn.QueryRow(ctx, remaining).Scan(&left); err != nil {
			return fmt.Errorf("backfill check: %w", err)
		}
		if !left {
			return nil
		}
		// Rows remain but are locked by writers right now: wait briefly.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// verify checks the result and closes the record: no NULL org_id, every
// constraint validated, the index valid, row security on.
func (r *runner) verify(ctx context.Context, t *legacyTable, rec *record) error {
	var rows, nulls int64
	q := fmt.Sprintf("SELECT count(*), count(*) FILTER (WHERE %[1]s IS NULL) FROM %[2]s", quoteQualified(orgColumn), t.ident)
	if err := r.conn.QueryRow(ctx, q).Scan(&rows, &nulls); err != nil {
		return fmt.Errorf("verify rows: %w", err)
	}
	var problems []string
	if nulls > 0 {
		problems = append(problems, fmt.Sprintf("%d rows have no org_id", nulls))
	}
	names := []string{objectName(t.table, checkSuffix), objectName(t.table, orgFKSuffix)}
	if rec.projectColumn {
		names = append(names, objectName(t.table, projectFKSuffix))
	}
	for _, n := range names {
		var validated bool
		err := r.conn.QueryRow(ctx, "select convalidated from pg_catalog.pg_constraint where conrelid = $1 and conname = $2", t.oid, n).Scan(&validated)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			problems = append(problems, "constraint "+n+" is missing")
		case err != nil:
			return fmt.Errorf("verify constraint %s: %w", n, err)
		case !validated:
			problems = append(problems, "constraint "+n+" is not validated")
		}
	}
	var indexValid, rls, notNull bool
	err := r.conn.QueryRow(ctx, `
		select coalesce((select i.indisvalid from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid
		                 where i.indrelid = $1 and c.relname = $2), false),
		       (select relrowsecurity from pg_catalog.pg_class where oid = $1),
		       (select attnotnull from pg_catalog.pg_attribute where attrelid = $1 and attname = 'org_id')`,
		t.oid, objectName(t.table, indexSuffix)).Scan(&indexValid, &rls, &notNull)
	if err != nil {
		return fmt.Errorf("verify index and row security: %w", err)
	}
	if !indexValid {
		problems = append(problems, "index is missing or invalid")
	}
	if !rls {
		problems = append(problems, "row security is off")
	}
	if !notNull {
		problems = append(problems, "org_id is not NOT NULL")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrVerifyFailed, t.display, strings.Join(problems, "; "))
	}
	if rows < rec.rowsBefore {
		// Tenantize never deletes: fewer rows means concurrent deletes.
		r.opts.Logf("  note: %d rows now, %d at the start: rows were deleted meanwhile by other sessions", rows, rec.rowsBefore)
	}
	return pgx.BeginFunc(ctx, r.conn, func(tx pgx.Tx) error {
		if err := markDone(ctx, tx, rec, stepVerify); err != nil {
			return err
		}
		return finishRecord(ctx, tx, rec, rows)
	})
}

// shortPgError is the message of a PostgreSQL error without its context.
func shortPgError(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code + " " + pgErr.Message
	}
	return err.Error()
}

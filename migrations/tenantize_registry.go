package migrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Record states in strangler.tenantized_tables.
const (
	stateInProgress = "in_progress"
	stateDone       = "done"
	stateRolledBack = "rolled_back"
)

// record is the active row of strangler.tenantized_tables for one table.
type record struct {
	id            int64
	state         string
	defaultOrgID  string
	projectColumn bool
	plan          []step
	steps         []doneStep
	rowsBefore    int64
	rowsAfter     int64
}

// doneStep is one entry of tenantized_tables.done.
type doneStep struct {
	Name   string `json:"name"`
	DoneAt string `json:"done_at,omitempty"`
}

// execer is a connection or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func loadRecord(ctx context.Context, conn *pgx.Conn, schema, table string) (*record, error) {
	r := &record{}
	var plan, done []byte
	var rowsAfter *int64
	err := conn.QueryRow(ctx, `
		select id, state, default_org_id::text, project_column, plan, done, rows_before, rows_after
		from strangler.tenantized_tables
		where schema_name = $1 and table_name = $2 and state <> $3`, schema, table, stateRolledBack).
		Scan(&r.id, &r.state, &r.defaultOrgID, &r.projectColumn, &plan, &done, &r.rowsBefore, &rowsAfter)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tenantize record: %w", err)
	}
	if rowsAfter != nil {
		r.rowsAfter = *rowsAfter
	}
	if err := json.Unmarshal(plan, &r.plan); err != nil {
		return nil, fmt.Errorf("decode tenantize plan: %w", err)
	}
	if err := json.Unmarshal(done, &r.steps); err != nil {
		return nil, fmt.Errorf("decode tenantize steps: %w", err)
	}
	return r, nil
}

func createRecord(ctx context.Context, conn *pgx.Conn, t *legacyTable, projectCol bool, rows int64, plan []step) (*record, error) {
	body, err := json.Marshal(plan)
	if err != nil {
		return nil, fmt.Errorf("encode tenantize plan: %w", err)
	}
	r := &record{state: stateInProgress, defaultOrgID: t.defaultOrgID, projectColumn: projectCol, plan: plan, rowsBefore: rows}
	err = conn.QueryRow(ctx, `
		insert into strangler.tenantized_tables (schema_name, table_name, default_org_id, project_column, plan, rows_before)
		values ($1, $2, $3, $4, $5, $6) returning id`,
		t.schema, t.table, t.defaultOrgID, projectCol, body, rows).Scan(&r.id)
	if err != nil {
		return nil, fmt.Errorf("record tenantize start: %w", err)
	}
	return r, nil
}

// markDone appends a step to the record, in the caller's transaction when
// q is one, so a DDL step and its record commit together.
func markDone(ctx context.Context, q execer, r *record, name string) error {
	_, err := q.Exec(ctx, `
		update strangler.tenantized_tables
		set done = done || jsonb_build_array(jsonb_build_object('name', $2::text, 'done_at', now()))
		where id = $1`, r.id, name)
	if err != nil {
		return fmt.Errorf("record step %s: %w", name, err)
	}
	return nil
}

// unmarkDone removes the last recorded step (rollback undoes in reverse).
func unmarkDone(ctx context.Context, q execer, r *record) error {
	_, err := q.Exec(ctx, "update strangler.tenantized_tables set done = done - (-1) where id = $1", r.id)
	if err != nil {
		return fmt.Errorf("unrecord step: %w", err)
	}
	return nil
}

// finishRecord marks the run done with the verified row count.
func finishRecord(ctx context.Context, q execer, r *record, rowsAfter int64) error {
	_, err := q.Exec(ctx, `
		update strangler.tenantized_tables set state = $2, rows_after = $3, finished_at = now()
		where id = $1`, r.id, stateDone, rowsAfter)
	if err != nil {
		return fmt.Errorf("record tenantize end: %w", err)
	}
	r.state, r.rowsAfter = stateDone, rowsAfter
	return nil
}

// closeRecord marks the run rolled back (the table is as before).
func closeRecord(ctx context.Context, q execer, r *record) error {
	_, err := q.Exec(ctx, `
		update strangler.tenantized_tables set state = $2, rolled_back_at = now()
		where id = $1`, r.id, stateRolledBack)
	if err != nil {
		return fmt.Errorf("record rollback: %w", err)
	}
	r.state = stateRolledBack
	return nil
}

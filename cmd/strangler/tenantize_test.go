package main

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
)

func TestTenantizeUsageErrorsExit2(t *testing.T) {
	t.Setenv(envDatabaseURL, "")
	url := "postgres://x@127.0.0.1:1/db"
	for _, args := range [][]string{
		{"tenantize", "--database-url", url, "--default-org", "legacy"}, // no table
		{"tenantize", "--default-org", "legacy", "documents"},           // no URL
		{"tenantize", "--database-url", url, "documents"},               // no default org
		{"tenantize", "--database-url", url, "--default-org", "l", "--batch-size", "0", "t"},
		{"tenantize", "--database-url", url, "--default-org", "l", "--batch-size", "x", "t"},
		{"tenantize", "--database-url", url, "--default-org", "l", "--lock-timeout", "0s", "t"},
		{"tenantize", "--database-url", url, "--default-org", "l", "t", "t"},
		{"tenantize", "--database-url", url, "--default-org", "l", "--nope", "t"},
	} {
		assert.Equal(t, 2, run(args), "%q", args)
	}
}

func TestTenantizeCommand(t *testing.T) {
	ctx := context.Background()
	ownerURL, appURL := pgtest.Migrated(t)
	owner := pgtest.Conn(t, ownerURL)
	app := pgtest.Pool(t, appURL)
	orgID := uuid.NewString()
	require.NoError(t, pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select set_config('strangler.org_id', $1, true)", orgID)
		if err == nil {
			_, err = tx.Exec(ctx, "insert into strangler.organizations (id, slug, name) values ($1, 'legacy', 'Legacy')", orgID)
		}
		return err
	}))
	_, err := owner.Exec(ctx, `create table public.notes (id serial primary key, body text);
		insert into public.notes (body) select 'n' || g from generate_series(1, 1000) g;
		create table "odd; name" (id int)`)
	require.NoError(t, err)

	// --dry-run prints SQL and changes nothing.
	out, err := execCmd(t, "tenantize", "--database-url", ownerURL, "--default-org", "legacy", "--dry-run", "notes")
	require.NoError(t, err)
	assert.Contains(t, out, `-- tenantize plan for "public"."notes" (default org `+orgID+`)`)
	assert.Contains(t, out, `ALTER TABLE "public"."notes" ADD COLUMN "org_id" uuid;`)
	assert.Contains(t, out, `CREATE INDEX CONCURRENTLY IF NOT EXISTS "notes_org_id_idx" ON "public"."notes" ("org_id");`)
	assert.Contains(t, out, `IS NULL;`)
	var cols int
	require.NoError(t, owner.QueryRow(ctx, "select count(*) from information_schema.columns where table_name = 'notes' and column_name = 'org_id'").Scan(&cols))
	assert.Zero(t, cols)

	out, err = execCmd(t, "tenantize", "--database-url", ownerURL, "--default-org", "legacy", "--batch-size", "100", "notes", "odd; name")
	require.NoError(t, err)
	assert.Contains(t, out, `"public"."notes": done: rows before 1000, after 1000`)
	assert.Contains(t, out, `"public"."odd; name": done`)
	out, err = execCmd(t, "tenantize", "--database-url", ownerURL, "--default-org", "legacy", "notes")
	require.NoError(t, err)
	assert.Contains(t, out, "already tenantized")
	out, err = execCmd(t, "tenantize", "--database-url", ownerURL, "--default-org", "legacy", "--dry-run", "notes")
	require.NoError(t, err)
	assert.Contains(t, out, "nothing to do")

	out, err = execCmd(t, "tenantize", "--database-url", ownerURL, "--rollback", "--dry-run", "notes")
	require.NoError(t, err)
	assert.Contains(t, out, "-- step undo add_columns")
	assert.Contains(t, out, `ALTER TABLE "public"."notes" DROP COLUMN IF EXISTS "org_id";`)
	assert.Less(t, strings.Index(out, "undo row_level_security"), strings.Index(out, "undo add_columns"))

	out, err = execCmd(t, "tenantize", "--database-url", ownerURL, "--rollback", "notes", "odd; name")
	require.NoError(t, err)
	assert.Contains(t, out, "rolled back 11 steps, 1000 rows")
	require.NoError(t, owner.QueryRow(ctx, "select count(*) from information_schema.columns where table_name = 'notes' and column_name = 'org_id'").Scan(&cols))
	assert.Zero(t, cols)

	// Failures that are not usage errors exit 1.
	assert.Equal(t, 1, run([]string{"tenantize", "--database-url", ownerURL, "--default-org", "nope", "notes"}))
	assert.Equal(t, 1, run([]string{"tenantize", "--database-url", ownerURL, "--default-org", "legacy", "missing_table"}))
	assert.Equal(t, 1, run([]string{"tenantize", "--database-url", ownerURL, "--rollback", "notes"}))
}

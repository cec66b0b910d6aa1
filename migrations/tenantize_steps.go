package migrations

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/jackc/pgx/v5"
)

// Step kinds: how a step runs.
const (
	// kindLocked: one short transaction with lock_timeout = LockTimeout,
	// retried; for statements whose lock blocks writers while it waits.
	kindLocked = "locked"
	// kindWait: one transaction with lock_timeout = WaitTimeout; for
	// statements whose locks never block writers (VALIDATE).
	kindWait = "wait"
	// kindConcurrent: outside any transaction (CREATE/DROP INDEX CONCURRENTLY).
	kindConcurrent = "concurrent"
	// kindBackfill: the batched backfill.
	kindBackfill = "backfill"
	// kindVerify: read-only checks.
	kindVerify = "verify"
)

// Step names, in order.
const (
	stepAddColumns    = "add_columns"
	stepBackfill      = "backfill"
	stepCheckNotValid = "check_not_valid"
	stepCheckValidate = "check_validate"
	stepSetNotNull    = "set_not_null"
	stepIndex         = "index"
	stepForeignKeys   = "foreign_keys_not_valid"
	stepValidateFKs   = "foreign_keys_validate"
	stepRowSecurity   = "row_level_security"
	stepGrants        = "grants"
	stepVerify        = "verify"
	rlsTemplateMarker = "---- create above / drop below ----"
	orgColumn         = "org_id"
	projectColumn     = "project_id"
	checkSuffix       = "org_id_not_null"
	orgFKSuffix       = "org_id_fkey"
	projectFKSuffix   = "project_fkey"
	indexSuffix       = "org_id_idx"
	backfillComment   = "-- one transaction per batch of about %d rows (ranges of heap pages), then until no row has org_id NULL:"
)

// step is one recorded unit of tenantize. It is stored as JSON in
// strangler.tenantized_tables.plan, so a resumed run and a rollback use the
// SQL fixed by the first run.
type step struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	SQL      []string `json:"sql"`
	Undo     []string `json:"undo,omitempty"`
	UndoKind string   `json:"undo_kind,omitempty"`
}

// display is the SQL a plan shows for the step.
func (s step) display() []string { return s.SQL }

// rlsTemplateData fills migrations/templates/tenant_table_rls.sql.
type rlsTemplateData struct {
	Table             string
	AppRole           string
	AppRoleLiteral    string
	EnableRLS         bool
	LegacyPassthrough bool
}

// RenderTenantTableRLS renders the RLS template for table (schema-qualified
// by pgx.Identifier quoting) and returns its up and down SQL. rlsWasEnabled
// says whether the table had row security before (then it is left on at
// rollback and no passthrough policy is added: existing policies keep
// governing the legacy roles).
func RenderTenantTableRLS(schema, table string, rlsWasEnabled bool) (up, down string, err error) {
	tmpl, err := template.New("tenant_table_rls.sql").Parse(tenantTableRLS)
	if err != nil {
		return "", "", fmt.Errorf("parse RLS template: %w", err)
	}
	var b strings.Builder
	err = tmpl.Execute(&b, rlsTemplateData{
		Table:             quoteQualified(schema, table),
		AppRole:           quoteQualified(AppRole),
		AppRoleLiteral:    quoteLiteral(AppRole),
		EnableRLS:         !rlsWasEnabled,
		LegacyPassthrough: !rlsWasEnabled,
	})
	if err != nil {
		return "", "", fmt.Errorf("render RLS template: %w", err)
	}
	parts := strings.SplitN(b.String(), rlsTemplateMarker, 2)
	if len(parts) != 2 {
		return "", "", fmt.Errorf("RLS template: missing %q", rlsTemplateMarker)
	}
	return strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), nil
}

// buildSteps is the plan of a first run (a resumed run uses the recorded
// plan instead).
func buildSteps(t *legacyTable, opts TenantizeOptions) []step {
	if t.record != nil {
		return t.record.plan
	}
	id := t.ident
	col := func(c string) string { return quoteQualified(c) }
	check := quoteQualified(objectName(t.table, checkSuffix))
	orgFK := quoteQualified(objectName(t.table, orgFKSuffix))
	projFK := quoteQualified(objectName(t.table, projectFKSuffix))
	idxName := objectName(t.table, indexSuffix)
	defaultExpr := fmt.Sprintf("coalesce(nullif(pg_catalog.current_setting('strangler.org_id', true), '')::uuid, %s::uuid)", quoteLiteral(t.defaultOrgID))

	add := step{Name: stepAddColumns, Kind: kindLocked, UndoKind: kindLocked}
	add.SQL = append(add.SQL, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s uuid", id, col(orgColumn)))
	if opts.ProjectColumn {
		add.SQL = append(add.SQL, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s uuid", id, col(projectColumn)))
		add.Undo = append(add.Undo, fmt.Sprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", id, col(projectColumn)))
	}
	add.SQL = append(add.SQL, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", id, col(orgColumn), defaultExpr))
	add.Undo = append(add.Undo, fmt.Sprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", id, col(orgColumn)))

	backfill := step{Name: stepBackfill, Kind: kindBackfill, SQL: []string{
		fmt.Sprintf(backfillComment, opts.BatchSize),
		fmt.Sprintf("UPDATE %s SET %s = %s WHERE ctid >= $1::tid AND ctid < $2::tid AND %s IS NULL",
			id, col(orgColumn), quoteLiteral(t.defaultOrgID), col(orgColumn)),
	}}

	steps := []step{
		add,
		backfill,
		{Name: stepCheckNotValid, Kind: kindLocked, UndoKind: kindLocked,
			SQL:  []string{fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID", id, check, col(orgColumn))},
			Undo: []string{fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", id, check)}},
		{Name: stepCheckValidate, Kind: kindWait,
			SQL: []string{fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", id, check)}},
		{Name: stepSetNotNull, Kind: kindLocked, UndoKind: kindLocked,
			SQL:  []string{fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", id, col(orgColumn))},
			Undo: []string{fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", id, col(orgColumn))}},
	}

	idxCols := col(orgColumn)
	if opts.ProjectColumn {
		idxCols += ", " + col(projectColumn)
	}
	steps = append(steps, step{Name: stepIndex, Kind: kindConcurrent, UndoKind: kindConcurrent,
		SQL:  []string{fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)", quoteQualified(idxName), id, idxCols)},
		Undo: []string{fmt.Sprintf("DROP INDEX CONCURRENTLY IF EXISTS %s", quoteQualified(t.schema, idxName))}})

	fks := step{Name: stepForeignKeys, Kind: kindLocked, UndoKind: kindLocked}
	// VALIDATE checks existing rows with one query run as the connecting
	// role. As the owner of strangler.organizations that query is bound by
	// its FORCEd row security and would see no org at all; the owner's
	// definer_access policy opens it for this transaction only.
	validate := step{Name: stepValidateFKs, Kind: kindWait, SQL: []string{
		"SELECT pg_catalog.set_config('strangler.cross_tenant', 'on', true)",
	}}
	fks.SQL = append(fks.SQL, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES strangler.organizations (id) NOT VALID", id, orgFK, col(orgColumn)))
	validate.SQL = append(validate.SQL, fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", id, orgFK))
	if opts.ProjectColumn {
		fks.SQL = append(fks.SQL, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s, %s) REFERENCES strangler.projects (org_id, id) NOT VALID", id, projFK, col(orgColumn), col(projectColumn)))
		validate.SQL = append(validate.SQL, fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", id, projFK))
		fks.Undo = append(fks.Undo, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", id, projFK))
	}
	fks.Undo = append(fks.Undo, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", id, orgFK))
	steps = append(steps, fks, validate)

	// The template was parsed at build time by the tests; an error here is
	// a broken binary, surfaced by the step when it runs.
	up, down, err := RenderTenantTableRLS(t.schema, t.table, t.rlsEnabled)
	rls := step{Name: stepRowSecurity, Kind: kindLocked, UndoKind: kindLocked, SQL: []string{up}, Undo: []string{down}}
	if err != nil {
		rls.SQL = []string{"DO $$ BEGIN RAISE EXCEPTION " + quoteLiteral(err.Error()) + "; END $$"}
		rls.Undo = nil
	}
	steps = append(steps, rls)

	grants := step{Name: stepGrants, Kind: kindLocked, UndoKind: kindLocked}
	if len(t.missingPrivs) > 0 {
		privs := strings.Join(t.missingPrivs, ", ")
		grants.SQL = append(grants.SQL, fmt.Sprintf("GRANT %s ON %s TO %s", privs, id, quoteQualified(AppRole)))
		grants.Undo = append(grants.Undo, fmt.Sprintf("REVOKE %s ON %s FROM %s", privs, id, quoteQualified(AppRole)))
	}
	for _, seq := range t.sequences {
		grants.SQL = append(grants.SQL, fmt.Sprintf("GRANT USAGE ON SEQUENCE %s TO %s", seq, quoteQualified(AppRole)))
		grants.Undo = append(grants.Undo, fmt.Sprintf("REVOKE USAGE ON SEQUENCE %s FROM %s", seq, quoteQualified(AppRole)))
	}
	if len(grants.SQL) == 0 {
		grants.SQL = []string{"-- " + AppRole + " already holds SELECT, INSERT, UPDATE, DELETE"}
	}
	steps = append(steps, grants)

	steps = append(steps, step{Name: stepVerify, Kind: kindVerify, SQL: []string{
		fmt.Sprintf("SELECT count(*), count(*) FILTER (WHERE %s IS NULL) FROM %s", col(orgColumn), id),
		fmt.Sprintf("-- and: %s validated, %s valid, row security enabled", check, quoteQualified(idxName)),
	}})
	return steps
}

// quoteQualified quotes each part as an identifier and joins them with dots.
func quoteQualified(parts ...string) string {
	return pgx.Identifier(parts).Sanitize()
}

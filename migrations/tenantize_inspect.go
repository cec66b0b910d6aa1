package migrations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// ErrInvalidTableName: a table or schema name that cannot be an identifier.
var ErrInvalidTableName = errors.New("invalid table name")

// maxIdentifierBytes is PostgreSQL's NAMEDATALEN - 1.
const maxIdentifierBytes = 63

// legacyTable is a legacy table as found in the catalog, with what
// tenantize needs to plan it.
type legacyTable struct {
	schema, table string
	oid           uint32
	// ident is the quoted, schema-qualified name ("public"."documents");
	// display is the same, used in messages (quoting keeps hostile names
	// from forging log lines).
	ident, display string
	defaultOrgID   string
	// rlsEnabled is the table's row security before tenantize.
	rlsEnabled bool
	// missingPrivs are the table privileges the runtime role lacks.
	missingPrivs []string
	// sequences are owned serial sequences the runtime role cannot use yet.
	sequences []string
	// updateTriggers are enabled user triggers that fire on UPDATE: the
	// backfill's UPDATEs fire them too.
	updateTriggers []string
	record         *record
}

// validateIdentifier accepts any name PostgreSQL accepts as a quoted
// identifier: quotes, semicolons and spaces are fine (every use is quoted
// with pgx.Identifier); empty, over-long, NUL and invalid UTF-8 are not.
func validateIdentifier(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s name", ErrInvalidTableName, kind)
	case len(name) > maxIdentifierBytes:
		return fmt.Errorf("%w: %s name longer than %d bytes", ErrInvalidTableName, kind, maxIdentifierBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %s name is not valid UTF-8", ErrInvalidTableName, kind)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: %s name contains NUL", ErrInvalidTableName, kind)
	}
	return nil
}

// refusedSchemas are never tenantized.
var refusedSchemas = map[string]bool{Schema: true, "pg_catalog": true, "information_schema": true, "pg_toast": true}

// findTable looks the table up by exact name (never by parsing SQL).
func findTable(ctx context.Context, conn *pgx.Conn, schema, table string) (*legacyTable, error) {
	if err := validateIdentifier("schema", schema); err != nil {
		return nil, err
	}
	if err := validateIdentifier("table", table); err != nil {
		return nil, err
	}
	t := &legacyTable{schema: schema, table: table}
	t.ident = pgx.Identifier{schema, table}.Sanitize()
	t.display = t.ident
	if refusedSchemas[schema] || strings.HasPrefix(schema, "pg_temp") {
		return nil, fmt.Errorf("%w: %s is in schema %q", ErrTableNotSupported, t.display, schema)
	}
	var kind string
	var persistence string
	err := conn.QueryRow(ctx, `
		select c.oid, c.relkind::text, c.relpersistence::text, c.relrowsecurity
		from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		where n.nspname = $1 and c.relname = $2`, schema, table).Scan(&t.oid, &kind, &persistence, &t.rlsEnabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrTableNotFound, t.display)
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", t.display, err)
	}
	switch {
	case kind == "p":
		return nil, fmt.Errorf("%w: %s is partitioned (CREATE INDEX CONCURRENTLY cannot build its index); tenantize its partitions", ErrTableNotSupported, t.display)
	case kind != "r":
		return nil, fmt.Errorf("%w: %s is not an ordinary table (relkind %s)", ErrTableNotSupported, t.display, kind)
	case persistence == "t":
		return nil, fmt.Errorf("%w: %s is a temporary table", ErrTableNotSupported, t.display)
	}
	var inherits bool
	if err := conn.QueryRow(ctx, "select exists (select 1 from pg_catalog.pg_inherits where inhparent = $1 or inhrelid = $1)", t.oid).Scan(&inherits); err != nil {
		return nil, fmt.Errorf("look up inheritance of %s: %w", t.display, err)
	}
	if inherits {
		return nil, fmt.Errorf("%w: %s takes part in table inheritance or partitioning", ErrTableNotSupported, t.display)
	}
	return t, nil
}

// inspectForTenantize finds the table, the default org, the record of an
// earlier run, and the runtime role's current privileges.
func inspectForTenantize(ctx context.Context, conn *pgx.Conn, opts TenantizeOptions, table string) (*legacyTable, error) {
	if err := requireMigrated(ctx, conn); err != nil {
		return nil, err
	}
	t, err := findTable(ctx, conn, opts.Schema, table)
	if err != nil {
		return nil, err
	}
	if opts.DefaultOrg == "" {
		return nil, fmt.Errorf("%w: no default org given", ErrOrgNotFound)
	}
	err = conn.QueryRow(ctx, "select id::text from strangler.find_organization_by_slug($1)", opts.DefaultOrg).Scan(&t.defaultOrgID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q (create it with strangler bootstrap)", ErrOrgNotFound, opts.DefaultOrg)
	}
	if err != nil {
		return nil, fmt.Errorf("look up org %q: %w", opts.DefaultOrg, err)
	}
	rows, err := conn.Query(ctx, `
		select tgname::text from pg_catalog.pg_trigger
		where tgrelid = $1 and not tgisinternal and tgenabled <> 'D' and (tgtype & 16) <> 0
		order by 1`, t.oid)
	if err != nil {
		return nil, fmt.Errorf("look up triggers of %s: %w", t.display, err)
	}
	if t.updateTriggers, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, fmt.Errorf("look up triggers of %s: %w", t.display, err)
	}
	t.record, err = loadRecord(ctx, conn, t.schema, t.table)
	if err != nil {
		return nil, err
	}
	if t.record != nil {
		if t.record.defaultOrgID != t.defaultOrgID || t.record.projectColumn != opts.ProjectColumn {
			return nil, fmt.Errorf("%w: %s was tenantized with default org %s and project column %t; roll it back first to change that",
				ErrTableNotSupported, t.display, t.record.defaultOrgID, t.record.projectColumn)
		}
		return t, nil
	}

	// A first run: the columns must not exist yet.
	rows, err = conn.Query(ctx, `
		select attname::text from pg_catalog.pg_attribute
		where attrelid = $1 and attnum > 0 and not attisdropped and attname in ('org_id', 'project_id')`, t.oid)
	if err != nil {
		return nil, fmt.Errorf("look up columns of %s: %w", t.display, err)
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up columns of %s: %w", t.display, err)
	}
	for _, c := range existing {
		if c == "org_id" || opts.ProjectColumn {
			return nil, fmt.Errorf("%w: %s already has a column %s that tenantize did not add", ErrTableNotSupported, t.display, c)
		}
	}

	for _, p := range []string{"SELECT", "INSERT", "UPDATE", "DELETE"} {
		var has bool
		if err := conn.QueryRow(ctx, "select pg_catalog.has_table_privilege($1, $2::oid, $3)", AppRole, t.oid, p).Scan(&has); err != nil {
			return nil, fmt.Errorf("check privileges of %s: %w", AppRole, err)
		}
		if !has {
			t.missingPrivs = append(t.missingPrivs, p)
		}
	}
	rows, err = conn.Query(ctx, `
		select n.nspname::text, s.relname::text
		from pg_catalog.pg_depend d
		join pg_catalog.pg_class s on s.oid = d.objid and s.relkind = 'S'
		join pg_catalog.pg_namespace n on n.oid = s.relnamespace
		where d.classid = 'pg_catalog.pg_class'::regclass and d.refclassid = 'pg_catalog.pg_class'::regclass
		  and d.refobjid = $1 and d.deptype = 'a'
		  and not pg_catalog.has_sequence_privilege($2, s.oid, 'USAGE')
		order by 1, 2`, t.oid, AppRole)
	if err != nil {
		return nil, fmt.Errorf("look up sequences of %s: %w", t.display, err)
	}
	seqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var s, n string
		err := r.Scan(&s, &n)
		return pgx.Identifier{s, n}.Sanitize(), err
	})
	if err != nil {
		return nil, fmt.Errorf("look up sequences of %s: %w", t.display, err)
	}
	t.sequences = seqs
	return t, nil
}

// requireMigrated fails clearly when the strangler schema is not migrated.
func requireMigrated(ctx context.Context, conn *pgx.Conn) error {
	var registry, role bool
	if err := conn.QueryRow(ctx, `
		select to_regclass('strangler.tenantized_tables') is not null,
		       exists (select 1 from pg_catalog.pg_roles where rolname = $1)`, AppRole).Scan(&registry, &role); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !registry || !role {
		return errors.New("the strangler schema is not migrated: run `strangler migrate up` first")
	}
	return nil
}

// objectName derives a constraint or index name from the table name within
// the 63-byte limit; a long table name is cut (on a rune boundary) and made
// unique with a hash of the full name instead of being silently truncated.
func objectName(table, suffix string) string {
	name := table + "_" + suffix
	if len(name) <= maxIdentifierBytes {
		return name
	}
	sum := sha256.Sum256([]byte(table))
	tag := "_" + hex.EncodeToString(sum[:4]) + "_" + suffix
	cut := maxIdentifierBytes - len(tag)
	for cut > 0 && !utf8.RuneStart(table[cut]) {
		cut--
	}
	return table[:cut] + tag
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

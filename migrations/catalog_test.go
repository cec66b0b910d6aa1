package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// catalogQueries describe everything a migration can create in the
// strangler schema, one text line per object, so two snapshots compare as
// sorted string lists.
var catalogQueries = map[string]string{
	"table": `
		select format('%s kind=%s rls=%s force=%s owner=%s', c.relname, c.relkind, c.relrowsecurity,
		              c.relforcerowsecurity, pg_get_userbyid(c.relowner))
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')`,
	"column": `
		select format('%s.%s %s notnull=%s default=%s identity=%s', c.relname, a.attname,
		              format_type(a.atttypid, a.atttypmod), a.attnotnull,
		              coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity)
		from pg_attribute a
		join pg_class c on c.oid = a.attrelid
		join pg_namespace n on n.oid = c.relnamespace
		left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
		where n.nspname = $1 and c.relkind in ('r', 'p', 'v') and a.attnum > 0 and not a.attisdropped`,
	"constraint": `
		select format('%s.%s %s validated=%s', c.relname, k.conname, pg_get_constraintdef(k.oid), k.convalidated)
		from pg_constraint k
		join pg_class c on c.oid = k.conrelid
		join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = $1`,
	"index": `
		select format('%s valid=%s', pg_get_indexdef(i.indexrelid), i.indisvalid)
		from pg_index i
		join pg_class c on c.oid = i.indrelid
		join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = $1`,
	"policy": `
		select format('%s.%s permissive=%s roles=%s cmd=%s using=%s check=%s', tablename, policyname,
		              permissive, roles, cmd, coalesce(qual, ''), coalesce(with_check, ''))
		from pg_policies where schemaname = $1`,
	"function": `
		select format('%s(%s) returns %s secdef=%s volatile=%s config=%s src=%s acl=%s', p.proname,
		              pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
		              p.prosecdef, p.provolatile, coalesce(p.proconfig::text, ''), md5(p.prosrc),
		              coalesce((select string_agg(format('%s:%s', x.grantee::regrole, x.privilege_type), ',' order by 1)
		                        from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
		                        where x.grantee <> p.proowner), ''))
		from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		where n.nspname = $1`,
	"trigger": `
		select pg_get_triggerdef(t.oid)
		from pg_trigger t
		join pg_class c on c.oid = t.tgrelid
		join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = $1 and not t.tgisinternal`,
	"grant": `
		select format('%s %s %s', c.relname,
		              coalesce((select string_agg(format('%s:%s', x.grantee::regrole, x.privilege_type), ',' order by 1)
		                        from aclexplode(c.relacl) x where x.grantee <> c.relowner), ''),
		              coalesce((select string_agg(format('%s:%s:%s', a.attname, x.grantee::regrole, x.privilege_type), ',' order by 1)
		                        from pg_attribute a, aclexplode(a.attacl) x
		                        where a.attrelid = c.oid and x.grantee <> c.relowner), ''))
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = $1`,
	"schema": `
		select format('%s owner=%s acl=%s', nspname, pg_get_userbyid(nspowner),
		              coalesce((select string_agg(format('%s:%s', x.grantee::regrole, x.privilege_type), ',' order by 1)
		                        from aclexplode(nspacl) x where x.grantee <> nspowner), ''))
		from pg_namespace where nspname = $1`,
}

// catalogSnapshot returns the sorted description of schema.
func catalogSnapshot(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for kind, q := range catalogQueries {
		rows, err := conn.Query(ctx, q, schema)
		require.NoError(t, err, kind)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, kind)
		for _, l := range lines {
			out = append(out, kind+" "+l)
		}
	}
	return sortStrings(out)
}

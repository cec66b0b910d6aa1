{{- /*
Row-level security for a legacy table that has an org_id column
(`strangler tenantize` adds it). A Go text/template, rendered by tenantize
with identifiers already quoted (pgx.Identifier):

  .Table              schema-qualified table, e.g. "public"."documents"
  .AppRole            runtime role as an identifier, e.g. "strangler_app"
  .AppRoleLiteral     the same role as a string literal, e.g. 'strangler_app'
  .EnableRLS          true when RLS was off before (rollback turns it off again)
  .LegacyPassthrough  true when RLS was off before: every role other than the
                      runtime role keeps exactly the access it had

Why this shape:
 * The runtime role sees and writes only rows of the org set in the
   transaction (strangler.org_id). The RESTRICTIVE guard keeps that true even
   when the legacy table already has permissive policies for PUBLIC
   (Supabase-style tables): restrictive policies are ANDed with them.
 * The legacy application keeps working. It usually connects as the owner,
   which RLS does not bind without FORCE, so FORCE is deliberately not set on
   legacy tables; a role with existing policies keeps them. When RLS was off
   before, the passthrough policy keeps every other role where it was; it
   excludes members of the runtime role.
 * The org_id column default (set by tenantize) is
   coalesce(nullif(current_setting('strangler.org_id', true), '')::uuid, <default org>),
   so legacy writers that know nothing of org_id still produce valid rows.

The part after the marker line undoes the part before it.
*/ -}}
{{- if .EnableRLS}}
ALTER TABLE {{.Table}} ENABLE ROW LEVEL SECURITY;
{{- end}}
CREATE POLICY strangler_tenant_isolation ON {{.Table}} AS PERMISSIVE FOR ALL TO {{.AppRole}}
  USING (org_id = (SELECT strangler.current_org_id()))
  WITH CHECK (org_id = (SELECT strangler.current_org_id()));
CREATE POLICY strangler_tenant_guard ON {{.Table}} AS RESTRICTIVE FOR ALL TO {{.AppRole}}
  USING (org_id = (SELECT strangler.current_org_id()))
  WITH CHECK (org_id = (SELECT strangler.current_org_id()));
{{- if .LegacyPassthrough}}
CREATE POLICY strangler_legacy_passthrough ON {{.Table}} AS PERMISSIVE FOR ALL TO PUBLIC
  USING ((SELECT NOT pg_catalog.pg_has_role(current_user, {{.AppRoleLiteral}}, 'MEMBER')))
  WITH CHECK ((SELECT NOT pg_catalog.pg_has_role(current_user, {{.AppRoleLiteral}}, 'MEMBER')));
{{- end}}

---- create above / drop below ----

{{- if .LegacyPassthrough}}
DROP POLICY IF EXISTS strangler_legacy_passthrough ON {{.Table}};
{{- end}}
DROP POLICY IF EXISTS strangler_tenant_guard ON {{.Table}};
DROP POLICY IF EXISTS strangler_tenant_isolation ON {{.Table}};
{{- if .EnableRLS}}
ALTER TABLE {{.Table}} DISABLE ROW LEVEL SECURITY;
{{- end}}

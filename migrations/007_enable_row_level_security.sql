-- Row-level security for every org-scoped table, the runtime role, and the
-- narrow SECURITY DEFINER functions for the lookups that must cross tenants.
--
-- Model:
--  * The application connects as strangler_app (NOSUPERUSER, NOBYPASSRLS,
--    never the owner; `serve` checks this with migrations.CheckRuntimeRole).
--  * Each unit of tenant work is a transaction that first runs
--      select set_config('strangler.org_id', $1, true),
--             set_config('strangler.user_id', $2, true)
--    (transaction-local; SET LOCAL cannot take bind parameters, and a
--    session SET would leak to the next borrower of a pooled connection).
--  * Policies compare with (select strangler.current_org_id()), evaluated
--    once per statement, on indexed columns.
--  * FORCE binds the owner too. The SECURITY DEFINER functions run as the
--    owner and reach across tenants through the policy `definer_access`,
--    which applies only to the owning role and only while the function has
--    turned strangler.cross_tenant on. The runtime role gains nothing from
--    that flag: the policy does not apply to it.

-- Roles are cluster-wide and databases are not: create the runtime role only
-- if absent, and tolerate a concurrent creation by a migration of another
-- database. LOGIN so it can connect directly (set its password, or use
-- trust/cert auth); `migrate down` never drops it because other databases
-- may use it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'strangler_app') THEN
    BEGIN
      CREATE ROLE strangler_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$;

-- The tenant of the current transaction; NULL when unset. After a
-- transaction that set it ends, the setting reads '' rather than NULL, hence
-- nullif: an unset org fails closed (NULL never equals anything).
CREATE FUNCTION strangler.current_org_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(pg_catalog.current_setting('strangler.org_id', true), '')::uuid $$;

CREATE FUNCTION strangler.current_user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(pg_catalog.current_setting('strangler.user_id', true), '')::uuid $$;

-- True only inside the SECURITY DEFINER functions below.
CREATE FUNCTION strangler.cross_tenant() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(pg_catalog.current_setting('strangler.cross_tenant', true), '') = 'on' $$;

GRANT USAGE ON SCHEMA strangler TO strangler_app;
-- The version table exists before any migration runs (the runner creates
-- it); the runtime role may read it so `serve` can refuse a stale schema.
GRANT SELECT ON strangler.schema_version TO strangler_app;

-- organizations: a tenant sees and changes only itself. Creating an org:
-- generate its id, set strangler.org_id to it, insert the org and its first
-- owner in the same transaction.
ALTER TABLE strangler.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON strangler.organizations
  USING (id = (SELECT strangler.current_org_id()))
  WITH CHECK (id = (SELECT strangler.current_org_id()));
CREATE POLICY definer_access ON strangler.organizations TO CURRENT_USER
  USING ((SELECT strangler.cross_tenant()))
  WITH CHECK ((SELECT strangler.cross_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.organizations TO strangler_app;

-- projects
ALTER TABLE strangler.projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.projects FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON strangler.projects
  USING (org_id = (SELECT strangler.current_org_id()))
  WITH CHECK (org_id = (SELECT strangler.current_org_id()));
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.projects TO strangler_app;

-- users are global: a user sees itself (strangler.user_id) and the members
-- of the current org; only a user changes its own row. Creating a user:
-- generate its id and set strangler.user_id to it first. Lookups by email or
-- external subject go through the SECURITY DEFINER functions.
ALTER TABLE strangler.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.users FORCE ROW LEVEL SECURITY;
CREATE POLICY self_or_org_member_select ON strangler.users FOR SELECT
  USING (id = (SELECT strangler.current_user_id())
         OR EXISTS (SELECT 1 FROM strangler.org_memberships m
                    WHERE m.user_id = users.id
                      AND m.org_id = (SELECT strangler.current_org_id())));
CREATE POLICY self_insert ON strangler.users FOR INSERT
  WITH CHECK (id = (SELECT strangler.current_user_id()));
CREATE POLICY self_update ON strangler.users FOR UPDATE
  USING (id = (SELECT strangler.current_user_id()))
  WITH CHECK (id = (SELECT strangler.current_user_id()));
CREATE POLICY self_delete ON strangler.users FOR DELETE
  USING (id = (SELECT strangler.current_user_id()));
CREATE POLICY definer_access ON strangler.users TO CURRENT_USER
  USING ((SELECT strangler.cross_tenant()))
  WITH CHECK ((SELECT strangler.cross_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.users TO strangler_app;

-- org_memberships
ALTER TABLE strangler.org_memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.org_memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON strangler.org_memberships
  USING (org_id = (SELECT strangler.current_org_id()))
  WITH CHECK (org_id = (SELECT strangler.current_org_id()));
CREATE POLICY definer_access ON strangler.org_memberships TO CURRENT_USER
  USING ((SELECT strangler.cross_tenant()))
  WITH CHECK ((SELECT strangler.cross_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.org_memberships TO strangler_app;

-- project_memberships
ALTER TABLE strangler.project_memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.project_memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON strangler.project_memberships
  USING (org_id = (SELECT strangler.current_org_id()))
  WITH CHECK (org_id = (SELECT strangler.current_org_id()));
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.project_memberships TO strangler_app;

-- org_invitations
ALTER TABLE strangler.org_invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.org_invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON strangler.org_invitations
  USING (org_id = (SELECT strangler.current_org_id()))
  WITH CHECK (org_id = (SELECT strangler.current_org_id()));
CREATE POLICY definer_access ON strangler.org_invitations TO CURRENT_USER
  USING ((SELECT strangler.cross_tenant()))
  WITH CHECK ((SELECT strangler.cross_tenant()));
CREATE INDEX org_invitations_org_id_idx ON strangler.org_invitations (org_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.org_invitations TO strangler_app;

-- api_keys
ALTER TABLE strangler.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON strangler.api_keys
  USING (org_id = (SELECT strangler.current_org_id()))
  WITH CHECK (org_id = (SELECT strangler.current_org_id()));
CREATE POLICY definer_access ON strangler.api_keys TO CURRENT_USER
  USING ((SELECT strangler.cross_tenant()))
  WITH CHECK ((SELECT strangler.cross_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.api_keys TO strangler_app;

-- audit_logs: append-only for the runtime role (no UPDATE, DELETE or
-- TRUNCATE granted). A platform-level entry (org_id NULL) may be written in
-- any transaction; it is read back only through strangler.list_audit_logs.
ALTER TABLE strangler.audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON strangler.audit_logs FOR SELECT
  USING (org_id = (SELECT strangler.current_org_id()));
CREATE POLICY tenant_append ON strangler.audit_logs FOR INSERT
  WITH CHECK (org_id = (SELECT strangler.current_org_id()) OR org_id IS NULL);
CREATE POLICY definer_access ON strangler.audit_logs FOR SELECT TO CURRENT_USER
  USING ((SELECT strangler.cross_tenant()));
GRANT SELECT, INSERT ON strangler.audit_logs TO strangler_app;

-- Bookkeeping of `strangler tenantize`: the plan fixed by the first run of
-- each legacy table (every step with its SQL and its undo) and the steps
-- done, so an interrupted run resumes and --rollback undoes exactly what was
-- done. Not visible to the runtime role.
CREATE TABLE strangler.tenantized_tables (
  id             bigint      GENERATED ALWAYS AS IDENTITY,
  schema_name    text        NOT NULL,
  table_name     text        NOT NULL,
  default_org_id uuid        NOT NULL,
  project_column boolean     NOT NULL,
  state          text        NOT NULL DEFAULT 'in_progress',
  -- [{"name", "kind", "sql": [...], "undo": [...], "undo_kind"}, ...]
  plan           jsonb       NOT NULL,
  -- [{"name", "done_at"}, ...] in the order applied.
  done           jsonb       NOT NULL DEFAULT '[]',
  rows_before    bigint      NOT NULL,
  rows_after     bigint,
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  rolled_back_at timestamptz,
  CONSTRAINT tenantized_tables_pkey PRIMARY KEY (id),
  CONSTRAINT tenantized_tables_state CHECK (state IN ('in_progress', 'done', 'rolled_back'))
);
CREATE UNIQUE INDEX tenantized_tables_active_key ON strangler.tenantized_tables (schema_name, table_name)
  WHERE state <> 'rolled_back';

-- Cross-tenant lookups. Each is SECURITY DEFINER with a fixed search_path
-- (pg_temp last, so a temporary object cannot shadow anything), returns
-- only what its caller needs, and is executable by the runtime role only.
--
-- Inside, strangler.cross_tenant is switched on with set_config(..., true)
-- and restored before returning (an error aborts the (sub)transaction, which
-- restores it too). Only the owner's definer_access policy reads the flag, so
-- the runtime role gains nothing by setting it itself. (A function-level
-- SET clause would be tidier, but PostgreSQL lets only superusers attach an
-- unregistered custom setting to a function.)

-- An org by id or slug (X-Organization-ID, --default-org, bootstrap).
CREATE FUNCTION strangler.find_organization_by_id(p_id uuid)
RETURNS SETOF strangler.organizations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.organizations o WHERE o.id = p_id;
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

CREATE FUNCTION strangler.find_organization_by_slug(p_slug text)
RETURNS SETOF strangler.organizations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.organizations o WHERE o.slug = lower(p_slug);
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

-- Platform admin view: orgs ordered by slug, keyset-paginated (at most 1000).
CREATE FUNCTION strangler.list_organizations(p_after_slug text, p_limit integer)
RETURNS SETOF strangler.organizations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.organizations o
    WHERE o.slug > coalesce(p_after_slug, '')
    ORDER BY o.slug
    LIMIT least(greatest(coalesce(p_limit, 100), 0), 1000);
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

-- Login and signup: a user by email, case-insensitively.
CREATE FUNCTION strangler.find_user_by_email(p_email text)
RETURNS SETOF strangler.users
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.users u WHERE lower(u.email) = lower(p_email);
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

-- Just-in-time users: a user by an external issuer's `sub`.
CREATE FUNCTION strangler.find_user_by_external_subject(p_subject text)
RETURNS SETOF strangler.users
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.users u WHERE u.external_subject = p_subject;
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

-- A user's memberships across orgs (tenant resolution, /auth/me).
CREATE FUNCTION strangler.user_memberships(p_user_id uuid)
RETURNS TABLE (org_id uuid, org_slug text, org_name text, role text, created_at timestamptz,
               updated_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
#variable_conflict use_column
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT m.org_id, o.slug, o.name, m.role, m.created_at, m.updated_at
    FROM strangler.org_memberships m
    JOIN strangler.organizations o ON o.id = m.org_id
    WHERE m.user_id = p_user_id
    ORDER BY o.slug;
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

-- API key verification: the key row by its public prefix. The caller
-- compares secret_hash in constant time and checks expiry and revocation.
CREATE FUNCTION strangler.find_api_key_by_prefix(p_prefix text)
RETURNS SETOF strangler.api_keys
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.api_keys k WHERE k.prefix = p_prefix;
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

-- Asynchronous last-use bookkeeping for keys of any org; touches nothing
-- but last_used_at and never moves it backwards. Returns rows updated.
CREATE FUNCTION strangler.touch_api_keys_last_used(p_ids uuid[], p_at timestamptz)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE
  prev text := current_setting('strangler.cross_tenant', true);
  n integer;
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  UPDATE strangler.api_keys k SET last_used_at = p_at
  WHERE k.id = ANY (p_ids) AND (k.last_used_at IS NULL OR k.last_used_at < p_at);
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
  RETURN n;
END
$$;

-- Signup: pending, unexpired invitations for an email, in every org.
CREATE FUNCTION strangler.pending_invitations_for_email(p_email text)
RETURNS SETOF strangler.org_invitations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.org_invitations i
    WHERE lower(i.email) = lower(p_email)
      AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now();
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

-- Platform admin view of the audit log: one org (p_org_id) or all (NULL),
-- newest first, keyset-paginated by id (at most 1000 rows). Every further
-- filter is optional (NULL: any); the time range is [p_since, p_until).
CREATE FUNCTION strangler.list_audit_logs(
  p_org_id uuid, p_before_id bigint, p_limit integer,
  p_actor_id text DEFAULT NULL, p_action text DEFAULT NULL,
  p_target_type text DEFAULT NULL, p_target_id text DEFAULT NULL,
  p_since timestamptz DEFAULT NULL, p_until timestamptz DEFAULT NULL)
RETURNS SETOF strangler.audit_logs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.audit_logs a
    WHERE (p_org_id IS NULL OR a.org_id = p_org_id)
      AND (p_before_id IS NULL OR a.id < p_before_id)
      AND (p_actor_id IS NULL OR a.actor_id = p_actor_id)
      AND (p_action IS NULL OR a.action = p_action)
      AND (p_target_type IS NULL OR a.target_type = p_target_type)
      AND (p_target_id IS NULL OR a.target_id = p_target_id)
      AND (p_since IS NULL OR a.created_at >= p_since)
      AND (p_until IS NULL OR a.created_at < p_until)
    ORDER BY a.id DESC
    LIMIT least(greatest(coalesce(p_limit, 100), 0), 1000);
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

REVOKE ALL ON FUNCTION
  strangler.find_organization_by_id(uuid),
  strangler.find_organization_by_slug(text),
  strangler.list_organizations(text, integer),
  strangler.find_user_by_email(text),
  strangler.find_user_by_external_subject(text),
  strangler.user_memberships(uuid),
  strangler.find_api_key_by_prefix(text),
  strangler.touch_api_keys_last_used(uuid[], timestamptz),
  strangler.pending_invitations_for_email(text),
  strangler.list_audit_logs(uuid, bigint, integer, text, text, text, text, timestamptz, timestamptz)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  strangler.find_organization_by_id(uuid),
  strangler.find_organization_by_slug(text),
  strangler.list_organizations(text, integer),
  strangler.find_user_by_email(text),
  strangler.find_user_by_external_subject(text),
  strangler.user_memberships(uuid),
  strangler.find_api_key_by_prefix(text),
  strangler.touch_api_keys_last_used(uuid[], timestamptz),
  strangler.pending_invitations_for_email(text),
  strangler.list_audit_logs(uuid, bigint, integer, text, text, text, text, timestamptz, timestamptz)
TO strangler_app;

---- create above / drop below ----

-- The role strangler_app is kept: it is cluster-wide and other databases
-- may use it. Only what this migration granted to it here is revoked.
DROP FUNCTION strangler.list_audit_logs(uuid, bigint, integer, text, text, text, text, timestamptz, timestamptz);
DROP FUNCTION strangler.pending_invitations_for_email(text);
DROP FUNCTION strangler.touch_api_keys_last_used(uuid[], timestamptz);
DROP FUNCTION strangler.find_api_key_by_prefix(text);
DROP FUNCTION strangler.user_memberships(uuid);
DROP FUNCTION strangler.find_user_by_external_subject(text);
DROP FUNCTION strangler.find_user_by_email(text);
DROP FUNCTION strangler.list_organizations(text, integer);
DROP FUNCTION strangler.find_organization_by_slug(text);
DROP FUNCTION strangler.find_organization_by_id(uuid);

DROP TABLE strangler.tenantized_tables;

REVOKE ALL ON strangler.audit_logs FROM strangler_app;
DROP POLICY definer_access ON strangler.audit_logs;
DROP POLICY tenant_append ON strangler.audit_logs;
DROP POLICY tenant_read ON strangler.audit_logs;
ALTER TABLE strangler.audit_logs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE strangler.audit_logs DISABLE ROW LEVEL SECURITY;

REVOKE ALL ON strangler.api_keys FROM strangler_app;
DROP POLICY definer_access ON strangler.api_keys;
DROP POLICY tenant_isolation ON strangler.api_keys;
ALTER TABLE strangler.api_keys NO FORCE ROW LEVEL SECURITY;
ALTER TABLE strangler.api_keys DISABLE ROW LEVEL SECURITY;

REVOKE ALL ON strangler.org_invitations FROM strangler_app;
DROP INDEX strangler.org_invitations_org_id_idx;
DROP POLICY definer_access ON strangler.org_invitations;
DROP POLICY tenant_isolation ON strangler.org_invitations;
ALTER TABLE strangler.org_invitations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE strangler.org_invitations DISABLE ROW LEVEL SECURITY;

REVOKE ALL ON strangler.project_memberships FROM strangler_app;
DROP POLICY tenant_isolation ON strangler.project_memberships;
ALTER TABLE strangler.project_memberships NO FORCE ROW LEVEL SECURITY;
ALTER TABLE strangler.project_memberships DISABLE ROW LEVEL SECURITY;

REVOKE ALL ON strangler.org_memberships FROM strangler_app;
DROP POLICY definer_access ON strangler.org_memberships;
DROP POLICY tenant_isolation ON strangler.org_memberships;
ALTER TABLE strangler.org_memberships NO FORCE ROW LEVEL SECURITY;
ALTER TABLE strangler.org_memberships DISABLE ROW LEVEL SECURITY;

REVOKE ALL ON strangler.users FROM strangler_app;
DROP POLICY definer_access ON strangler.users;
DROP POLICY self_delete ON strangler.users;
DROP POLICY self_update ON strangler.users;
DROP POLICY self_insert ON strangler.users;
DROP POLICY self_or_org_member_select ON strangler.users;
ALTER TABLE strangler.users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE strangler.users DISABLE ROW LEVEL SECURITY;

REVOKE ALL ON strangler.projects FROM strangler_app;
DROP POLICY tenant_isolation ON strangler.projects;
ALTER TABLE strangler.projects NO FORCE ROW LEVEL SECURITY;
ALTER TABLE strangler.projects DISABLE ROW LEVEL SECURITY;

REVOKE ALL ON strangler.organizations FROM strangler_app;
DROP POLICY definer_access ON strangler.organizations;
DROP POLICY tenant_isolation ON strangler.organizations;
ALTER TABLE strangler.organizations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE strangler.organizations DISABLE ROW LEVEL SECURITY;

REVOKE SELECT ON strangler.schema_version FROM strangler_app;
REVOKE USAGE ON SCHEMA strangler FROM strangler_app;

DROP FUNCTION strangler.cross_tenant();
DROP FUNCTION strangler.current_user_id();
DROP FUNCTION strangler.current_org_id();

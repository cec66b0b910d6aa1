-- Organizations: the tenants. Everything org-scoped hangs off organizations.id.
-- The schema itself is created by the runner before the version table
-- (strangler.schema_version) exists; the statement below keeps this file
-- runnable on its own. The down step never drops the schema: the version
-- table lives in it.
CREATE SCHEMA IF NOT EXISTS strangler;

-- touch_updated_at keeps updated_at honest whatever the writer forgets.
CREATE FUNCTION strangler.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- notify_tenancy_change publishes every change of a tenancy row on channel
-- strangler_tenancy_changes as {"table","op","id","org_id","user_id"}, so
-- every replica can drop its caches (revocations, memberships) within a
-- second. Only identifiers travel; never secrets or hashes.
CREATE FUNCTION strangler.notify_tenancy_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
  r jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    r := to_jsonb(OLD);
  ELSE
    r := to_jsonb(NEW);
  END IF;
  PERFORM pg_notify('strangler_tenancy_changes', jsonb_build_object(
    'table', TG_TABLE_NAME,
    'op', TG_OP,
    'id', r->>'id',
    'org_id', CASE WHEN TG_TABLE_NAME = 'organizations' THEN r->>'id' ELSE r->>'org_id' END,
    'user_id', r->>'user_id'
  )::text);
  RETURN NULL;
END
$$;

CREATE TABLE strangler.organizations (
  id         uuid        NOT NULL DEFAULT gen_random_uuid(),
  slug       text        NOT NULL,
  name       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT organizations_pkey PRIMARY KEY (id),
  CONSTRAINT organizations_slug_key UNIQUE (slug),
  -- Lower case only, so uniqueness is case-insensitive without citext.
  CONSTRAINT organizations_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  -- X-Organization-ID accepts an id or a slug: a slug shaped like a UUID
  -- would be ambiguous.
  CONSTRAINT organizations_slug_not_uuid CHECK (slug !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  CONSTRAINT organizations_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);

CREATE TRIGGER organizations_touch_updated_at BEFORE UPDATE ON strangler.organizations
  FOR EACH ROW EXECUTE FUNCTION strangler.touch_updated_at();
CREATE TRIGGER organizations_notify AFTER INSERT OR UPDATE OR DELETE ON strangler.organizations
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_tenancy_change();

---- create above / drop below ----

DROP TABLE strangler.organizations;
DROP FUNCTION strangler.notify_tenancy_change();
DROP FUNCTION strangler.touch_updated_at();

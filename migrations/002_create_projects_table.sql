-- Projects belong to one organization. UNIQUE (org_id, id) lets children
-- reference (org_id, project_id), so a row can never point at another
-- tenant's project, and a foreign-key error never reveals one.
CREATE TABLE strangler.projects (
  id         uuid        NOT NULL DEFAULT gen_random_uuid(),
  org_id     uuid        NOT NULL,
  slug       text        NOT NULL,
  name       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT projects_pkey PRIMARY KEY (id),
  CONSTRAINT projects_org_id_id_key UNIQUE (org_id, id),
  -- Slugs are unique per org: a clash can only be with the caller's own row.
  CONSTRAINT projects_org_id_slug_key UNIQUE (org_id, slug),
  CONSTRAINT projects_org_id_fkey FOREIGN KEY (org_id)
    REFERENCES strangler.organizations (id) ON DELETE CASCADE,
  CONSTRAINT projects_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  CONSTRAINT projects_slug_not_uuid CHECK (slug !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  CONSTRAINT projects_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);

CREATE TRIGGER projects_touch_updated_at BEFORE UPDATE ON strangler.projects
  FOR EACH ROW EXECUTE FUNCTION strangler.touch_updated_at();
CREATE TRIGGER projects_notify AFTER INSERT OR UPDATE OR DELETE ON strangler.projects
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_tenancy_change();

---- create above / drop below ----

DROP TABLE strangler.projects;

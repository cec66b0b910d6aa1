-- API keys: only a public prefix and the SHA-256 of the whole key are
-- stored. A key belongs to an org and optionally one of its projects (the
-- composite foreign key makes a key of org A pointing at a project of org B
-- impossible). role caps what the key may do; scopes narrow it further.
CREATE TABLE strangler.api_keys (
  id           uuid        NOT NULL DEFAULT gen_random_uuid(),
  org_id       uuid        NOT NULL,
  project_id   uuid,
  name         text        NOT NULL,
  prefix       text        NOT NULL,
  secret_hash  bytea       NOT NULL,
  role         text        NOT NULL,
  scopes       text[]      NOT NULL DEFAULT '{}',
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  created_by   uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT api_keys_pkey PRIMARY KEY (id),
  CONSTRAINT api_keys_org_id_id_key UNIQUE (org_id, id),
  -- Prefixes are random and looked up across tenants (SECURITY DEFINER
  -- strangler.find_api_key_by_prefix), so they are unique globally; a clash
  -- reveals nothing a caller chose.
  CONSTRAINT api_keys_prefix_key UNIQUE (prefix),
  CONSTRAINT api_keys_org_id_fkey FOREIGN KEY (org_id)
    REFERENCES strangler.organizations (id) ON DELETE CASCADE,
  CONSTRAINT api_keys_project_fkey FOREIGN KEY (org_id, project_id)
    REFERENCES strangler.projects (org_id, id) ON DELETE CASCADE,
  CONSTRAINT api_keys_created_by_fkey FOREIGN KEY (created_by)
    REFERENCES strangler.users (id) ON DELETE SET NULL,
  CONSTRAINT api_keys_role CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  CONSTRAINT api_keys_prefix_length CHECK (char_length(prefix) BETWEEN 4 AND 64),
  CONSTRAINT api_keys_secret_hash_sha256 CHECK (octet_length(secret_hash) = 32),
  CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);
CREATE INDEX api_keys_org_id_project_id_idx ON strangler.api_keys (org_id, project_id);

-- Notify on every change that matters to a verifier cache, but not on the
-- asynchronous last_used_at updates.
CREATE TRIGGER api_keys_notify_insert_delete AFTER INSERT OR DELETE ON strangler.api_keys
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_tenancy_change();
CREATE TRIGGER api_keys_notify_update AFTER UPDATE ON strangler.api_keys
  FOR EACH ROW
  WHEN ((OLD.revoked_at, OLD.expires_at, OLD.role, OLD.scopes, OLD.project_id, OLD.name, OLD.secret_hash)
        IS DISTINCT FROM
        (NEW.revoked_at, NEW.expires_at, NEW.role, NEW.scopes, NEW.project_id, NEW.name, NEW.secret_hash))
  EXECUTE FUNCTION strangler.notify_tenancy_change();

---- create above / drop below ----

DROP TABLE strangler.api_keys;

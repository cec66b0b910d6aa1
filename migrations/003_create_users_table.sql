-- Users are global (one person, many orgs). email is unique case-insensitively;
-- a user known only through an external issuer (Supabase `sub`, possibly an
-- anonymous user without email) has external_subject instead.
CREATE TABLE strangler.users (
  id               uuid        NOT NULL DEFAULT gen_random_uuid(),
  email            text,
  name             text        NOT NULL DEFAULT '',
  -- PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash); NULL when the
  -- user signs in only through an external issuer.
  password_hash    text,
  external_subject text,
  default_org_id   uuid,
  platform_admin   boolean     NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_pkey PRIMARY KEY (id),
  CONSTRAINT users_external_subject_key UNIQUE (external_subject),
  CONSTRAINT users_default_org_id_fkey FOREIGN KEY (default_org_id)
    REFERENCES strangler.organizations (id) ON DELETE SET NULL,
  CONSTRAINT users_identity CHECK (email IS NOT NULL OR external_subject IS NOT NULL),
  CONSTRAINT users_email_format CHECK (email IS NULL OR (char_length(email) BETWEEN 3 AND 320 AND position('@' IN email) > 1)),
  CONSTRAINT users_external_subject_not_empty CHECK (external_subject IS NULL OR char_length(external_subject) BETWEEN 1 AND 255),
  CONSTRAINT users_password_hash_phc CHECK (password_hash IS NULL OR password_hash LIKE '$%')
);

CREATE UNIQUE INDEX users_email_lower_key ON strangler.users (lower(email));
CREATE INDEX users_default_org_id_idx ON strangler.users (default_org_id);

CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON strangler.users
  FOR EACH ROW EXECUTE FUNCTION strangler.touch_updated_at();
CREATE TRIGGER users_notify AFTER UPDATE OR DELETE ON strangler.users
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_tenancy_change();

---- create above / drop below ----

DROP TABLE strangler.users;

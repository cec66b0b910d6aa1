-- Sessions of the built-in issuer: one row per refresh token, rotated on
-- every use. All tokens descending from one login share family_id; parent_id
-- links a token to the one it replaced. Presenting a token whose used_at is
-- set (outside the grace window) is reuse: the whole family is revoked.
--
-- Sessions are user-scoped, not org-scoped: RLS binds them to
-- strangler.current_user_id(). A refresh request knows only the token, so
-- the first lookup goes through strangler.find_session_by_token_hash; the
-- rotation then runs with strangler.user_id set to the session's user.
CREATE TABLE strangler.sessions (
  id         uuid        NOT NULL DEFAULT gen_random_uuid(),
  user_id    uuid        NOT NULL,
  -- The org the session was opened for, if any (informational).
  org_id     uuid,
  family_id  uuid        NOT NULL,
  parent_id  uuid,
  -- SHA-256 of the refresh token; the token itself is never stored.
  token_hash bytea       NOT NULL,
  used_at    timestamptz,
  revoked_at timestamptz,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  user_agent text        NOT NULL DEFAULT '',
  ip         inet,
  CONSTRAINT sessions_pkey PRIMARY KEY (id),
  CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
  CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES strangler.users (id) ON DELETE CASCADE,
  CONSTRAINT sessions_org_id_fkey FOREIGN KEY (org_id)
    REFERENCES strangler.organizations (id) ON DELETE SET NULL,
  CONSTRAINT sessions_parent_id_fkey FOREIGN KEY (parent_id)
    REFERENCES strangler.sessions (id) ON DELETE SET NULL,
  CONSTRAINT sessions_token_hash_sha256 CHECK (octet_length(token_hash) = 32),
  CONSTRAINT sessions_user_agent_length CHECK (char_length(user_agent) <= 512)
);
-- Policy column; a user's sessions (logout everywhere).
CREATE INDEX sessions_user_id_idx ON strangler.sessions (user_id);
-- Revoking a family on reuse.
CREATE INDEX sessions_family_id_idx ON strangler.sessions (family_id);
CREATE INDEX sessions_parent_id_idx ON strangler.sessions (parent_id);
-- Cleanup of expired sessions.
CREATE INDEX sessions_expires_at_idx ON strangler.sessions (expires_at);

ALTER TABLE strangler.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE strangler.sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY user_isolation ON strangler.sessions
  USING (user_id = (SELECT strangler.current_user_id()))
  WITH CHECK (user_id = (SELECT strangler.current_user_id()));
CREATE POLICY definer_access ON strangler.sessions FOR SELECT TO CURRENT_USER
  USING ((SELECT strangler.cross_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.sessions TO strangler_app;

CREATE FUNCTION strangler.find_session_by_token_hash(p_token_hash bytea)
RETURNS SETOF strangler.sessions
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
DECLARE prev text := current_setting('strangler.cross_tenant', true);
BEGIN
  PERFORM set_config('strangler.cross_tenant', 'on', true);
  RETURN QUERY SELECT * FROM strangler.sessions s WHERE s.token_hash = p_token_hash;
  PERFORM set_config('strangler.cross_tenant', coalesce(prev, ''), true);
END
$$;

REVOKE ALL ON FUNCTION strangler.find_session_by_token_hash(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION strangler.find_session_by_token_hash(bytea) TO strangler_app;

---- create above / drop below ----

DROP FUNCTION strangler.find_session_by_token_hash(bytea);
DROP TABLE strangler.sessions;

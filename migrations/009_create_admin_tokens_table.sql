-- Platform admin tokens (the bearer tokens of the admin API). Only the
-- SHA-256 of a token is stored. `strangler bootstrap` creates the first one
-- and prints it once; single_use tokens are consumed by their first use.
--
-- Not org-scoped. The runtime role may INSERT (mint a token) and read every
-- column but token_hash; it may not UPDATE or DELETE. Verification and
-- revocation go through the SECURITY DEFINER functions below, which never
-- return a hash.
CREATE TABLE strangler.admin_tokens (
  id           uuid        NOT NULL DEFAULT gen_random_uuid(),
  name         text        NOT NULL,
  token_hash   bytea       NOT NULL,
  -- The platform admin the token acts for, if any.
  user_id      uuid,
  single_use   boolean     NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  used_at      timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz,
  CONSTRAINT admin_tokens_pkey PRIMARY KEY (id),
  CONSTRAINT admin_tokens_token_hash_key UNIQUE (token_hash),
  CONSTRAINT admin_tokens_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES strangler.users (id) ON DELETE CASCADE,
  CONSTRAINT admin_tokens_token_hash_sha256 CHECK (octet_length(token_hash) = 32),
  CONSTRAINT admin_tokens_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);
CREATE INDEX admin_tokens_user_id_idx ON strangler.admin_tokens (user_id);

-- Every column but the hash is readable, so INSERT ... RETURNING works.
GRANT INSERT ON strangler.admin_tokens TO strangler_app;
GRANT SELECT (id, name, user_id, single_use, created_at, expires_at, used_at, last_used_at, revoked_at)
  ON strangler.admin_tokens TO strangler_app;

-- authenticate_admin_token returns the token (without its hash) when it is
-- valid now: not revoked, not expired, and not a consumed single-use token;
-- it records the use. Zero rows means "not a valid admin token".
CREATE FUNCTION strangler.authenticate_admin_token(p_token_hash bytea)
RETURNS TABLE (id uuid, name text, user_id uuid, single_use boolean,
               created_at timestamptz, expires_at timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
  UPDATE strangler.admin_tokens t
  SET last_used_at = now(),
      used_at = coalesce(t.used_at, now())
  WHERE t.token_hash = p_token_hash
    AND t.revoked_at IS NULL
    AND (t.expires_at IS NULL OR t.expires_at > now())
    AND NOT (t.single_use AND t.used_at IS NOT NULL)
  RETURNING t.id, t.name, t.user_id, t.single_use, t.created_at, t.expires_at
$$;

-- revoke_admin_token revokes one token by id; true when it was active.
CREATE FUNCTION strangler.revoke_admin_token(p_id uuid)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
  WITH r AS (
    UPDATE strangler.admin_tokens SET revoked_at = now()
    WHERE id = p_id AND revoked_at IS NULL
    RETURNING 1
  )
  SELECT EXISTS (SELECT 1 FROM r)
$$;

-- list_admin_tokens lists tokens for the platform admin view, never hashes.
CREATE FUNCTION strangler.list_admin_tokens()
RETURNS TABLE (id uuid, name text, user_id uuid, single_use boolean, created_at timestamptz,
               expires_at timestamptz, used_at timestamptz, last_used_at timestamptz,
               revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, strangler, pg_temp
AS $$
  SELECT t.id, t.name, t.user_id, t.single_use, t.created_at, t.expires_at, t.used_at,
         t.last_used_at, t.revoked_at
  FROM strangler.admin_tokens t
  ORDER BY t.created_at, t.id
$$;

REVOKE ALL ON FUNCTION
  strangler.authenticate_admin_token(bytea),
  strangler.revoke_admin_token(uuid),
  strangler.list_admin_tokens()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  strangler.authenticate_admin_token(bytea),
  strangler.revoke_admin_token(uuid),
  strangler.list_admin_tokens()
TO strangler_app;

---- create above / drop below ----

DROP FUNCTION strangler.list_admin_tokens();
DROP FUNCTION strangler.revoke_admin_token(uuid);
DROP FUNCTION strangler.authenticate_admin_token(bytea);
DROP TABLE strangler.admin_tokens;

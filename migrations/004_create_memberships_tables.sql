-- Org memberships (role per org), project memberships (role per project,
-- only for members of the project's org) and pending invitations by email.
CREATE TABLE strangler.org_memberships (
  org_id     uuid        NOT NULL,
  user_id    uuid        NOT NULL,
  role       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT org_memberships_pkey PRIMARY KEY (org_id, user_id),
  CONSTRAINT org_memberships_org_id_fkey FOREIGN KEY (org_id)
    REFERENCES strangler.organizations (id) ON DELETE CASCADE,
  CONSTRAINT org_memberships_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES strangler.users (id) ON DELETE CASCADE,
  CONSTRAINT org_memberships_role CHECK (role IN ('owner', 'admin', 'member', 'viewer'))
);
-- A user's orgs (login, /auth/me) without scanning every org.
CREATE INDEX org_memberships_user_id_idx ON strangler.org_memberships (user_id);

CREATE TABLE strangler.project_memberships (
  org_id     uuid        NOT NULL,
  project_id uuid        NOT NULL,
  user_id    uuid        NOT NULL,
  role       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT project_memberships_pkey PRIMARY KEY (org_id, project_id, user_id),
  CONSTRAINT project_memberships_project_fkey FOREIGN KEY (org_id, project_id)
    REFERENCES strangler.projects (org_id, id) ON DELETE CASCADE,
  -- A project member is a member of the project's org; leaving the org
  -- leaves its projects.
  CONSTRAINT project_memberships_member_fkey FOREIGN KEY (org_id, user_id)
    REFERENCES strangler.org_memberships (org_id, user_id) ON DELETE CASCADE,
  CONSTRAINT project_memberships_role CHECK (role IN ('owner', 'admin', 'member', 'viewer'))
);
CREATE INDEX project_memberships_user_id_idx ON strangler.project_memberships (user_id);

CREATE TABLE strangler.org_invitations (
  id          uuid        NOT NULL DEFAULT gen_random_uuid(),
  org_id      uuid        NOT NULL,
  email       text        NOT NULL,
  role        text        NOT NULL,
  -- SHA-256 of the invitation secret sent by mail; NULL when the invitation
  -- is accepted by signing up with the email instead.
  token_hash  bytea,
  invited_by  uuid,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  accepted_at timestamptz,
  revoked_at  timestamptz,
  CONSTRAINT org_invitations_pkey PRIMARY KEY (id),
  CONSTRAINT org_invitations_org_id_id_key UNIQUE (org_id, id),
  CONSTRAINT org_invitations_token_hash_key UNIQUE (token_hash),
  CONSTRAINT org_invitations_org_id_fkey FOREIGN KEY (org_id)
    REFERENCES strangler.organizations (id) ON DELETE CASCADE,
  CONSTRAINT org_invitations_invited_by_fkey FOREIGN KEY (invited_by)
    REFERENCES strangler.users (id) ON DELETE SET NULL,
  CONSTRAINT org_invitations_role CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  CONSTRAINT org_invitations_email_format CHECK (char_length(email) BETWEEN 3 AND 320 AND position('@' IN email) > 1),
  CONSTRAINT org_invitations_token_hash_length CHECK (token_hash IS NULL OR octet_length(token_hash) = 32)
);
-- One pending invitation per email per org (a clash is always the caller's own org).
CREATE UNIQUE INDEX org_invitations_pending_email_key ON strangler.org_invitations (org_id, lower(email))
  WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX org_invitations_email_idx ON strangler.org_invitations (lower(email))
  WHERE accepted_at IS NULL AND revoked_at IS NULL;

CREATE TRIGGER org_memberships_touch_updated_at BEFORE UPDATE ON strangler.org_memberships
  FOR EACH ROW EXECUTE FUNCTION strangler.touch_updated_at();
CREATE TRIGGER org_memberships_notify AFTER INSERT OR UPDATE OR DELETE ON strangler.org_memberships
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_tenancy_change();
CREATE TRIGGER project_memberships_touch_updated_at BEFORE UPDATE ON strangler.project_memberships
  FOR EACH ROW EXECUTE FUNCTION strangler.touch_updated_at();
CREATE TRIGGER project_memberships_notify AFTER INSERT OR UPDATE OR DELETE ON strangler.project_memberships
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_tenancy_change();

---- create above / drop below ----

DROP TABLE strangler.org_invitations;
DROP TABLE strangler.project_memberships;
DROP TABLE strangler.org_memberships;

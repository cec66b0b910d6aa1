-- Audit log: one row per change, append-only for the runtime role (it is
-- granted INSERT and SELECT only, see 007). org_id is NULL for platform-level
-- actions and has no foreign key on purpose: the history outlives the org.
CREATE TABLE strangler.audit_logs (
  id          bigint      GENERATED ALWAYS AS IDENTITY,
  org_id      uuid,
  -- Who: actor_type is user, api_key, admin_token or system; actor_id its id;
  -- actor a human-readable label (email, key name) frozen at the time.
  actor_type  text        NOT NULL,
  actor_id    text        NOT NULL DEFAULT '',
  actor       text        NOT NULL DEFAULT '',
  action      text        NOT NULL,
  target_type text        NOT NULL DEFAULT '',
  target_id   text        NOT NULL DEFAULT '',
  before      jsonb,
  after       jsonb,
  reason      text        NOT NULL DEFAULT '',
  request_id  text        NOT NULL DEFAULT '',
  client_ip   inet,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT audit_logs_pkey PRIMARY KEY (id),
  CONSTRAINT audit_logs_actor_type CHECK (actor_type IN ('user', 'api_key', 'admin_token', 'system')),
  CONSTRAINT audit_logs_action_not_empty CHECK (action <> '')
);
-- Policy column first: an org's log, newest first.
CREATE INDEX audit_logs_org_id_id_idx ON strangler.audit_logs (org_id, id DESC);
-- Retention and platform views by time.
CREATE INDEX audit_logs_created_at_idx ON strangler.audit_logs (created_at);

---- create above / drop below ----

DROP TABLE strangler.audit_logs;

-- Flags: the rules and per-org overrides of the route flags, the global kill
-- switch, and the audit history of every change made to them (SPEC §8, §11).
--
-- Not tenant data: this is the platform's routing configuration, set by
-- platform operators through the admin API and read whole by every replica
-- (the store provider serves it from memory). Like admin_tokens it is not
-- org-scoped and has no row-level security; org_id names the organization a
-- row targets, not the tenant that owns it. org_id is text without a foreign
-- key on purpose: the flags package stays independent of the tenancy
-- tables, an override of a deleted organization is inert, and the history
-- outlives the organization.
--
-- Every change of a rule, an override or the kill switch is published on
-- channel strangler_flags with the flag key as payload; replicas LISTEN and
-- reload, and resync everything after reconnecting.

CREATE FUNCTION strangler.notify_flag_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
  k text;
BEGIN
  -- Nested IFs: OLD.flag must not be planned for flag_kill_switch rows.
  IF TG_TABLE_NAME = 'flag_kill_switch' THEN
    PERFORM pg_notify('strangler_flags', 'strangler-enabled');
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    k := OLD.flag;
  ELSE
    k := NEW.flag;
  END IF;
  PERFORM pg_notify('strangler_flags', k);
  IF TG_OP = 'UPDATE' THEN
    IF OLD.flag <> NEW.flag THEN
      PERFORM pg_notify('strangler_flags', OLD.flag);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

-- One rule per flag: default variant, allow-lists, sticky rollout.
CREATE TABLE strangler.flag_rules (
  flag                 text        NOT NULL,
  default_variant      text        NOT NULL,
  -- [{"variant": "canary", "orgs": ["<org id or slug>", ...]}, ...]
  allow                jsonb       NOT NULL DEFAULT '[]',
  rollout_variant      text,
  -- Percent × 100: an org is in the rollout when
  -- FNV-1a-32(flag || '/' || org_id) % 10000 < rollout_basis_points.
  rollout_basis_points integer,
  actor                text        NOT NULL,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT flag_rules_pkey PRIMARY KEY (flag),
  CONSTRAINT flag_rules_flag_format CHECK (flag ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' AND flag <> 'strangler-enabled'),
  CONSTRAINT flag_rules_default_variant CHECK (default_variant IN ('legacy', 'shadow', 'canary', 'new')),
  CONSTRAINT flag_rules_allow_array CHECK (jsonb_typeof(allow) = 'array'),
  CONSTRAINT flag_rules_rollout_variant CHECK (rollout_variant IN ('legacy', 'shadow', 'canary', 'new')),
  CONSTRAINT flag_rules_rollout_basis_points CHECK (rollout_basis_points BETWEEN 0 AND 10000),
  CONSTRAINT flag_rules_rollout_complete CHECK ((rollout_variant IS NULL) = (rollout_basis_points IS NULL))
);

-- Per-org overrides: they win over the rule.
CREATE TABLE strangler.flag_overrides (
  flag       text        NOT NULL,
  org_id     text        NOT NULL,
  -- The org's slug when the override was set: a display hint only.
  org_slug   text        NOT NULL DEFAULT '',
  variant    text        NOT NULL,
  reason     text        NOT NULL,
  actor      text        NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT flag_overrides_pkey PRIMARY KEY (flag, org_id),
  CONSTRAINT flag_overrides_flag_format CHECK (flag ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' AND flag <> 'strangler-enabled'),
  CONSTRAINT flag_overrides_org_id_length CHECK (char_length(org_id) BETWEEN 1 AND 128),
  CONSTRAINT flag_overrides_variant CHECK (variant IN ('legacy', 'shadow', 'canary', 'new')),
  CONSTRAINT flag_overrides_reason_not_empty CHECK (reason <> '')
);

-- The kill switch: exactly one row, enabled until an operator says otherwise.
CREATE TABLE strangler.flag_kill_switch (
  id         boolean     NOT NULL DEFAULT true,
  enabled    boolean     NOT NULL,
  reason     text        NOT NULL DEFAULT '',
  actor      text        NOT NULL DEFAULT '',
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT flag_kill_switch_pkey PRIMARY KEY (id),
  CONSTRAINT flag_kill_switch_single_row CHECK (id)
);
INSERT INTO strangler.flag_kill_switch (enabled) VALUES (true);

-- The audit history: who changed what, from what, to what, and why.
-- Append-only for the runtime role.
CREATE TABLE strangler.flag_history (
  id       bigint      GENERATED ALWAYS AS IDENTITY,
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text        NOT NULL,
  action   text        NOT NULL,
  flag     text        NOT NULL,
  org_id   text        NOT NULL DEFAULT '',
  org_slug text        NOT NULL DEFAULT '',
  before   jsonb,
  after    jsonb,
  reason   text        NOT NULL,
  CONSTRAINT flag_history_pkey PRIMARY KEY (id),
  CONSTRAINT flag_history_action CHECK (action IN ('override.set', 'override.unset', 'rule.set', 'rule.delete', 'kill_switch.set')),
  CONSTRAINT flag_history_actor_not_empty CHECK (actor <> ''),
  CONSTRAINT flag_history_reason_not_empty CHECK (reason <> '')
);
CREATE INDEX flag_history_flag_id_idx ON strangler.flag_history (flag, id DESC);
CREATE INDEX flag_history_org_id_id_idx ON strangler.flag_history (org_id, id DESC) WHERE org_id <> '';

CREATE TRIGGER flag_rules_notify AFTER INSERT OR UPDATE OR DELETE ON strangler.flag_rules
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_flag_change();
CREATE TRIGGER flag_overrides_notify AFTER INSERT OR UPDATE OR DELETE ON strangler.flag_overrides
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_flag_change();
CREATE TRIGGER flag_kill_switch_notify AFTER INSERT OR UPDATE OR DELETE ON strangler.flag_kill_switch
  FOR EACH ROW EXECUTE FUNCTION strangler.notify_flag_change();

GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.flag_rules TO strangler_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.flag_overrides TO strangler_app;
-- The single row is updated, never inserted or deleted.
GRANT SELECT, UPDATE ON strangler.flag_kill_switch TO strangler_app;
GRANT SELECT, INSERT ON strangler.flag_history TO strangler_app;

---- create above / drop below ----

DROP TABLE strangler.flag_history;
DROP TABLE strangler.flag_kill_switch;
DROP TABLE strangler.flag_overrides;
DROP TABLE strangler.flag_rules;
DROP FUNCTION strangler.notify_flag_change();

-- Shadow comparison results (SPEC §10): what the recorder of the shadow
-- engine aggregates and what the reports read.
--
-- What is kept, and why: no raw row per comparison. Every report (per
-- org × route: comparisons by outcome, match and error rates, latency
-- quantiles of both backends, top diff classes) is answered from hourly
-- rollups and hourly class counts, whose size grows with orgs × routes ×
-- hours, not with traffic; the recorder aggregates a batch in memory and
-- writes one upsert per table. The evidence a person needs to judge a diff
-- class is a few redacted exemplars per class per day.
--
-- Not tenant data: these tables are platform-wide operator data, read by
-- platform admins through the admin API (which checks the admin token) and
-- never served to a tenant. They are not org-scoped and have no row-level
-- security; org_id says which organization a comparison belonged to (''
-- when none was resolved). It is text without a foreign key on purpose: the
-- shadow package stays independent of the tenancy tables, and the evidence
-- of a deleted organization ages out with retention.

-- Latency histograms are sparse JSON objects of bucket index to count
-- ({"57": 12, "58": 3}); see shadow.Histogram. Merging two is adding counts.
CREATE FUNCTION strangler.shadow_hist_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
  SELECT coalesce(jsonb_object_agg(k, s), '{}'::jsonb)
  FROM (SELECT k, sum(v) AS s
        FROM (SELECT key AS k, value::bigint AS v FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
              UNION ALL
              SELECT key, value::bigint FROM jsonb_each_text(coalesce(b, '{}'::jsonb))) t
        GROUP BY k) u
$$;

-- One row per org × route × hour: counts per outcome and both backends'
-- latency histograms.
CREATE TABLE strangler.shadow_rollups (
  org_id           text        NOT NULL,
  route            text        NOT NULL,
  hour             timestamptz NOT NULL,
  matches          bigint      NOT NULL DEFAULT 0,
  diffs            bigint      NOT NULL DEFAULT 0,
  candidate_errors bigint      NOT NULL DEFAULT 0,
  dropped          bigint      NOT NULL DEFAULT 0,
  -- dropped because a body exceeded max_body_bytes (a subset of dropped)
  too_large        bigint      NOT NULL DEFAULT 0,
  -- comparisons in which learned noise was suppressed
  noisy            bigint      NOT NULL DEFAULT 0,
  legacy_latency   jsonb       NOT NULL DEFAULT '{}',
  new_latency      jsonb       NOT NULL DEFAULT '{}',
  CONSTRAINT shadow_rollups_pkey PRIMARY KEY (org_id, route, hour),
  CONSTRAINT shadow_rollups_hour_aligned CHECK (extract(epoch FROM hour) % 3600 = 0),
  CONSTRAINT shadow_rollups_org_id_length CHECK (char_length(org_id) <= 128),
  CONSTRAINT shadow_rollups_route_length CHECK (char_length(route) BETWEEN 1 AND 128),
  CONSTRAINT shadow_rollups_counts CHECK (matches >= 0 AND diffs >= 0 AND candidate_errors >= 0 AND dropped >= 0
                                          AND too_large BETWEEN 0 AND dropped AND noisy >= 0),
  CONSTRAINT shadow_rollups_latency_objects CHECK (jsonb_typeof(legacy_latency) = 'object' AND jsonb_typeof(new_latency) = 'object')
) WITH (fillfactor = 70); -- the current hour's rows are updated by every batch: leave room for HOT updates
-- Reports filter by route (rollout overview) or org (the primary key), and
-- by period; retention deletes by hour.
CREATE INDEX shadow_rollups_route_hour_idx ON strangler.shadow_rollups (route, hour);
CREATE INDEX shadow_rollups_hour_idx ON strangler.shadow_rollups (hour);

-- The same rollups per UTC day, written in the same transaction. A report
-- over a week reads 7 daily rows per org × route plus the hourly rows of
-- the partial days at its edges, instead of 168 hourly rows. Retention
-- deletes whole days from both tables, so a daily row is always the sum of
-- its hours.
CREATE TABLE strangler.shadow_rollups_daily (
  org_id           text        NOT NULL,
  route            text        NOT NULL,
  day              timestamptz NOT NULL,
  matches          bigint      NOT NULL DEFAULT 0,
  diffs            bigint      NOT NULL DEFAULT 0,
  candidate_errors bigint      NOT NULL DEFAULT 0,
  dropped          bigint      NOT NULL DEFAULT 0,
  too_large        bigint      NOT NULL DEFAULT 0,
  noisy            bigint      NOT NULL DEFAULT 0,
  legacy_latency   jsonb       NOT NULL DEFAULT '{}',
  new_latency      jsonb       NOT NULL DEFAULT '{}',
  -- the first and last hour that contributed
  first_hour       timestamptz NOT NULL,
  last_hour        timestamptz NOT NULL,
  CONSTRAINT shadow_rollups_daily_pkey PRIMARY KEY (org_id, route, day),
  CONSTRAINT shadow_rollups_daily_day_aligned CHECK (extract(epoch FROM day) % 86400 = 0),
  CONSTRAINT shadow_rollups_daily_org_id_length CHECK (char_length(org_id) <= 128),
  CONSTRAINT shadow_rollups_daily_route_length CHECK (char_length(route) BETWEEN 1 AND 128),
  CONSTRAINT shadow_rollups_daily_counts CHECK (matches >= 0 AND diffs >= 0 AND candidate_errors >= 0 AND dropped >= 0
                                                AND too_large BETWEEN 0 AND dropped AND noisy >= 0),
  CONSTRAINT shadow_rollups_daily_latency_objects CHECK (jsonb_typeof(legacy_latency) = 'object' AND jsonb_typeof(new_latency) = 'object'),
  CONSTRAINT shadow_rollups_daily_hours CHECK (day <= first_hour AND first_hour <= last_hour AND last_hour < day + interval '1 day')
) WITH (fillfactor = 70);
CREATE INDEX shadow_rollups_daily_route_day_idx ON strangler.shadow_rollups_daily (route, day);
CREATE INDEX shadow_rollups_daily_day_idx ON strangler.shadow_rollups_daily (day);

-- Diff classes: every diff with the same fingerprint (route + sorted
-- normalised differing paths and kinds).
CREATE TABLE strangler.shadow_classes (
  fingerprint text        NOT NULL,
  route       text        NOT NULL,
  -- [{"path": "$.items[*].title", "kind": "changed"}, ...]
  pattern     jsonb       NOT NULL,
  -- every diff of the class since first seen (hourly counts age out)
  total       bigint      NOT NULL,
  first_seen  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  status      text        NOT NULL DEFAULT 'open',
  ack_note    text        NOT NULL DEFAULT '',
  ack_by      text        NOT NULL DEFAULT '',
  ack_at      timestamptz,
  CONSTRAINT shadow_classes_pkey PRIMARY KEY (fingerprint),
  CONSTRAINT shadow_classes_fingerprint_format CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
  CONSTRAINT shadow_classes_route_length CHECK (char_length(route) BETWEEN 1 AND 128),
  CONSTRAINT shadow_classes_pattern_array CHECK (jsonb_typeof(pattern) = 'array'),
  CONSTRAINT shadow_classes_total CHECK (total >= 0),
  CONSTRAINT shadow_classes_seen CHECK (first_seen <= last_seen),
  CONSTRAINT shadow_classes_status CHECK (status IN ('open', 'acknowledged')),
  CONSTRAINT shadow_classes_ack_complete CHECK ((status = 'acknowledged') = (ack_at IS NOT NULL))
);
CREATE INDEX shadow_classes_route_idx ON strangler.shadow_classes (route);
CREATE INDEX shadow_classes_last_seen_idx ON strangler.shadow_classes (last_seen);

-- Class counts per org × hour: "top classes of this org this week" and
-- "orgs affected" without raw rows.
CREATE TABLE strangler.shadow_class_hours (
  fingerprint text        NOT NULL,
  org_id      text        NOT NULL,
  hour        timestamptz NOT NULL,
  count       bigint      NOT NULL,
  CONSTRAINT shadow_class_hours_pkey PRIMARY KEY (fingerprint, org_id, hour),
  CONSTRAINT shadow_class_hours_class_fkey FOREIGN KEY (fingerprint)
    REFERENCES strangler.shadow_classes (fingerprint) ON DELETE CASCADE,
  CONSTRAINT shadow_class_hours_hour_aligned CHECK (extract(epoch FROM hour) % 3600 = 0),
  CONSTRAINT shadow_class_hours_org_id_length CHECK (char_length(org_id) <= 128),
  CONSTRAINT shadow_class_hours_count CHECK (count >= 0)
);
CREATE INDEX shadow_class_hours_hour_idx ON strangler.shadow_class_hours (hour);
CREATE INDEX shadow_class_hours_org_id_hour_idx ON strangler.shadow_class_hours (org_id, hour);

-- A few redacted exemplars per class per UTC day: slot 0..N-1 makes the
-- limit exact even when replicas insert at the same time.
CREATE TABLE strangler.shadow_exemplars (
  fingerprint text        NOT NULL,
  day         date        NOT NULL,
  slot        smallint    NOT NULL,
  at          timestamptz NOT NULL,
  org_id      text        NOT NULL,
  -- shadow.Exemplar: the redacted request, both answers, the differences
  data        jsonb       NOT NULL,
  CONSTRAINT shadow_exemplars_pkey PRIMARY KEY (fingerprint, day, slot),
  CONSTRAINT shadow_exemplars_class_fkey FOREIGN KEY (fingerprint)
    REFERENCES strangler.shadow_classes (fingerprint) ON DELETE CASCADE,
  CONSTRAINT shadow_exemplars_slot CHECK (slot >= 0),
  CONSTRAINT shadow_exemplars_data_object CHECK (jsonb_typeof(data) = 'object')
);
CREATE INDEX shadow_exemplars_at_idx ON strangler.shadow_exemplars (at);

-- Paths learned as noise per route by the noise probe.
CREATE TABLE strangler.shadow_noise (
  route      text        NOT NULL,
  path       text        NOT NULL,
  count      bigint      NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen  timestamptz NOT NULL,
  CONSTRAINT shadow_noise_pkey PRIMARY KEY (route, path),
  CONSTRAINT shadow_noise_count CHECK (count >= 0),
  CONSTRAINT shadow_noise_path_length CHECK (char_length(path) BETWEEN 1 AND 4096)
);

-- The runtime role records, reads, acknowledges and applies retention.
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.shadow_rollups TO strangler_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.shadow_rollups_daily TO strangler_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.shadow_classes TO strangler_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.shadow_class_hours TO strangler_app;
GRANT SELECT, INSERT, DELETE ON strangler.shadow_exemplars TO strangler_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON strangler.shadow_noise TO strangler_app;

---- create above / drop below ----

DROP TABLE strangler.shadow_noise;
DROP TABLE strangler.shadow_exemplars;
DROP TABLE strangler.shadow_class_hours;
DROP TABLE strangler.shadow_classes;
DROP TABLE strangler.shadow_rollups_daily;
DROP TABLE strangler.shadow_rollups;
DROP FUNCTION strangler.shadow_hist_add(jsonb, jsonb);

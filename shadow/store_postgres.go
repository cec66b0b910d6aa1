package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore keeps shadow results in the strangler schema (migration
// 011). A batch is one transaction of set-based upserts (unnest of arrays,
// ON CONFLICT DO UPDATE), sent in one round trip; rows are ordered by key so
// that replicas writing the same keys at once cannot deadlock. The tables
// are not org-scoped (see the migration), so the runtime role needs no
// tenant setting to use them.
type PostgresStore struct {
	pool            *pgxpool.Pool
	exemplarsPerDay int
}

var _ Store = (*PostgresStore)(nil)

// PostgresStoreOptions configure a PostgresStore.
type PostgresStoreOptions struct {
	// ExemplarsPerDay per class; 0 means DefaultExemplarsPerDay.
	ExemplarsPerDay int
}

// NewPostgresStore uses pool, which should connect as the runtime role.
func NewPostgresStore(pool *pgxpool.Pool, opts PostgresStoreOptions) *PostgresStore {
	if opts.ExemplarsPerDay <= 0 {
		opts.ExemplarsPerDay = DefaultExemplarsPerDay
	}
	return &PostgresStore{pool: pool, exemplarsPerDay: opts.ExemplarsPerDay}
}

const upsertRollups = `
INSERT INTO strangler.shadow_rollups AS r
  (org_id, route, hour, matches, diffs, candidate_errors, dropped, too_large, noisy, legacy_latency, new_latency)
SELECT u.org_id, u.route, u.hour, u.m, u.d, u.ce, u.dr, u.tl, u.n, u.ll::jsonb, u.nl::jsonb
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
            $8::bigint[], $9::bigint[], $10::text[], $11::text[]) AS u(org_id, route, hour, m, d, ce, dr, tl, n, ll, nl)
ORDER BY u.org_id, u.route, u.hour
ON CONFLICT (org_id, route, hour) DO UPDATE SET
  matches          = r.matches + excluded.matches,
  diffs            = r.diffs + excluded.diffs,
  candidate_errors = r.candidate_errors + excluded.candidate_errors,
  dropped          = r.dropped + excluded.dropped,
  too_large        = r.too_large + excluded.too_large,
  noisy            = r.noisy + excluded.noisy,
  legacy_latency   = CASE WHEN excluded.legacy_latency = '{}' THEN r.legacy_latency
                          ELSE strangler.shadow_hist_add(r.legacy_latency, excluded.legacy_latency) END,
  new_latency      = CASE WHEN excluded.new_latency = '{}' THEN r.new_latency
                          ELSE strangler.shadow_hist_add(r.new_latency, excluded.new_latency) END`

const upsertClasses = `
INSERT INTO strangler.shadow_classes AS c (fingerprint, route, pattern, total, first_seen, last_seen)
SELECT u.fp, u.route, u.pattern::jsonb, u.n, u.first_seen, u.last_seen
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], $6::timestamptz[])
  AS u(fp, route, pattern, n, first_seen, last_seen)
ORDER BY u.fp
ON CONFLICT (fingerprint) DO UPDATE SET
  total      = c.total + excluded.total,
  first_seen = least(c.first_seen, excluded.first_seen),
  last_seen  = greatest(c.last_seen, excluded.last_seen)`

const upsertClassHours = `
INSERT INTO strangler.shadow_class_hours AS h (fingerprint, org_id, hour, count)
SELECT u.fp, u.org_id, u.hour, u.n
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) AS u(fp, org_id, hour, n)
ORDER BY u.fp, u.org_id, u.hour
ON CONFLICT (fingerprint, org_id, hour) DO UPDATE SET count = h.count + excluded.count`

const upsertNoise = `
INSERT INTO strangler.shadow_noise AS x (route, path, count, first_seen, last_seen)
SELECT u.route, u.path, u.n, u.first_seen, u.last_seen
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[]) AS u(route, path, n, first_seen, last_seen)
ORDER BY u.route, u.path
ON CONFLICT (route, path) DO UPDATE SET
  count      = x.count + excluded.count,
  first_seen = least(x.first_seen, excluded.first_seen),
  last_seen  = greatest(x.last_seen, excluded.last_seen)`

// insertExemplar takes the first free slot of the class's day, if any is
// left and the class exists. Two replicas racing for a slot conflict on the
// primary key; the loser's exemplar is discarded, never a slot too many.
const insertExemplar = `
INSERT INTO strangler.shadow_exemplars (fingerprint, day, slot, at, org_id, data)
SELECT $1, $2::date, s.slot, $3, $4, $5::jsonb
FROM generate_series(0, $6::int - 1) AS s(slot)
WHERE EXISTS (SELECT 1 FROM strangler.shadow_classes c WHERE c.fingerprint = $1)
  AND NOT EXISTS (SELECT 1 FROM strangler.shadow_exemplars e WHERE e.fingerprint = $1 AND e.day = $2::date AND e.slot = s.slot)
ORDER BY s.slot
LIMIT 1
ON CONFLICT DO NOTHING`

// Record implements Store.
func (s *PostgresStore) Record(ctx context.Context, b Batch) error {
	if b.Empty() {
		return ctx.Err()
	}
	var batch pgx.Batch
	if err := queueRollups(&batch, b.Rollups); err != nil {
		return err
	}
	if err := queueClasses(&batch, b.Classes); err != nil {
		return err
	}
	queueNoise(&batch, b.Noise)
	exs := append([]Exemplar(nil), b.Exemplars...)
	sort.SliceStable(exs, func(i, j int) bool { return exs[i].Fingerprint < exs[j].Fingerprint })
	for i := range exs {
		ex := exs[i]
		ex.At = usec(ex.At)
		data, err := json.Marshal(ex)
		if err != nil {
			return fmt.Errorf("encode exemplar: %w", err)
		}
		batch.Queue(insertExemplar, ex.Fingerprint, dayOf(ex.At), ex.At, ex.OrgID, string(data), s.exemplarsPerDay)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, &batch).Close()
	})
	if err != nil {
		return fmt.Errorf("record shadow batch: %w", err)
	}
	return nil
}

func queueRollups(batch *pgx.Batch, rs []Rollup) error {
	if len(rs) == 0 {
		return nil
	}
	n := len(rs)
	orgs, routes, legacy, newer := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hours := make([]time.Time, n)
	m, d, ce, dr, tl, ny := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, r := range rs {
		orgs[i], routes[i], hours[i] = r.OrgID, r.Route, hourOf(r.Hour)
		m[i], d[i], ce[i], dr[i], tl[i], ny[i] = r.Match, r.Diff, r.CandidateError, r.Dropped, r.TooLarge, r.Noisy
		lj, err := r.LegacyLatency.MarshalJSON()
		if err != nil {
			return err
		}
		nj, err := r.NewLatency.MarshalJSON()
		if err != nil {
			return err
		}
		legacy[i], newer[i] = string(lj), string(nj)
	}
	batch.Queue(upsertRollups, orgs, routes, hours, m, d, ce, dr, tl, ny, legacy, newer)
	return nil
}

func queueClasses(batch *pgx.Batch, cs []ClassDelta) error {
	if len(cs) == 0 {
		return nil
	}
	n := len(cs)
	fps, routes, patterns := make([]string, n), make([]string, n), make([]string, n)
	counts := make([]int64, n)
	firsts, lasts := make([]time.Time, n), make([]time.Time, n)
	var hfp, horg []string
	var hhour []time.Time
	var hcount []int64
	for i, c := range cs {
		pattern := c.Pattern
		if len(pattern) > MaxPattern {
			pattern = pattern[:MaxPattern]
		}
		if pattern == nil {
			pattern = []PathKind{}
		}
		pj, err := json.Marshal(pattern)
		if err != nil {
			return fmt.Errorf("encode class pattern: %w", err)
		}
		fps[i], routes[i], patterns[i], counts[i] = c.Fingerprint, c.Route, string(pj), c.Count
		firsts[i], lasts[i] = c.FirstSeen, c.LastSeen
		for _, h := range c.Hours {
			hfp = append(hfp, c.Fingerprint)
			horg = append(horg, h.OrgID)
			hhour = append(hhour, hourOf(h.Hour))
			hcount = append(hcount, h.Count)
		}
	}
	batch.Queue(upsertClasses, fps, routes, patterns, counts, firsts, lasts)
	if len(hfp) > 0 {
		batch.Queue(upsertClassHours, hfp, horg, hhour, hcount)
	}
	return nil
}

func queueNoise(batch *pgx.Batch, ns []NoisePath) {
	if len(ns) == 0 {
		return
	}
	n := len(ns)
	routes, paths := make([]string, n), make([]string, n)
	counts := make([]int64, n)
	firsts, lasts := make([]time.Time, n), make([]time.Time, n)
	for i, x := range ns {
		routes[i], paths[i], counts[i], firsts[i], lasts[i] = x.Route, x.Path, x.Count, x.FirstSeen, x.LastSeen
	}
	batch.Queue(upsertNoise, routes, paths, counts, firsts, lasts)
}

// where builds a WHERE clause from the filters that are set; only those
// appear in the SQL, so the planner sees plain indexable predicates.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args))))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func rollupWhere(f RollupFilter, alias string) *where {
	w := &where{}
	if f.OrgID != "" {
		w.add(alias+"org_id = ?", f.OrgID)
	}
	if f.Route != "" {
		w.add(alias+"route = ?", f.Route)
	}
	if !f.Since.IsZero() {
		w.add(alias+"hour >= ?", hourOf(f.Since))
	}
	if !f.Until.IsZero() {
		w.add(alias+"hour < ?", f.Until)
	}
	return w
}

// Rollups implements Store.
func (s *PostgresStore) Rollups(ctx context.Context, f RollupFilter) ([]Rollup, error) {
	w := rollupWhere(f, "")
	rows, err := s.pool.Query(ctx, `
SELECT org_id, route, hour, matches, diffs, candidate_errors, dropped, too_large, noisy,
       legacy_latency::text, new_latency::text
FROM strangler.shadow_rollups`+w.String()+`
ORDER BY hour, org_id, route`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("query shadow rollups: %w", err)
	}
	defer rows.Close()
	var out []Rollup
	for rows.Next() {
		var r Rollup
		var lj, nj string
		if err := rows.Scan(&r.OrgID, &r.Route, &r.Hour, &r.Match, &r.Diff, &r.CandidateError, &r.Dropped,
			&r.TooLarge, &r.Noisy, &lj, &nj); err != nil {
			return nil, fmt.Errorf("scan shadow rollup: %w", err)
		}
		r.Hour = r.Hour.UTC()
		if err := r.LegacyLatency.UnmarshalJSON([]byte(lj)); err != nil {
			return nil, err
		}
		if err := r.NewLatency.UnmarshalJSON([]byte(nj)); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query shadow rollups: %w", err)
	}
	return out, nil
}

// Summaries implements Store. Counts are summed in SQL; histograms are
// summed bucket by bucket in SQL too (one row per non-empty bucket), so the
// work grows with the rollups in the period, never with raw comparisons.
func (s *PostgresStore) Summaries(ctx context.Context, f RollupFilter) ([]Summary, error) {
	w := rollupWhere(f, "r.")
	type key struct{ org, route string }
	byKey := make(map[key]*Summary)
	var order []key
	rows, err := s.pool.Query(ctx, `
SELECT r.org_id, r.route, sum(r.matches)::bigint, sum(r.diffs)::bigint, sum(r.candidate_errors)::bigint,
       sum(r.dropped)::bigint, sum(r.too_large)::bigint, sum(r.noisy)::bigint, min(r.hour), max(r.hour)
FROM strangler.shadow_rollups r`+w.String()+`
GROUP BY r.org_id, r.route
ORDER BY r.org_id, r.route`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("query shadow summaries: %w", err)
	}
	for rows.Next() {
		var sum Summary
		if err := rows.Scan(&sum.OrgID, &sum.Route, &sum.Match, &sum.Diff, &sum.CandidateError, &sum.Dropped,
			&sum.TooLarge, &sum.Noisy, &sum.FirstHour, &sum.LastHour); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan shadow summary: %w", err)
		}
		sum.FirstHour, sum.LastHour = sum.FirstHour.UTC(), sum.LastHour.UTC()
		k := key{sum.OrgID, sum.Route}
		byKey[k] = &sum
		order = append(order, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query shadow summaries: %w", err)
	}
	if len(order) == 0 {
		return nil, nil
	}
	rows, err = s.pool.Query(ctx, `
SELECT r.org_id, r.route, false, b.key::int, sum(b.value::bigint)::bigint
FROM strangler.shadow_rollups r CROSS JOIN LATERAL jsonb_each_text(r.legacy_latency) b`+w.String()+`
GROUP BY r.org_id, r.route, b.key
UNION ALL
SELECT r.org_id, r.route, true, b.key::int, sum(b.value::bigint)::bigint
FROM strangler.shadow_rollups r CROSS JOIN LATERAL jsonb_each_text(r.new_latency) b`+w.String()+`
GROUP BY r.org_id, r.route, b.key`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("query shadow latency: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var org, route string
		var isNew bool
		var idx int
		var n int64
		if err := rows.Scan(&org, &route, &isNew, &idx, &n); err != nil {
			return nil, fmt.Errorf("scan shadow latency: %w", err)
		}
		sum := byKey[key{org, route}]
		if sum == nil || idx < 0 || idx >= histBuckets || n <= 0 {
			continue
		}
		if isNew {
			sum.NewLatency.add(uint16(idx), n)
		} else {
			sum.LegacyLatency.add(uint16(idx), n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query shadow latency: %w", err)
	}
	out := make([]Summary, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out, nil
}

const classColumns = `c.fingerprint, c.route, c.pattern::text, c.total, c.first_seen, c.last_seen, c.status, c.ack_note, c.ack_by, c.ack_at`

func scanClass(row pgx.Row, extra ...any) (Class, error) {
	var c Class
	var pattern, status string
	var ackAt *time.Time
	dest := append([]any{&c.Fingerprint, &c.Route, &pattern, &c.Total, &c.FirstSeen, &c.LastSeen, &status, &c.AckNote, &c.AckBy, &ackAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Class{}, err
	}
	c.Status = ClassStatus(status)
	c.FirstSeen, c.LastSeen = c.FirstSeen.UTC(), c.LastSeen.UTC()
	if ackAt != nil {
		c.AckAt = ackAt.UTC()
	}
	if err := json.Unmarshal([]byte(pattern), &c.Pattern); err != nil {
		return Class{}, fmt.Errorf("decode class pattern: %w", err)
	}
	return c, nil
}

// Classes implements Store.
func (s *PostgresStore) Classes(ctx context.Context, f ClassFilter) ([]Class, error) {
	w := &where{}
	if f.Route != "" {
		w.add("c.route = ?", f.Route)
	}
	if f.Status != "" {
		w.add("c.status = ?", string(f.Status))
	}
	if f.OrgID != "" {
		w.add("h.org_id = ?", f.OrgID)
	}
	if !f.Since.IsZero() {
		w.add("h.hour >= ?", hourOf(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("h.hour < ?", f.Until)
	}
	limit := ""
	if f.Limit > 0 {
		limit = " LIMIT " + strconv.Itoa(f.Limit)
	}
	rows, err := s.pool.Query(ctx, `
WITH per_org AS (
  SELECT h.fingerprint, h.org_id, sum(h.count)::bigint AS n
  FROM strangler.shadow_class_hours h JOIN strangler.shadow_classes c ON c.fingerprint = h.fingerprint`+w.String()+`
  GROUP BY h.fingerprint, h.org_id
), per_class AS (
  SELECT fingerprint, sum(n)::bigint AS n,
         jsonb_agg(jsonb_build_object('org_id', org_id, 'count', n) ORDER BY n DESC, org_id) AS orgs
  FROM per_org
  GROUP BY fingerprint
  HAVING sum(n) > 0
  ORDER BY sum(n) DESC, fingerprint`+limit+`
)
SELECT `+classColumns+`, p.n, p.orgs::text
FROM per_class p JOIN strangler.shadow_classes c ON c.fingerprint = p.fingerprint
ORDER BY p.n DESC, c.fingerprint`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("query shadow classes: %w", err)
	}
	defer rows.Close()
	var out []Class
	for rows.Next() {
		var orgs string
		var n int64
		c, err := scanClass(rows, &n, &orgs)
		if err != nil {
			return nil, fmt.Errorf("scan shadow class: %w", err)
		}
		c.Count = n
		if err := json.Unmarshal([]byte(orgs), &c.Orgs); err != nil {
			return nil, fmt.Errorf("decode class orgs: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query shadow classes: %w", err)
	}
	return out, nil
}

// classByFingerprint reads a class with its counts over every retained hour.
func (s *PostgresStore) classByFingerprint(ctx context.Context, fingerprint string) (Class, error) {
	var n int64
	var orgs string
	c, err := scanClass(s.pool.QueryRow(ctx, `
SELECT `+classColumns+`,
       coalesce((SELECT sum(h.count) FROM strangler.shadow_class_hours h WHERE h.fingerprint = c.fingerprint), 0)::bigint,
       coalesce((SELECT jsonb_agg(jsonb_build_object('org_id', o.org_id, 'count', o.n) ORDER BY o.n DESC, o.org_id)
                 FROM (SELECT h.org_id, sum(h.count)::bigint AS n FROM strangler.shadow_class_hours h
                       WHERE h.fingerprint = c.fingerprint GROUP BY h.org_id) o), '[]')::text
FROM strangler.shadow_classes c
WHERE c.fingerprint = $1`, fingerprint), &n, &orgs)
	if errors.Is(err, pgx.ErrNoRows) {
		return Class{}, fmt.Errorf("class %q: %w", fingerprint, ErrNotFound)
	}
	if err != nil {
		return Class{}, fmt.Errorf("read shadow class: %w", err)
	}
	c.Count = n
	if err := json.Unmarshal([]byte(orgs), &c.Orgs); err != nil {
		return Class{}, fmt.Errorf("decode class orgs: %w", err)
	}
	return c, nil
}

// Class implements Store.
func (s *PostgresStore) Class(ctx context.Context, fingerprint string) (ClassDetail, error) {
	c, err := s.classByFingerprint(ctx, fingerprint)
	if err != nil {
		return ClassDetail{}, err
	}
	d := ClassDetail{Class: c, Exemplars: []Exemplar{}}
	rows, err := s.pool.Query(ctx, `
SELECT data::text FROM strangler.shadow_exemplars
WHERE fingerprint = $1
ORDER BY at DESC, day DESC, slot DESC`, fingerprint)
	if err != nil {
		return ClassDetail{}, fmt.Errorf("query shadow exemplars: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return ClassDetail{}, fmt.Errorf("scan shadow exemplar: %w", err)
		}
		var ex Exemplar
		if err := json.Unmarshal([]byte(data), &ex); err != nil {
			return ClassDetail{}, fmt.Errorf("decode shadow exemplar: %w", err)
		}
		d.Exemplars = append(d.Exemplars, ex)
	}
	if err := rows.Err(); err != nil {
		return ClassDetail{}, fmt.Errorf("query shadow exemplars: %w", err)
	}
	if d.Noise, err = s.Noise(ctx, c.Route); err != nil {
		return ClassDetail{}, err
	}
	return d, nil
}

// Ack implements Store.
func (s *PostgresStore) Ack(ctx context.Context, fingerprint string, a Ack) (Class, error) {
	tag, err := s.pool.Exec(ctx, `
UPDATE strangler.shadow_classes SET status = 'acknowledged', ack_note = $2, ack_by = $3, ack_at = $4
WHERE fingerprint = $1`, fingerprint, a.Note, a.By, a.At)
	if err != nil {
		return Class{}, fmt.Errorf("acknowledge shadow class: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Class{}, fmt.Errorf("class %q: %w", fingerprint, ErrNotFound)
	}
	return s.classByFingerprint(ctx, fingerprint)
}

// Reopen implements Store.
func (s *PostgresStore) Reopen(ctx context.Context, fingerprint string) (Class, error) {
	tag, err := s.pool.Exec(ctx, `
UPDATE strangler.shadow_classes SET status = 'open', ack_note = '', ack_by = '', ack_at = NULL
WHERE fingerprint = $1`, fingerprint)
	if err != nil {
		return Class{}, fmt.Errorf("reopen shadow class: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Class{}, fmt.Errorf("class %q: %w", fingerprint, ErrNotFound)
	}
	return s.classByFingerprint(ctx, fingerprint)
}

// Noise implements Store.
func (s *PostgresStore) Noise(ctx context.Context, route string) ([]NoisePath, error) {
	w := &where{}
	if route != "" {
		w.add("route = ?", route)
	}
	rows, err := s.pool.Query(ctx, `
SELECT route, path, count, first_seen, last_seen FROM strangler.shadow_noise`+w.String()+`
ORDER BY route, path`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("query shadow noise: %w", err)
	}
	defer rows.Close()
	var out []NoisePath
	for rows.Next() {
		var n NoisePath
		if err := rows.Scan(&n.Route, &n.Path, &n.Count, &n.FirstSeen, &n.LastSeen); err != nil {
			return nil, fmt.Errorf("scan shadow noise: %w", err)
		}
		n.FirstSeen, n.LastSeen = n.FirstSeen.UTC(), n.LastSeen.UTC()
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query shadow noise: %w", err)
	}
	return out, nil
}

// DeleteBefore implements Store.
func (s *PostgresStore) DeleteBefore(ctx context.Context, cutoff time.Time) (Deleted, error) {
	var d Deleted
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		steps := []struct {
			n   *int64
			sql string
		}{
			{&d.ClassHours, `
DELETE FROM strangler.shadow_class_hours
WHERE hour <= $1::timestamptz - interval '1 hour'
   OR fingerprint IN (SELECT fingerprint FROM strangler.shadow_classes WHERE last_seen < $1)`},
			{&d.Exemplars, `
DELETE FROM strangler.shadow_exemplars
WHERE at < $1
   OR fingerprint IN (SELECT fingerprint FROM strangler.shadow_classes WHERE last_seen < $1)`},
			{&d.Classes, `DELETE FROM strangler.shadow_classes WHERE last_seen < $1`},
			{&d.Rollups, `DELETE FROM strangler.shadow_rollups WHERE hour <= $1::timestamptz - interval '1 hour'`},
			{&d.Noise, `DELETE FROM strangler.shadow_noise WHERE last_seen < $1`},
		}
		for _, st := range steps {
			tag, err := tx.Exec(ctx, st.sql, cutoff)
			if err != nil {
				return err
			}
			*st.n = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return Deleted{}, fmt.Errorf("delete old shadow results: %w", err)
	}
	return d, nil
}

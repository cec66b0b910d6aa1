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
SELECT u.org_id, u.route, u.t, u.m, u.d, u.ce, u.dr, u.tl, u.n, u.ll::jsonb, u.nl::jsonb
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
            $8::bigint[], $9::bigint[], $10::text[], $11::text[]) AS u(org_id, route, t, m, d, ce, dr, tl, n, ll, nl)
ORDER BY u.org_id, u.route, u.t
ON CONFLICT (org_id, route, hour) DO UPDATE SET` + rollupUpdates

const upsertDailyRollups = `
INSERT INTO strangler.shadow_rollups_daily AS r
  (org_id, route, day, matches, diffs, candidate_errors, dropped, too_large, noisy, legacy_latency, new_latency, first_hour, last_hour)
SELECT u.org_id, u.route, u.t, u.m, u.d, u.ce, u.dr, u.tl, u.n, u.ll::jsonb, u.nl::jsonb, u.fh, u.lh
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
            $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[])
  AS u(org_id, route, t, m, d, ce, dr, tl, n, ll, nl, fh, lh)
ORDER BY u.org_id, u.route, u.t
ON CONFLICT (org_id, route, day) DO UPDATE SET
  first_hour       = least(r.first_hour, excluded.first_hour),
  last_hour        = greatest(r.last_hour, excluded.last_hour),` + rollupUpdates

const rollupUpdates = `
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
	hourly, err := rollupArgs(rs, false)
	if err != nil {
		return err
	}
	batch.Queue(upsertRollups, hourly...)
	daily, err := rollupArgs(dailyRollups(rs), true)
	if err != nil {
		return err
	}
	batch.Queue(upsertDailyRollups, daily...)
	return nil
}

// dailyRollups folds hourly rollups into one per org × route × UTC day;
// FirstHour and LastHour of the Summary carry the contributing hours.
func dailyRollups(rs []Rollup) []Summary {
	type key struct {
		org, route string
		day        int64
	}
	byKey := make(map[key]*Summary)
	var order []key
	for _, r := range rs {
		hour := hourOf(r.Hour)
		k := key{r.OrgID, r.Route, dayOf(hour).Unix()}
		d := byKey[k]
		if d == nil {
			d = &Summary{OrgID: r.OrgID, Route: r.Route, FirstHour: hour, LastHour: hour}
			byKey[k] = d
			order = append(order, k)
		}
		d.Counts.Add(r.Counts)
		d.LegacyLatency.Merge(r.LegacyLatency)
		d.NewLatency.Merge(r.NewLatency)
		if hour.Before(d.FirstHour) {
			d.FirstHour = hour
		}
		if hour.After(d.LastHour) {
			d.LastHour = hour
		}
	}
	out := make([]Summary, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}

// rollupArgs turns rollups (hourly, []Rollup) or daily sums ([]Summary)
// into the column arrays of the upserts.
func rollupArgs[T Rollup | Summary](rs []T, daily bool) ([]any, error) {
	n := len(rs)
	orgs, routes, legacy, newer := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ts, firsts, lasts := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	m, d, ce, dr, tl, ny := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range rs {
		var org, route string
		var t time.Time
		var c Counts
		var lh, nh Histogram
		switch r := any(rs[i]).(type) {
		case Rollup:
			org, route, t, c, lh, nh = r.OrgID, r.Route, hourOf(r.Hour), r.Counts, r.LegacyLatency, r.NewLatency
		case Summary:
			org, route, t, c, lh, nh = r.OrgID, r.Route, dayOf(r.FirstHour), r.Counts, r.LegacyLatency, r.NewLatency
			firsts[i], lasts[i] = r.FirstHour, r.LastHour
		}
		orgs[i], routes[i], ts[i] = org, route, t
		m[i], d[i], ce[i], dr[i], tl[i], ny[i] = c.Match, c.Diff, c.CandidateError, c.Dropped, c.TooLarge, c.Noisy
		lj, err := lh.MarshalJSON()
		if err != nil {
			return nil, err
		}
		nj, err := nh.MarshalJSON()
		if err != nil {
			return nil, err
		}
		legacy[i], newer[i] = string(lj), string(nj)
	}
	args := []any{orgs, routes, ts, m, d, ce, dr, tl, ny, legacy, newer}
	if daily {
		args = append(args, firsts, lasts)
	}
	return args, nil
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

// summarySource is the SQL of the rows a summary sums: daily rollups for
// the UTC days that lie wholly inside the period, hourly rollups for the
// hours at its edges. Columns: org_id, route, first_hour, last_hour, the
// counts, both histograms.
func summarySource(f RollupFilter) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var common []string
	if f.OrgID != "" {
		common = append(common, "org_id = "+arg(f.OrgID))
	}
	if f.Route != "" {
		common = append(common, "route = "+arg(f.Route))
	}
	// The period in whole hours: [since, until).
	var since, until time.Time
	if !f.Since.IsZero() {
		since = hourOf(f.Since)
	}
	if !f.Until.IsZero() {
		until = hourOf(f.Until)
		if until.Before(f.Until) {
			until = until.Add(time.Hour) // an hour is in when it starts before Until
		}
	}
	// The whole days inside it: [dayFrom, dayTo).
	var dayFrom, dayTo time.Time
	if !since.IsZero() {
		dayFrom = dayOf(since)
		if dayFrom.Before(since) {
			dayFrom = dayFrom.Add(24 * time.Hour)
		}
	}
	if !until.IsZero() {
		dayTo = dayOf(until)
	}
	const cols = `org_id, route, %s AS first_hour, %s AS last_hour, matches, diffs, candidate_errors, dropped, too_large, noisy, legacy_latency, new_latency`
	hourly := "SELECT " + fmt.Sprintf(cols, "hour", "hour") + " FROM strangler.shadow_rollups"
	daily := "SELECT " + fmt.Sprintf(cols, "first_hour", "last_hour") + " FROM strangler.shadow_rollups_daily"
	where := func(conds []string) string {
		if len(conds) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}
	if !dayFrom.IsZero() && !dayTo.IsZero() && !dayFrom.Before(dayTo) {
		// No whole day: hours only.
		conds := append([]string(nil), common...)
		conds = append(conds, "hour >= "+arg(since), "hour < "+arg(until))
		return hourly + where(conds), args
	}
	dconds := append([]string(nil), common...)
	var edges []string
	if !dayFrom.IsZero() {
		dconds = append(dconds, "day >= "+arg(dayFrom))
		edges = append(edges, "(hour >= "+arg(since)+" AND hour < "+arg(dayFrom)+")")
	}
	if !dayTo.IsZero() {
		dconds = append(dconds, "day < "+arg(dayTo))
		edges = append(edges, "(hour >= "+arg(dayTo)+" AND hour < "+arg(until)+")")
	}
	src := daily + where(dconds)
	if len(edges) > 0 {
		hconds := append(append([]string(nil), common...), "("+strings.Join(edges, " OR ")+")")
		src += " UNION ALL " + hourly + where(hconds)
	}
	return src, args
}

// Summaries implements Store. It reads daily rollups for whole days and
// hourly rollups for the edges of the period (a week of one route is about
// 8 rows per org) and sums them here: merging sparse histograms in Go is
// several times faster than exploding them into rows in SQL.
func (s *PostgresStore) Summaries(ctx context.Context, f RollupFilter) ([]Summary, error) {
	src, args := summarySource(f)
	rows, err := s.pool.Query(ctx, `
SELECT org_id, route, first_hour, last_hour, matches, diffs, candidate_errors, dropped, too_large, noisy,
       legacy_latency::text, new_latency::text
FROM (`+src+`) s
ORDER BY org_id, route`, args...)
	if err != nil {
		return nil, fmt.Errorf("query shadow summaries: %w", err)
	}
	defer rows.Close()
	var out []Summary
	var cur *Summary
	var lj, nj []byte
	for rows.Next() {
		var org, route string
		var first, last time.Time
		var c Counts
		if err := rows.Scan(&org, &route, &first, &last, &c.Match, &c.Diff, &c.CandidateError, &c.Dropped,
			&c.TooLarge, &c.Noisy, &lj, &nj); err != nil {
			return nil, fmt.Errorf("scan shadow summary: %w", err)
		}
		if cur == nil || cur.OrgID != org || cur.Route != route {
			out = append(out, Summary{OrgID: org, Route: route, FirstHour: first.UTC(), LastHour: last.UTC()})
			cur = &out[len(out)-1]
		}
		cur.Counts.Add(c)
		if first.Before(cur.FirstHour) {
			cur.FirstHour = first.UTC()
		}
		if last.After(cur.LastHour) {
			cur.LastHour = last.UTC()
		}
		if err := cur.LegacyLatency.mergeJSON(lj); err != nil {
			return nil, err
		}
		if err := cur.NewLatency.mergeJSON(nj); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query shadow summaries: %w", err)
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
	var dailyRows int64
	day := dayOf(cutoff)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		steps := []struct {
			n   *int64
			sql string
			arg time.Time
		}{
			{&d.ClassHours, `
DELETE FROM strangler.shadow_class_hours
WHERE hour <= $1::timestamptz - interval '1 hour'
   OR fingerprint IN (SELECT fingerprint FROM strangler.shadow_classes WHERE last_seen < $1)`, cutoff},
			{&d.Exemplars, `
DELETE FROM strangler.shadow_exemplars
WHERE at < $1
   OR fingerprint IN (SELECT fingerprint FROM strangler.shadow_classes WHERE last_seen < $1)`, cutoff},
			{&d.Classes, `DELETE FROM strangler.shadow_classes WHERE last_seen < $1`, cutoff},
			// Rollups go by whole UTC days, hourly and daily alike, so that
			// a daily row is always the sum of its hours.
			{&d.Rollups, `DELETE FROM strangler.shadow_rollups WHERE hour < $1`, day},
			{&dailyRows, `DELETE FROM strangler.shadow_rollups_daily WHERE day < $1`, day},
			{&d.Noise, `DELETE FROM strangler.shadow_noise WHERE last_seen < $1`, cutoff},
		}
		for _, st := range steps {
			tag, err := tx.Exec(ctx, st.sql, st.arg)
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

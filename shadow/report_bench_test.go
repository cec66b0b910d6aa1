package shadow_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/shadow"
)

// Scale of BenchmarkReport10M: 50 orgs × 7 routes × 30 days of hourly
// rollups (252,000 rows, about 40 comparisons each: 10 million stored
// comparisons) with their daily rollups, 280 diff classes (a fifth of them
// acknowledged) and their hourly counts (two classes in each of the 30% of
// org × route × hours that had diffs).
const (
	benchOrgs    = 50
	benchRoutes  = 7
	benchDays    = 30
	benchClasses = 40 // per route
)

// seedReportBench fills the shadow tables set-based, with generate_series,
// as PostgreSQL would hold them after a month of traffic: the same rows
// the recorder writes, without a month of recording.
func seedReportBench(b *testing.B, ownerURL string, end time.Time) (comparisons int64) {
	b.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(b, ownerURL)
	hours := benchDays * 24
	start := end.Add(-time.Duration(hours) * time.Hour)
	steps := []string{
		// Ten latency histogram variants per backend (12 buckets around
		// 5-100 ms), picked per row.
		`CREATE TEMP TABLE bench_hist AS
		 SELECT v, (SELECT jsonb_object_agg((90 + v + i)::text, 1 + (i * 7 + v) % 9) FROM generate_series(0, 11) i) AS legacy,
		           (SELECT jsonb_object_agg((86 + v + i)::text, 1 + (i * 5 + v) % 7) FROM generate_series(0, 11) i) AS newer
		 FROM generate_series(0, 9) v`,
		`INSERT INTO strangler.shadow_rollups
		   (org_id, route, hour, matches, diffs, candidate_errors, dropped, too_large, noisy, legacy_latency, new_latency)
		 SELECT format('00000000-0000-4000-8000-%s', lpad(o::text, 12, '0')), 'route-' || r,
		        $1::timestamptz + make_interval(hours => h),
		        37 + (o + r + h) % 5,
		        CASE WHEN (o * 7 + r * 3 + h) % 10 < 3 THEN 2 ELSE 0 END,
		        (h % 50 = 0)::int, ((o + h) % 40 = 0)::int, 0, 0, bh.legacy, bh.newer
		 FROM generate_series(0, {orgs} - 1) o, generate_series(0, {routes} - 1) r, generate_series(0, {hours} - 1) h,
		      bench_hist bh WHERE bh.v = (o + r + h) % 10`,
		`INSERT INTO strangler.shadow_rollups_daily
		   (org_id, route, day, matches, diffs, candidate_errors, dropped, too_large, noisy, legacy_latency, new_latency, first_hour, last_hour)
		 SELECT org_id, route, date_trunc('day', hour, 'UTC'), sum(matches), sum(diffs), sum(candidate_errors), sum(dropped), 0, 0,
		        (SELECT jsonb_object_agg(k, s) FROM (SELECT e.key AS k, sum(e.value::bigint) AS s
		           FROM unnest(array_agg(legacy_latency)) x, jsonb_each_text(x) e GROUP BY e.key) q),
		        (SELECT jsonb_object_agg(k, s) FROM (SELECT e.key AS k, sum(e.value::bigint) AS s
		           FROM unnest(array_agg(new_latency)) x, jsonb_each_text(x) e GROUP BY e.key) q),
		        min(hour), max(hour)
		 FROM strangler.shadow_rollups GROUP BY org_id, route, date_trunc('day', hour, 'UTC')`,
		`INSERT INTO strangler.shadow_classes (fingerprint, route, pattern, total, first_seen, last_seen, status, ack_note, ack_by, ack_at)
		 SELECT substr(md5('route-' || r || '/' || c), 1, 16), 'route-' || r,
		        jsonb_build_array(jsonb_build_object('path', format('$.items[*].field_%s', c), 'kind', 'changed')),
		        0, $1::timestamptz, $1::timestamptz + make_interval(hours => {hours} - 1),
		        CASE WHEN c % 5 = 0 THEN 'acknowledged' ELSE 'open' END,
		        CASE WHEN c % 5 = 0 THEN 'accepted' ELSE '' END,
		        CASE WHEN c % 5 = 0 THEN 'bench' ELSE '' END,
		        CASE WHEN c % 5 = 0 THEN $1::timestamptz END
		 FROM generate_series(0, {routes} - 1) r, generate_series(0, {classes} - 1) c`,
		`INSERT INTO strangler.shadow_class_hours (fingerprint, org_id, hour, count)
		 SELECT substr(md5(ru.route || '/' || ((o.n + h.n + k * 17) % {classes})), 1, 16), ru.org_id, ru.hour, 1
		 FROM strangler.shadow_rollups ru
		 CROSS JOIN LATERAL (SELECT right(ru.org_id, 12)::int) o(n)
		 CROSS JOIN LATERAL (SELECT (extract(epoch FROM ru.hour - $1::timestamptz) / 3600)::int) h(n)
		 CROSS JOIN generate_series(0, 1) k
		 WHERE ru.diffs > 0`,
		`UPDATE strangler.shadow_classes c SET total = s.n
		 FROM (SELECT fingerprint, sum(count) AS n FROM strangler.shadow_class_hours GROUP BY fingerprint) s
		 WHERE s.fingerprint = c.fingerprint`,
		`ANALYZE strangler.shadow_rollups, strangler.shadow_rollups_daily, strangler.shadow_classes, strangler.shadow_class_hours`,
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	sizes := strings.NewReplacer("{orgs}", strconv.Itoa(benchOrgs), "{routes}", strconv.Itoa(benchRoutes),
		"{hours}", strconv.Itoa(hours), "{classes}", strconv.Itoa(benchClasses))
	began := time.Now()
	for i, sql := range steps {
		// Sizes are inlined; the start hour is $1 where used.
		sql = sizes.Replace(sql)
		var args []any
		if strings.Contains(sql, "$1") {
			args = []any{start}
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("seed step %d: %v", i, err)
		}
	}
	var rows, classHours int64
	if err := conn.QueryRow(ctx, `SELECT count(*), sum(matches + diffs + candidate_errors + dropped)::bigint FROM strangler.shadow_rollups`).Scan(&rows, &comparisons); err != nil {
		b.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM strangler.shadow_class_hours`).Scan(&classHours); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded in %v: %d hourly rollups, %d comparisons, %d classes, %d class-hour rows",
		time.Since(began).Round(time.Millisecond), rows, comparisons, benchRoutes*benchClasses, classHours)
	return comparisons
}

// BenchmarkReport10M measures reports over 10 million stored comparisons
// in PostgreSQL, read as the runtime role: the whole fleet and one org,
// over the month, the week and the day, and the rollout overview of one
// route. Each report is two queries over the rollups (Summaries) and one
// over the hourly class counts (Classes); no raw comparison is stored.
//
//	go test ./shadow -run '^$' -bench BenchmarkReport10M -benchtime 10x
func BenchmarkReport10M(b *testing.B) {
	ownerURL, appURL := pgtest.Migrated(b)
	end := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	comparisons := seedReportBench(b, ownerURL, end)
	if comparisons < 9_500_000 {
		b.Fatalf("seeded %d comparisons, want about 10 million", comparisons)
	}
	store := shadow.NewPostgresStore(pgtest.Pool(b, appURL), shadow.PostgresStoreOptions{})
	r, err := shadow.NewReporter(store, shadow.ReporterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	org := fmt.Sprintf("00000000-0000-4000-8000-%012d", 17)
	cases := []struct {
		name    string
		f       shadow.ReportFilter
		entries int
	}{
		{"fleet-30d", shadow.ReportFilter{Since: end.Add(-benchDays * 24 * time.Hour)}, benchOrgs * benchRoutes},
		{"fleet-7d", shadow.ReportFilter{Since: end.Add(-7 * 24 * time.Hour)}, benchOrgs * benchRoutes},
		{"fleet-24h", shadow.ReportFilter{Since: end.Add(-24 * time.Hour)}, benchOrgs * benchRoutes},
		{"fleet-all", shadow.ReportFilter{}, benchOrgs * benchRoutes},
		{"org-30d", shadow.ReportFilter{OrgID: org, Since: end.Add(-benchDays * 24 * time.Hour)}, benchRoutes},
		{"org-24h", shadow.ReportFilter{OrgID: org, Since: end.Add(-24 * time.Hour)}, benchRoutes},
		{"org-route-7d", shadow.ReportFilter{OrgID: org, Route: "route-3", Since: end.Add(-7 * 24 * time.Hour)}, 1},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var entries int
			for b.Loop() {
				rep, err := r.Report(ctx, tc.f)
				if err != nil {
					b.Fatal(err)
				}
				entries = len(rep.Entries)
			}
			if entries != tc.entries {
				b.Fatalf("%d entries, want %d", entries, tc.entries)
			}
		})
	}
	// The two reads a report makes, apart.
	month := end.Add(-benchDays * 24 * time.Hour)
	b.Run("summaries-fleet-30d", func(b *testing.B) {
		for b.Loop() {
			if _, err := store.Summaries(ctx, shadow.RollupFilter{Since: month}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("classes-fleet-30d", func(b *testing.B) {
		for b.Loop() {
			if _, err := store.Classes(ctx, shadow.ClassFilter{Since: month}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rollout-route-30d", func(b *testing.B) {
		orgs := make([]shadow.OrgMode, benchOrgs)
		for i := range orgs {
			orgs[i] = shadow.OrgMode{OrgID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Mode: "shadow"}
		}
		for b.Loop() {
			rep, err := r.Rollout(ctx, "route-3", orgs, shadow.ReportFilter{Since: end.Add(-benchDays * 24 * time.Hour)})
			if err != nil || len(rep.Entries) != benchOrgs {
				b.Fatal(len(rep.Entries), err)
			}
		}
	})
}

package shadow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/shadow"
)

// BenchmarkRecorderPostgres measures results written per second through the
// batching recorder into PostgreSQL, as the runtime role: 50 orgs × 10
// routes over 24 hours, 90% matches, 8% diffs in 40 classes (with a few
// exemplars), 1% candidate errors, 1% dropped.
func BenchmarkRecorderPostgres(b *testing.B) {
	_, appURL := pgtest.Migrated(b)
	store := shadow.NewPostgresStore(pgtest.Pool(b, appURL), shadow.PostgresStoreOptions{})
	rec := shadow.NewRecorder(store, shadow.RecorderOptions{BatchSize: 5000, MaxBuffered: 1 << 20}, nil)
	base := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	results := make([]shadow.Result, 100000)
	for i := range results {
		r := shadow.Result{
			At:            base.Add(time.Duration(i%86400) * time.Second),
			OrgID:         fmt.Sprintf("00000000-0000-4000-8000-%012d", i%50),
			Route:         fmt.Sprintf("route-%d", (i/50)%10),
			Serving:       shadow.BackendLegacy,
			Outcome:       shadow.OutcomeMatch,
			LegacyLatency: time.Duration(1+i%200) * time.Millisecond,
			NewLatency:    time.Duration(1+i%300) * time.Millisecond,
		}
		switch i % 100 {
		case 0:
			r.Outcome, r.Reason, r.NewLatency = shadow.OutcomeCandidateError, shadow.ReasonTimeout, 0
		case 1:
			r.Outcome, r.Reason, r.NewLatency = shadow.OutcomeDropped, shadow.ReasonQueueFull, 0
		case 2, 3, 4, 5, 6, 7, 8, 9:
			r.Outcome = shadow.OutcomeDiff
			r.Pattern = []shadow.PathKind{{Path: fmt.Sprintf("$.items[*].f%d", i%40), Kind: shadow.KindChanged}}
			r.Fingerprint = shadow.Fingerprint(r.Route, r.Pattern)
			if i%997 == 2 {
				r.Exemplar = &shadow.Exemplar{Fingerprint: r.Fingerprint, At: r.At, OrgID: r.OrgID, Route: r.Route,
					Differences: []shadow.Difference{{Path: "$.items[0].f", Kind: shadow.KindChanged}}}
			}
		}
		results[i] = r
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if !rec.Add(results[i%len(results)]) {
			b.Fatal("recorder buffer full")
		}
		if rec.Pending() >= 5000 {
			if err := rec.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := rec.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "results/s")
}

// BenchmarkSummariesPostgres checks that the stored aggregates answer a
// report quickly at scale: a week of hourly rollups for 100 orgs × 10
// routes (168,000 rows standing for well over 10 million comparisons, each
// with two latency histograms), summarised over the whole week for one
// route (the rollout overview) and for everything.
func BenchmarkSummariesPostgres(b *testing.B) {
	_, appURL := pgtest.Migrated(b)
	store := shadow.NewPostgresStore(pgtest.Pool(b, appURL), shadow.PostgresStoreOptions{})
	ctx := context.Background()
	end := time.Now().UTC().Truncate(time.Hour)
	var comparisons int64
	for h := 0; h < 168; h++ {
		var batch shadow.Batch
		hour := end.Add(-time.Duration(h) * time.Hour)
		for o := 0; o < 100; o++ {
			for r := 0; r < 10; r++ {
				ru := shadow.Rollup{OrgID: fmt.Sprintf("org-%03d", o), Route: fmt.Sprintf("route-%d", r), Hour: hour,
					Counts: shadow.Counts{Match: 60, Diff: 2, CandidateError: 1, Dropped: 1}}
				for i := 0; i < 64; i++ {
					ru.LegacyLatency.Observe(time.Duration(5+i*i) * time.Millisecond / 4)
					ru.NewLatency.Observe(time.Duration(6+i*i) * time.Millisecond / 4)
				}
				comparisons += ru.Comparisons()
				batch.Rollups = append(batch.Rollups, ru)
			}
		}
		if err := store.Record(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d rollup rows, %d comparisons", 168*100*10, comparisons)
	b.Run("one-route", func(b *testing.B) {
		for b.Loop() {
			sums, err := store.Summaries(ctx, shadow.RollupFilter{Route: "route-3", Since: end.Add(-168 * time.Hour)})
			if err != nil || len(sums) != 100 {
				b.Fatalf("%d %v", len(sums), err)
			}
		}
	})
	b.Run("one-org-route", func(b *testing.B) {
		for b.Loop() {
			sums, err := store.Summaries(ctx, shadow.RollupFilter{OrgID: "org-042", Route: "route-3"})
			if err != nil || len(sums) != 1 {
				b.Fatalf("%d %v", len(sums), err)
			}
		}
	})
	b.Run("everything", func(b *testing.B) {
		for b.Loop() {
			sums, err := store.Summaries(ctx, shadow.RollupFilter{})
			if err != nil || len(sums) != 1000 {
				b.Fatalf("%d %v", len(sums), err)
			}
		}
	})
}

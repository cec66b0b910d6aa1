package shadow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/shadow"
)

// The report fixture: a fixed clock and a small fleet whose verdicts sit
// on the readiness thresholds (default: 1000 comparisons, 99.9% matches,
// 0.1% candidate errors).
//
//	acme/qa         2,000 comparisons, 1 diff of class X (acknowledged)  READY
//	acme/search     exactly 1,000: match rate exactly 99.9%, error rate
//	                exactly 0.1%                                         READY
//	globex/qa       412 comparisons over two hours, classes X and Y     NOT READY (every reason)
//	initech/search  5,000: only dropped comparisons besides matches     NOT READY (match rate)
//	(none)/qa       10 anonymous matches                                NOT READY (too few)
//
// Hours: h0 is within the last 24 hours of now, h1 is 30 hours before.
var (
	fxNow = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	fxH0  = time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)
	fxH1  = time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC)

	fxPatternX = []shadow.PathKind{{Path: "$.generated_at", Kind: shadow.KindChanged}}
	fxPatternY = []shadow.PathKind{
		{Path: "$.items[*].title", Kind: shadow.KindChanged},
		{Path: "$.items[*].score", Kind: shadow.KindAdded},
		{Path: "header:Content-Type", Kind: shadow.KindChanged},
	}
	fxClassX = shadow.Fingerprint("qa", fxPatternX)
	fxClassY = shadow.Fingerprint("qa", fxPatternY)
)

const (
	fxAcme    = "0b7f3c1e-0000-4000-8000-0000000000a1"
	fxGlobex  = "0b7f3c1e-0000-4000-8000-0000000000b2"
	fxInitech = "0b7f3c1e-0000-4000-8000-0000000000c3"
)

// fxSlugs are the fixture's organization slugs.
var fxSlugs = map[string]string{fxAcme: "acme", fxGlobex: "globex", fxInitech: "initech"}

func fxHist(ms ...int) shadow.Histogram {
	var h shadow.Histogram
	for _, v := range ms {
		h.Observe(time.Duration(v) * time.Millisecond)
	}
	return h
}

func fxExemplar() shadow.Exemplar {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	return shadow.Exemplar{
		Fingerprint: fxClassY, At: fxH1.Add(12*time.Minute + 5*time.Second), OrgID: fxGlobex, Route: "qa", Serving: shadow.BackendLegacy,
		Request: shadow.ExemplarRequest{Method: "GET", Path: "/api/qa/search", Query: "q=strangler&limit=2",
			Header: http.Header{"Authorization": {shadow.Redacted}, "Accept": {"application/json"}}},
		Primary: shadow.ExemplarAnswer{Status: 200, LatencyMS: 41.2,
			Header: http.Header{"Content-Type": {"application/json"}, "Date": {"Mon, 09 Mar 2026 06:12:05 GMT"}, "X-Version": {"1"}},
			Body:   shadow.Body{Text: `{"query":"strangler","items":[{"id":1,"title":"Strangler fig","tags":["a"]},{"id":2,"title":"Fig | tree"}],"generated_at":"2026-03-09T06:12:05Z"}`, Length: 130}},
		Candidate: shadow.ExemplarAnswer{Status: 200, LatencyMS: 12.9,
			Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Date": {"Mon, 09 Mar 2026 06:12:06 GMT"}, "X-Version": {"1"}},
			Body:   shadow.Body{Text: `{"query":"strangler","items":[{"id":1,"title":"Strangler Fig","tags":["a"],"score":0.9},{"id":2,"title":"Fig | tree","score":0.5}],"generated_at":"2026-03-09T06:12:06Z"}`, Length: 150}},
		Differences: []shadow.Difference{
			{Path: "header:Content-Type", Kind: shadow.KindChanged, Primary: raw(`["application/json"]`), Candidate: raw(`["application/json; charset=utf-8"]`)},
			{Path: "$.items[0].title", Kind: shadow.KindChanged, Primary: raw(`"Strangler fig"`), Candidate: raw(`"Strangler Fig"`)},
			{Path: "$.items[0].score", Kind: shadow.KindAdded, Candidate: raw(`0.9`)},
			{Path: "$.items[1].score", Kind: shadow.KindAdded, Candidate: raw(`0.5`)},
		},
	}
}

// seedFixture records the fixture into s and acknowledges class X.
func seedFixture(t testing.TB, s shadow.Store) {
	t.Helper()
	ctx := context.Background()
	ru := func(org, route string, hour time.Time, c shadow.Counts, legacy, newer shadow.Histogram) shadow.Rollup {
		return shadow.Rollup{OrgID: org, Route: route, Hour: hour, Counts: c, LegacyLatency: legacy, NewLatency: newer}
	}
	b := shadow.Batch{
		Rollups: []shadow.Rollup{
			ru(fxAcme, "qa", fxH0, shadow.Counts{Match: 1999, Diff: 1}, fxHist(10, 12, 12, 14, 90), fxHist(8, 9, 9, 10, 40)),
			ru(fxAcme, "search", fxH0, shadow.Counts{Match: 999, CandidateError: 1}, fxHist(30, 31, 35), fxHist(25, 26, 400)),
			ru(fxGlobex, "qa", fxH1, shadow.Counts{Match: 192, Diff: 5, CandidateError: 1, Dropped: 2}, fxHist(40, 41, 45), fxHist(12, 13, 13)),
			ru(fxGlobex, "qa", fxH0, shadow.Counts{Match: 208, Diff: 3, Dropped: 1}, fxHist(42, 44), fxHist(14)),
			ru(fxInitech, "search", fxH1, shadow.Counts{Match: 4990, Dropped: 10, TooLarge: 4}, fxHist(3), fxHist(2)),
			ru("", "qa", fxH0, shadow.Counts{Match: 10}, fxHist(1), fxHist(1)),
		},
		Classes: []shadow.ClassDelta{
			{Fingerprint: fxClassX, Route: "qa", Pattern: fxPatternX, Count: 4,
				FirstSeen: fxH0.Add(5 * time.Minute), LastSeen: fxH0.Add(50 * time.Minute),
				Hours: []shadow.ClassHour{{OrgID: fxAcme, Hour: fxH0, Count: 1}, {OrgID: fxGlobex, Hour: fxH0, Count: 3}}},
			{Fingerprint: fxClassY, Route: "qa", Pattern: fxPatternY, Count: 5,
				FirstSeen: fxH1.Add(12 * time.Minute), LastSeen: fxH1.Add(40 * time.Minute),
				Hours: []shadow.ClassHour{{OrgID: fxGlobex, Hour: fxH1, Count: 5}}},
		},
		Exemplars: []shadow.Exemplar{fxExemplar()},
		Noise: []shadow.NoisePath{{Route: "qa", Path: "$.request_id", Count: 12,
			FirstSeen: fxH1.Add(time.Minute), LastSeen: fxH0.Add(10 * time.Minute)}},
	}
	require.NoError(t, s.Record(ctx, b))
	_, err := s.Ack(ctx, fxClassX, shadow.Ack{Note: "generated_at is formatted per request; accepted", By: "alice@ops.test",
		At: fxNow.Add(-time.Hour)})
	require.NoError(t, err)
}

// stores runs f against a fresh memory store and a fresh PostgreSQL store
// (as the runtime role).
func stores(t *testing.T, f func(t *testing.T, s shadow.Store)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		f(t, shadow.NewMemoryStore(shadow.MemoryStoreOptions{}))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		_, appURL := pgtest.Migrated(t)
		f(t, shadow.NewPostgresStore(pgtest.Pool(t, appURL), shadow.PostgresStoreOptions{}))
	})
}

func fxReporter(t testing.TB, s shadow.Store) *shadow.Reporter {
	t.Helper()
	r, err := shadow.NewReporter(s, shadow.ReporterOptions{Now: func() time.Time { return fxNow }})
	require.NoError(t, err)
	return r
}

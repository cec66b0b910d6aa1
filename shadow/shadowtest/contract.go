package shadowtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/shadow"
)

// ExemplarsPerDay is the per-class daily exemplar limit the stores under
// test must be configured with.
const ExemplarsPerDay = 3

// RunStoreTests runs the contract suite. newStore returns a fresh, empty
// store configured with ExemplarsPerDay; it is called once per subtest.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) shadow.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s shadow.Store)
	}{
		{"EmptyStore", testEmpty},
		{"RollupsAddUp", testRollupsAddUp},
		{"RollupFilters", testRollupFilters},
		{"Summaries", testSummaries},
		{"SummariesAgreeWithRollups", testSummariesAgreeWithRollups},
		{"ClassesUpsert", testClassesUpsert},
		{"ClassFilters", testClassFilters},
		{"ExemplarsLimitedPerDay", testExemplars},
		{"AckAndReopen", testAck},
		{"Noise", testNoise},
		{"DeleteBefore", testDeleteBefore},
		{"ConcurrentRecords", testConcurrent},
		{"LargeBatch", testLargeBatch},
		{"CancelledContext", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// base is a fixed hour so that tests do not depend on the clock.
var base = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

const (
	orgA = "00000000-0000-4000-8000-00000000000a"
	orgB = "00000000-0000-4000-8000-00000000000b"
)

func hist(ds ...time.Duration) shadow.Histogram {
	var h shadow.Histogram
	for _, d := range ds {
		h.Observe(d)
	}
	return h
}

func rollup(org, route string, hour time.Time, c shadow.Counts, legacy, newer []time.Duration) shadow.Rollup {
	return shadow.Rollup{OrgID: org, Route: route, Hour: hour, Counts: c, LegacyLatency: hist(legacy...), NewLatency: hist(newer...)}
}

func ms(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, v := range n {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func record(t *testing.T, s shadow.Store, b shadow.Batch) {
	t.Helper()
	require.NoError(t, s.Record(context.Background(), b))
}

func testEmpty(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	record(t, s, shadow.Batch{})
	rs, err := s.Rollups(ctx, shadow.RollupFilter{})
	require.NoError(t, err)
	assert.Empty(t, rs)
	sums, err := s.Summaries(ctx, shadow.RollupFilter{})
	require.NoError(t, err)
	assert.Empty(t, sums)
	cs, err := s.Classes(ctx, shadow.ClassFilter{})
	require.NoError(t, err)
	assert.Empty(t, cs)
	_, err = s.Class(ctx, "0123456789abcdef")
	assert.ErrorIs(t, err, shadow.ErrNotFound)
	_, err = s.Ack(ctx, "0123456789abcdef", shadow.Ack{Note: "x", By: "y", At: base})
	assert.ErrorIs(t, err, shadow.ErrNotFound)
	_, err = s.Reopen(ctx, "0123456789abcdef")
	assert.ErrorIs(t, err, shadow.ErrNotFound)
	ns, err := s.Noise(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, ns)
	d, err := s.DeleteBefore(ctx, base)
	require.NoError(t, err)
	assert.Equal(t, shadow.Deleted{}, d)
}

func testRollupsAddUp(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	record(t, s, shadow.Batch{Rollups: []shadow.Rollup{
		rollup(orgA, "qa", base, shadow.Counts{Match: 5, Diff: 2, CandidateError: 1, Dropped: 3, TooLarge: 1, Noisy: 2}, ms(10, 20), ms(30)),
	}})
	record(t, s, shadow.Batch{Rollups: []shadow.Rollup{
		rollup(orgA, "qa", base.Add(25*time.Minute), shadow.Counts{Match: 1, Dropped: 1}, ms(10), ms(40, 50)),
	}})
	rs, err := s.Rollups(ctx, shadow.RollupFilter{})
	require.NoError(t, err)
	require.Len(t, rs, 1, "both batches land in the same hour")
	r := rs[0]
	assert.Equal(t, orgA, r.OrgID)
	assert.Equal(t, "qa", r.Route)
	assert.True(t, r.Hour.Equal(base), "hour %v", r.Hour)
	assert.Equal(t, shadow.Counts{Match: 6, Diff: 2, CandidateError: 1, Dropped: 4, TooLarge: 1, Noisy: 2}, r.Counts)
	assert.Equal(t, int64(13), r.Comparisons())
	assert.Equal(t, hist(ms(10, 20, 10)...).Buckets(), r.LegacyLatency.Buckets())
	assert.Equal(t, hist(ms(30, 40, 50)...).Buckets(), r.NewLatency.Buckets())
}

func seedRollups(t *testing.T, s shadow.Store) {
	record(t, s, shadow.Batch{Rollups: []shadow.Rollup{
		rollup(orgA, "qa", base, shadow.Counts{Match: 1}, ms(1), nil),
		rollup(orgA, "qa", base.Add(time.Hour), shadow.Counts{Match: 2}, ms(2), nil),
		rollup(orgA, "search", base, shadow.Counts{Match: 4}, nil, ms(4)),
		rollup(orgB, "qa", base.Add(2*time.Hour), shadow.Counts{Diff: 8}, nil, nil),
		rollup("", "qa", base, shadow.Counts{Dropped: 16}, nil, nil),
	}})
}

func total(rs []shadow.Rollup) int64 {
	var n int64
	for _, r := range rs {
		n += r.Comparisons()
	}
	return n
}

func testRollupFilters(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	seedRollups(t, s)
	for _, tc := range []struct {
		name string
		f    shadow.RollupFilter
		want int64
		rows int
	}{
		{"all", shadow.RollupFilter{}, 31, 5},
		{"org", shadow.RollupFilter{OrgID: orgA}, 7, 3},
		{"route", shadow.RollupFilter{Route: "qa"}, 27, 4},
		{"org and route", shadow.RollupFilter{OrgID: orgA, Route: "qa"}, 3, 2},
		{"since an hour", shadow.RollupFilter{Since: base.Add(time.Hour)}, 10, 2},
		{"since mid-hour includes that hour", shadow.RollupFilter{Since: base.Add(90 * time.Minute)}, 10, 2},
		{"until is exclusive", shadow.RollupFilter{Until: base.Add(time.Hour)}, 21, 3},
		{"until mid-hour includes the hour that started", shadow.RollupFilter{Until: base.Add(61 * time.Minute)}, 23, 4},
		{"window", shadow.RollupFilter{Since: base.Add(time.Hour), Until: base.Add(2 * time.Hour)}, 2, 1},
		{"nothing", shadow.RollupFilter{OrgID: "nope"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := s.Rollups(ctx, tc.f)
			require.NoError(t, err)
			assert.Len(t, rs, tc.rows)
			assert.Equal(t, tc.want, total(rs))
		})
	}
	rs, err := s.Rollups(ctx, shadow.RollupFilter{})
	require.NoError(t, err)
	for i := 1; i < len(rs); i++ {
		a, b := rs[i-1], rs[i]
		ordered := a.Hour.Before(b.Hour) || a.Hour.Equal(b.Hour) && (a.OrgID < b.OrgID || a.OrgID == b.OrgID && a.Route < b.Route)
		assert.True(t, ordered, "rollups ordered by hour, org, route: %v then %v", a, b)
	}
}

func testSummaries(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	record(t, s, shadow.Batch{Rollups: []shadow.Rollup{
		rollup(orgA, "qa", base, shadow.Counts{Match: 90, Diff: 5}, ms(10, 10, 10, 10, 10, 10, 10, 10, 10), ms(20)),
		rollup(orgA, "qa", base.Add(3*time.Hour), shadow.Counts{Match: 4, CandidateError: 1}, ms(1000), ms(20, 20, 20)),
		rollup(orgB, "qa", base, shadow.Counts{Dropped: 7}, nil, nil),
		rollup(orgA, "search", base, shadow.Counts{Match: 1}, nil, nil),
	}})
	sums, err := s.Summaries(ctx, shadow.RollupFilter{Route: "qa"})
	require.NoError(t, err)
	require.Len(t, sums, 2)
	a := sums[0]
	assert.Equal(t, orgA, a.OrgID)
	assert.Equal(t, "qa", a.Route)
	assert.Equal(t, shadow.Counts{Match: 94, Diff: 5, CandidateError: 1}, a.Counts)
	assert.True(t, a.FirstHour.Equal(base))
	assert.True(t, a.LastHour.Equal(base.Add(3*time.Hour)))
	assert.Equal(t, int64(10), a.LegacyLatency.Count())
	p50 := a.LegacyLatency.Quantile(0.5)
	assert.InEpsilon(t, float64(10*time.Millisecond), float64(p50), 0.07, "p50 %v", p50)
	p99 := a.LegacyLatency.Quantile(0.99)
	assert.InEpsilon(t, float64(time.Second), float64(p99), 0.07, "p99 %v", p99)
	assert.Equal(t, int64(4), a.NewLatency.Count())
	b := sums[1]
	assert.Equal(t, orgB, b.OrgID)
	assert.Equal(t, shadow.Counts{Dropped: 7}, b.Counts)
	assert.Equal(t, int64(0), b.LegacyLatency.Count())

	sums, err = s.Summaries(ctx, shadow.RollupFilter{OrgID: orgA, Since: base.Add(time.Hour)})
	require.NoError(t, err)
	require.Len(t, sums, 1)
	assert.Equal(t, shadow.Counts{Match: 4, CandidateError: 1}, sums[0].Counts)
}

func class(fp, route string, n int64, first, last time.Time, hours ...shadow.ClassHour) shadow.ClassDelta {
	return shadow.ClassDelta{
		Fingerprint: fp, Route: route, Count: n, FirstSeen: first, LastSeen: last, Hours: hours,
		Pattern: []shadow.PathKind{{Path: "$.items[*].title", Kind: shadow.KindChanged}, {Path: "header:Etag", Kind: shadow.KindAdded}},
	}
}

func testClassesUpsert(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	t1 := base.Add(10*time.Minute + 123456789*time.Nanosecond)
	record(t, s, shadow.Batch{Classes: []shadow.ClassDelta{
		class("aaaaaaaaaaaaaaaa", "qa", 3, t1, t1.Add(time.Minute), shadow.ClassHour{OrgID: orgA, Hour: base, Count: 3}),
	}})
	record(t, s, shadow.Batch{Classes: []shadow.ClassDelta{
		class("aaaaaaaaaaaaaaaa", "qa", 2, t1.Add(-time.Minute), t1.Add(2*time.Hour),
			shadow.ClassHour{OrgID: orgA, Hour: base, Count: 1}, shadow.ClassHour{OrgID: orgB, Hour: base.Add(2 * time.Hour), Count: 1}),
	}})
	d, err := s.Class(ctx, "aaaaaaaaaaaaaaaa")
	require.NoError(t, err)
	c := d.Class
	assert.Equal(t, "qa", c.Route)
	assert.Equal(t, int64(5), c.Total)
	assert.Equal(t, int64(5), c.Count)
	assert.True(t, c.FirstSeen.Equal(t1.Add(-time.Minute).Truncate(time.Microsecond)), "first seen %v", c.FirstSeen)
	assert.True(t, c.LastSeen.Equal(t1.Add(2*time.Hour).Truncate(time.Microsecond)), "last seen %v", c.LastSeen)
	assert.Equal(t, shadow.StatusOpen, c.Status)
	assert.Equal(t, []shadow.OrgCount{{OrgID: orgA, Count: 4}, {OrgID: orgB, Count: 1}}, c.Orgs)
	assert.Equal(t, []shadow.PathKind{{Path: "$.items[*].title", Kind: shadow.KindChanged}, {Path: "header:Etag", Kind: shadow.KindAdded}}, c.Pattern)
	assert.Empty(t, d.Exemplars)
}

func seedClasses(t *testing.T, s shadow.Store) {
	record(t, s, shadow.Batch{Classes: []shadow.ClassDelta{
		class("1111111111111111", "qa", 10, base, base.Add(time.Hour),
			shadow.ClassHour{OrgID: orgA, Hour: base, Count: 6}, shadow.ClassHour{OrgID: orgB, Hour: base.Add(time.Hour), Count: 4}),
		class("2222222222222222", "qa", 7, base, base,
			shadow.ClassHour{OrgID: orgB, Hour: base, Count: 7}),
		class("3333333333333333", "search", 20, base.Add(2*time.Hour), base.Add(2*time.Hour),
			shadow.ClassHour{OrgID: orgA, Hour: base.Add(2 * time.Hour), Count: 20}),
		class("4444444444444444", "qa", 7, base, base,
			shadow.ClassHour{OrgID: orgA, Hour: base, Count: 7}),
	}})
}

func fps(cs []shadow.Class) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s:%d", c.Fingerprint[:1], c.Count)
	}
	return out
}

func testClassFilters(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	seedClasses(t, s)
	_, err := s.Ack(ctx, "2222222222222222", shadow.Ack{Note: "known", By: "ops", At: base})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		f    shadow.ClassFilter
		want []string
	}{
		{"all sorted by count then fingerprint", shadow.ClassFilter{}, []string{"3:20", "1:10", "2:7", "4:7"}},
		{"limit", shadow.ClassFilter{Limit: 2}, []string{"3:20", "1:10"}},
		{"route", shadow.ClassFilter{Route: "qa"}, []string{"1:10", "2:7", "4:7"}},
		{"org counts only that org", shadow.ClassFilter{OrgID: orgB}, []string{"2:7", "1:4"}},
		{"open only", shadow.ClassFilter{Status: shadow.StatusOpen}, []string{"3:20", "1:10", "4:7"}},
		{"acknowledged only", shadow.ClassFilter{Status: shadow.StatusAcknowledged}, []string{"2:7"}},
		{"since", shadow.ClassFilter{Since: base.Add(time.Hour)}, []string{"3:20", "1:4"}},
		{"until", shadow.ClassFilter{Until: base.Add(time.Hour)}, []string{"2:7", "4:7", "1:6"}},
		{"org and window", shadow.ClassFilter{OrgID: orgA, Until: base.Add(time.Hour)}, []string{"4:7", "1:6"}},
		{"nothing", shadow.ClassFilter{Route: "none"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := s.Classes(ctx, tc.f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, fps(cs))
		})
	}
	cs, err := s.Classes(ctx, shadow.ClassFilter{OrgID: orgB, Route: "qa"})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	assert.Equal(t, []shadow.OrgCount{{OrgID: orgB, Count: 4}}, cs[1].Orgs, "orgs within the filter")
	assert.Equal(t, int64(10), cs[1].Total)
	cs, err = s.Classes(ctx, shadow.ClassFilter{Route: "qa"})
	require.NoError(t, err)
	assert.Equal(t, []shadow.OrgCount{{OrgID: orgA, Count: 6}, {OrgID: orgB, Count: 4}}, cs[0].Orgs)
	assert.Equal(t, shadow.StatusAcknowledged, cs[1].Status)
	assert.Equal(t, "known", cs[1].AckNote)
}

func exemplar(fp string, at time.Time, n int) shadow.Exemplar {
	return shadow.Exemplar{
		Fingerprint: fp, At: at, OrgID: orgA, Route: "qa", Serving: shadow.BackendLegacy,
		Request: shadow.ExemplarRequest{Method: "GET", Path: "/api/qa/1", Query: "q=x&token=%5BREDACTED%5D",
			Header: http.Header{"Accept": {"application/json"}, "Authorization": {shadow.Redacted}},
			Body:   shadow.Body{Text: "", Length: 0}},
		Primary: shadow.ExemplarAnswer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: shadow.Body{Text: fmt.Sprintf(`{"n":%d,"名前":"é"}`, n), Length: 20}, LatencyMS: 12.5},
		Candidate: shadow.ExemplarAnswer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: shadow.Body{Text: "AAEC", Base64: true, Length: 3, Truncated: true}, LatencyMS: 7},
		Differences: []shadow.Difference{{Path: "$.n", Kind: shadow.KindChanged, Primary: json.RawMessage(`1`), Candidate: json.RawMessage(`"x"`)}},
	}
}

func testExemplars(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	fp := "5555555555555555"
	record(t, s, shadow.Batch{Classes: []shadow.ClassDelta{class(fp, "qa", 1, base, base, shadow.ClassHour{OrgID: orgA, Hour: base, Count: 1})}})
	// Five on day one over two batches, two on day two: 3 + 2 kept.
	record(t, s, shadow.Batch{Exemplars: []shadow.Exemplar{exemplar(fp, base, 1), exemplar(fp, base.Add(time.Minute), 2)}})
	record(t, s, shadow.Batch{Exemplars: []shadow.Exemplar{
		exemplar(fp, base.Add(2*time.Minute), 3), exemplar(fp, base.Add(3*time.Minute), 4), exemplar(fp, base.Add(4*time.Minute), 5),
		exemplar(fp, base.Add(24*time.Hour), 6), exemplar(fp, base.Add(25*time.Hour), 7),
	}})
	// An exemplar of an unknown class is not kept.
	record(t, s, shadow.Batch{Exemplars: []shadow.Exemplar{exemplar("6666666666666666", base, 1)}})
	_, err := s.Class(ctx, "6666666666666666")
	assert.ErrorIs(t, err, shadow.ErrNotFound)

	d, err := s.Class(ctx, fp)
	require.NoError(t, err)
	require.Len(t, d.Exemplars, 5)
	var got []string
	for _, ex := range d.Exemplars {
		got = append(got, ex.Primary.Body.Text)
	}
	assert.Equal(t, []string{`{"n":7,"名前":"é"}`, `{"n":6,"名前":"é"}`, `{"n":3,"名前":"é"}`, `{"n":2,"名前":"é"}`, `{"n":1,"名前":"é"}`}, got, "newest first, at most 3 a day")
	want := exemplar(fp, base.Add(25*time.Hour), 7)
	gotJSON, err := json.Marshal(d.Exemplars[0])
	require.NoError(t, err)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(gotJSON), "an exemplar comes back as stored")
}

func testAck(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	seedClasses(t, s)
	at := base.Add(5*time.Hour + 777*time.Nanosecond)
	c, err := s.Ack(ctx, "1111111111111111", shadow.Ack{Note: "field renamed on purpose, see PR 12", By: "alice@example.com", At: at})
	require.NoError(t, err)
	assert.Equal(t, shadow.StatusAcknowledged, c.Status)
	assert.Equal(t, "field renamed on purpose, see PR 12", c.AckNote)
	assert.Equal(t, "alice@example.com", c.AckBy)
	assert.True(t, c.AckAt.Equal(at.Truncate(time.Microsecond)))
	assert.Equal(t, int64(10), c.Total)

	// New diffs keep the class acknowledged.
	record(t, s, shadow.Batch{Classes: []shadow.ClassDelta{class("1111111111111111", "qa", 1, base.Add(6*time.Hour), base.Add(6*time.Hour),
		shadow.ClassHour{OrgID: orgA, Hour: base.Add(6 * time.Hour), Count: 1})}})
	d, err := s.Class(ctx, "1111111111111111")
	require.NoError(t, err)
	assert.Equal(t, shadow.StatusAcknowledged, d.Status)
	assert.Equal(t, int64(11), d.Total)

	c, err = s.Reopen(ctx, "1111111111111111")
	require.NoError(t, err)
	assert.Equal(t, shadow.StatusOpen, c.Status)
	assert.Empty(t, c.AckNote)
	assert.True(t, c.AckAt.IsZero())
}

func testNoise(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	record(t, s, shadow.Batch{Noise: []shadow.NoisePath{
		{Route: "qa", Path: "$.generated_at", Count: 2, FirstSeen: base, LastSeen: base.Add(time.Minute)},
		{Route: "qa", Path: "header:Etag", Count: 1, FirstSeen: base, LastSeen: base},
		{Route: "search", Path: "$.took", Count: 5, FirstSeen: base, LastSeen: base},
	}})
	record(t, s, shadow.Batch{Noise: []shadow.NoisePath{
		{Route: "qa", Path: "$.generated_at", Count: 3, FirstSeen: base.Add(-time.Hour), LastSeen: base.Add(time.Hour)},
	}})
	ns, err := s.Noise(ctx, "qa")
	require.NoError(t, err)
	require.Len(t, ns, 2)
	assert.Equal(t, "$.generated_at", ns[0].Path)
	assert.Equal(t, int64(5), ns[0].Count)
	assert.True(t, ns[0].FirstSeen.Equal(base.Add(-time.Hour)))
	assert.True(t, ns[0].LastSeen.Equal(base.Add(time.Hour)))
	assert.Equal(t, "header:Etag", ns[1].Path)
	all, err := s.Noise(ctx, "")
	require.NoError(t, err)
	assert.Len(t, all, 3)

	// A class's detail carries its route's noise.
	record(t, s, shadow.Batch{Classes: []shadow.ClassDelta{class("7777777777777777", "qa", 1, base, base, shadow.ClassHour{OrgID: orgA, Hour: base, Count: 1})}})
	d, err := s.Class(ctx, "7777777777777777")
	require.NoError(t, err)
	assert.Len(t, d.Noise, 2)
}

func testDeleteBefore(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	old := base.Add(-48 * time.Hour)
	record(t, s, shadow.Batch{
		Rollups: []shadow.Rollup{
			rollup(orgA, "qa", old, shadow.Counts{Match: 1}, nil, nil),
			rollup(orgA, "qa", base.Add(-12*time.Hour-time.Hour), shadow.Counts{Match: 1}, nil, nil), // the day before ends at midnight
			rollup(orgA, "qa", base.Add(-12*time.Hour), shadow.Counts{Match: 1}, nil, nil),           // midnight: same day as cutoff, kept
			rollup(orgA, "qa", base, shadow.Counts{Match: 1}, nil, nil),
		},
		Classes: []shadow.ClassDelta{
			class("8888888888888888", "qa", 1, old, old, shadow.ClassHour{OrgID: orgA, Hour: old, Count: 1}),
			class("9999999999999999", "qa", 2, old, base, shadow.ClassHour{OrgID: orgA, Hour: old, Count: 1}, shadow.ClassHour{OrgID: orgA, Hour: base, Count: 1}),
		},
		Exemplars: []shadow.Exemplar{exemplar("8888888888888888", old, 1), exemplar("9999999999999999", old, 1), exemplar("9999999999999999", base, 2)},
		Noise: []shadow.NoisePath{
			{Route: "qa", Path: "$.old", Count: 1, FirstSeen: old, LastSeen: old},
			{Route: "qa", Path: "$.new", Count: 1, FirstSeen: old, LastSeen: base},
		},
	})
	d, err := s.DeleteBefore(ctx, base)
	require.NoError(t, err)
	assert.Equal(t, shadow.Deleted{Rollups: 2, ClassHours: 2, Classes: 1, Exemplars: 2, Noise: 1}, d)

	rs, err := s.Rollups(ctx, shadow.RollupFilter{})
	require.NoError(t, err)
	require.Len(t, rs, 2, "rollups are deleted by whole UTC days")
	assert.True(t, rs[0].Hour.Equal(base.Add(-12*time.Hour)))
	assert.True(t, rs[1].Hour.Equal(base))
	sums, err := s.Summaries(ctx, shadow.RollupFilter{})
	require.NoError(t, err)
	require.Len(t, sums, 1)
	assert.Equal(t, int64(2), sums[0].Match, "summaries agree with the remaining rollups")
	_, err = s.Class(ctx, "8888888888888888")
	assert.ErrorIs(t, err, shadow.ErrNotFound)
	c, err := s.Class(ctx, "9999999999999999")
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.Count, "only the retained hour counts")
	assert.Equal(t, int64(2), c.Total)
	assert.Len(t, c.Exemplars, 1)
	ns, err := s.Noise(ctx, "qa")
	require.NoError(t, err)
	require.Len(t, ns, 1)
	assert.Equal(t, "$.new", ns[0].Path)

	again, err := s.DeleteBefore(ctx, base)
	require.NoError(t, err)
	assert.Equal(t, shadow.Deleted{}, again)
}

func testConcurrent(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	const writers, batches = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < batches; i++ {
				// Keys in different orders in different writers.
				rs := []shadow.Rollup{
					rollup(orgA, "qa", base, shadow.Counts{Match: 1}, ms(5), nil),
					rollup(orgB, "qa", base, shadow.Counts{Diff: 1}, nil, ms(5)),
				}
				cs := []shadow.ClassDelta{
					class("aaaaaaaaaaaaaaaa", "qa", 1, base, base, shadow.ClassHour{OrgID: orgA, Hour: base, Count: 1}),
					class("bbbbbbbbbbbbbbbb", "qa", 1, base, base, shadow.ClassHour{OrgID: orgB, Hour: base, Count: 1}),
				}
				if w%2 == 1 {
					rs[0], rs[1] = rs[1], rs[0]
					cs[0], cs[1] = cs[1], cs[0]
				}
				errs <- s.Record(ctx, shadow.Batch{Rollups: rs, Classes: cs,
					Noise: []shadow.NoisePath{{Route: "qa", Path: "$.x", Count: 1, FirstSeen: base, LastSeen: base}}})
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	sums, err := s.Summaries(ctx, shadow.RollupFilter{})
	require.NoError(t, err)
	require.Len(t, sums, 2)
	assert.Equal(t, int64(writers*batches), sums[0].Match)
	assert.Equal(t, int64(writers*batches), sums[0].LegacyLatency.Count())
	assert.Equal(t, int64(writers*batches), sums[1].Diff)
	cs, err := s.Classes(ctx, shadow.ClassFilter{})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	assert.Equal(t, int64(writers*batches), cs[0].Total)
	assert.Equal(t, int64(writers*batches), cs[0].Count)
	ns, err := s.Noise(ctx, "qa")
	require.NoError(t, err)
	require.Len(t, ns, 1)
	assert.Equal(t, int64(writers*batches), ns[0].Count)
}

func testLargeBatch(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	var b shadow.Batch
	for i := 0; i < 3000; i++ {
		b.Rollups = append(b.Rollups, rollup(fmt.Sprintf("org-%04d", i), "qa", base, shadow.Counts{Match: int64(i)}, ms(i%50+1), nil))
	}
	for i := 0; i < 500; i++ {
		fp := fmt.Sprintf("%016x", i)
		b.Classes = append(b.Classes, class(fp, "qa", 1, base, base, shadow.ClassHour{OrgID: orgA, Hour: base, Count: 1}))
	}
	record(t, s, b)
	sums, err := s.Summaries(ctx, shadow.RollupFilter{Route: "qa"})
	require.NoError(t, err)
	require.Len(t, sums, 3000)
	var n int64
	for _, sum := range sums {
		n += sum.Match
	}
	assert.Equal(t, int64(3000*2999/2), n)
	cs, err := s.Classes(ctx, shadow.ClassFilter{Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, cs, 500)
}

func testCancelled(t *testing.T, s shadow.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Record(ctx, shadow.Batch{Rollups: []shadow.Rollup{rollup(orgA, "qa", base, shadow.Counts{Match: 1}, nil, nil)}})
	require.Error(t, err)
	rs, err := s.Rollups(context.Background(), shadow.RollupFilter{})
	require.NoError(t, err)
	assert.Empty(t, rs, "a failed batch writes nothing")
}

// testSummariesAgreeWithRollups checks, over windows that start and end on
// and off day and hour boundaries, that a summary is exactly the sum of the
// hourly rollups the same filter selects (stores may sum coarser rollups for
// whole days).
func testSummariesAgreeWithRollups(t *testing.T, s shadow.Store) {
	ctx := context.Background()
	day0 := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	var b shadow.Batch
	for h := -5; h < 24*3+5; h += 2 {
		for _, org := range []string{orgA, orgB} {
			n := int64(h + 10)
			b.Rollups = append(b.Rollups, rollup(org, "qa", day0.Add(time.Duration(h)*time.Hour),
				shadow.Counts{Match: n, Diff: n % 3, CandidateError: n % 2, Dropped: n % 5, TooLarge: n % 5 / 2, Noisy: n % 4},
				ms(int(n)), ms(int(n)*3, 1)))
		}
	}
	// Two batches: daily rows are updated, not only inserted.
	half := len(b.Rollups) / 2
	record(t, s, shadow.Batch{Rollups: b.Rollups[:half]})
	record(t, s, shadow.Batch{Rollups: b.Rollups[half:]})

	at := func(h float64) time.Time { return day0.Add(time.Duration(h * float64(time.Hour))) }
	windows := []shadow.RollupFilter{
		{},
		{Since: at(0)}, {Until: at(24)}, {Since: at(0), Until: at(72)},
		{Since: at(5.5)}, {Until: at(49.25)}, {Since: at(5.5), Until: at(49.25)},
		{Since: at(-3), Until: at(70)}, {Since: at(23), Until: at(25)}, {Since: at(24), Until: at(48)},
		{Since: at(1), Until: at(2)}, {Since: at(30), Until: at(30)}, {Since: at(40), Until: at(20)},
		{Since: at(47.9), Until: at(48.1)}, {OrgID: orgA, Since: at(10), Until: at(60)}, {Route: "none"},
	}
	for _, w := range windows {
		rs, err := s.Rollups(ctx, w)
		require.NoError(t, err)
		want := map[string]shadow.Summary{}
		for _, r := range rs {
			sum := want[r.OrgID]
			if sum.OrgID == "" {
				sum = shadow.Summary{OrgID: r.OrgID, Route: r.Route, FirstHour: r.Hour, LastHour: r.Hour}
			}
			sum.Counts.Add(r.Counts)
			sum.LegacyLatency.Merge(r.LegacyLatency)
			sum.NewLatency.Merge(r.NewLatency)
			if r.Hour.Before(sum.FirstHour) {
				sum.FirstHour = r.Hour
			}
			if r.Hour.After(sum.LastHour) {
				sum.LastHour = r.Hour
			}
			want[r.OrgID] = sum
		}
		sums, err := s.Summaries(ctx, w)
		require.NoError(t, err)
		require.Len(t, sums, len(want), "window %+v", w)
		for _, got := range sums {
			exp := want[got.OrgID]
			assert.Equal(t, exp.Counts, got.Counts, "window %+v org %s", w, got.OrgID)
			assert.Equal(t, exp.LegacyLatency.Buckets(), got.LegacyLatency.Buckets(), "window %+v", w)
			assert.Equal(t, exp.NewLatency.Buckets(), got.NewLatency.Buckets(), "window %+v", w)
			assert.True(t, exp.FirstHour.Equal(got.FirstHour), "window %+v first %v vs %v", w, exp.FirstHour, got.FirstHour)
			assert.True(t, exp.LastHour.Equal(got.LastHour), "window %+v last %v vs %v", w, exp.LastHour, got.LastHour)
		}
	}
}

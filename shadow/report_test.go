package shadow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/shadow"
)

type entryKey struct{ org, route string }

func byKey(rep shadow.PromotionReport) map[entryKey]shadow.RouteReport {
	m := make(map[entryKey]shadow.RouteReport)
	for _, e := range rep.Entries {
		m[entryKey{e.OrgID, e.Route}] = e
	}
	return m
}

func keys(rep shadow.PromotionReport) []entryKey {
	var out []entryKey
	for _, e := range rep.Entries {
		out = append(out, entryKey{e.OrgID, e.Route})
	}
	return out
}

func codes(rs []shadow.VerdictReason) []shadow.VerdictCode {
	out := []shadow.VerdictCode{}
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestReportWholeFleet(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		rep, err := fxReporter(t, s).Report(context.Background(), shadow.ReportFilter{})
		require.NoError(t, err)
		assert.Equal(t, fxNow, rep.GeneratedAt)
		assert.True(t, rep.Since.IsZero())
		assert.Equal(t, fxNow, rep.Until)
		assert.Equal(t, shadow.Thresholds{MinComparisons: 1000, MinMatchRate: 0.999, MaxErrorRate: 0.001}, rep.Thresholds)
		// Ordered by org, route; the anonymous org ("") first.
		assert.Equal(t, []entryKey{{"", "qa"}, {fxAcme, "qa"}, {fxAcme, "search"}, {fxGlobex, "qa"}, {fxInitech, "search"}}, keys(rep))
		assert.Equal(t, 2, rep.Ready)
		assert.Equal(t, 3, rep.NotReady)
		m := byKey(rep)

		// An acknowledged class stays visible but does not block.
		acme := m[entryKey{fxAcme, "qa"}]
		assert.Equal(t, shadow.VerdictReady, acme.Verdict)
		assert.Empty(t, acme.Reasons)
		assert.Equal(t, int64(2000), acme.Comparisons)
		assert.InDelta(t, 0.9995, *acme.MatchRate, 1e-12)
		assert.Equal(t, 0.0, *acme.CandidateErrorRate)
		assert.Equal(t, 0, acme.OpenClasses)
		assert.Equal(t, 1, acme.AcknowledgedClasses)
		require.Len(t, acme.TopClasses, 1)
		assert.Equal(t, fxClassX, acme.TopClasses[0].Fingerprint)
		assert.Equal(t, shadow.StatusAcknowledged, acme.TopClasses[0].Status)
		assert.Equal(t, int64(1), acme.TopClasses[0].Count)
		assert.Equal(t, "alice@ops.test", acme.TopClasses[0].AckBy)
		assert.Equal(t, "generated_at is formatted per request; accepted", acme.TopClasses[0].AckNote)
		// Latency quantiles come from the merged histograms (bucket
		// middles, within 6.25%).
		assert.Equal(t, int64(5), acme.Latency.Legacy.Samples)
		assert.InEpsilon(t, 12.0, acme.Latency.Legacy.P50MS, 0.0625)
		assert.InEpsilon(t, 90.0, acme.Latency.Legacy.P99MS, 0.0625)
		assert.InEpsilon(t, 9.0, acme.Latency.New.P50MS, 0.0625)
		assert.InEpsilon(t, 40.0, acme.Latency.New.P99MS, 0.0625)

		// Exactly at every threshold: READY.
		search := m[entryKey{fxAcme, "search"}]
		assert.Equal(t, shadow.VerdictReady, search.Verdict, search.Reasons)
		assert.Equal(t, int64(1000), search.Comparisons)
		assert.Equal(t, 0.999, *search.MatchRate)
		assert.Equal(t, 0.001, *search.CandidateErrorRate)

		// Every reason at once, the dropped and failed comparisons in the
		// denominator.
		globex := m[entryKey{fxGlobex, "qa"}]
		assert.Equal(t, shadow.VerdictNotReady, globex.Verdict)
		assert.Equal(t, []shadow.VerdictCode{shadow.CodeTooFewComparisons, shadow.CodeMatchRateLow, shadow.CodeErrorRateHigh, shadow.CodeOpenClasses},
			codes(globex.Reasons))
		assert.Equal(t, int64(412), globex.Comparisons)
		assert.Equal(t, shadow.Counts{Match: 400, Diff: 8, CandidateError: 1, Dropped: 3}, globex.Counts)
		assert.Equal(t, 400.0/412.0, *globex.MatchRate)
		assert.Equal(t, fxH1, globex.FirstHour)
		assert.Equal(t, fxH0, globex.LastHour)
		assert.Equal(t, 1, globex.OpenClasses)
		assert.Equal(t, 1, globex.AcknowledgedClasses)
		require.Len(t, globex.TopClasses, 2)
		assert.Equal(t, fxClassY, globex.TopClasses[0].Fingerprint, "open classes first")
		assert.Equal(t, int64(5), globex.TopClasses[0].Count)
		assert.Equal(t, fxClassX, globex.TopClasses[1].Fingerprint)
		assert.Equal(t, int64(3), globex.TopClasses[1].Count, "this org's count")
		assert.Contains(t, globex.Reasons[3].Message, fxClassY)
		assert.NotContains(t, globex.Reasons[3].Message, fxClassX)

		// Dropped comparisons alone push the match rate under the threshold.
		initech := m[entryKey{fxInitech, "search"}]
		assert.Equal(t, []shadow.VerdictCode{shadow.CodeMatchRateLow}, codes(initech.Reasons))
		assert.Equal(t, 0.998, *initech.MatchRate)
		assert.Equal(t, int64(4), initech.TooLarge)

		anon := m[entryKey{"", "qa"}]
		assert.Equal(t, []shadow.VerdictCode{shadow.CodeTooFewComparisons}, codes(anon.Reasons))

		// Overall: open first, then by count; counts summed over orgs.
		require.Len(t, rep.TopClasses, 2)
		assert.Equal(t, fxClassY, rep.TopClasses[0].Fingerprint)
		assert.Equal(t, 1, rep.TopClasses[0].Orgs)
		assert.Equal(t, fxClassX, rep.TopClasses[1].Fingerprint)
		assert.Equal(t, int64(4), rep.TopClasses[1].Count)
		assert.Equal(t, 2, rep.TopClasses[1].Orgs)
		assert.Equal(t, 3, rep.TopClasses[0].PatternSize)
	})
}

func TestReportFilters(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		r := fxReporter(t, s)
		ctx := context.Background()
		report := func(f shadow.ReportFilter) shadow.PromotionReport {
			rep, err := r.Report(ctx, f)
			require.NoError(t, err)
			return rep
		}

		t.Run("org", func(t *testing.T) {
			rep := report(shadow.ReportFilter{OrgID: fxAcme})
			assert.Equal(t, []entryKey{{fxAcme, "qa"}, {fxAcme, "search"}}, keys(rep))
			assert.Equal(t, fxAcme, rep.OrgID)
			require.Len(t, rep.TopClasses, 1)
			assert.Equal(t, int64(1), rep.TopClasses[0].Count, "class counts are restricted to the org")
		})
		t.Run("route", func(t *testing.T) {
			rep := report(shadow.ReportFilter{Route: "search"})
			assert.Equal(t, []entryKey{{fxAcme, "search"}, {fxInitech, "search"}}, keys(rep))
			assert.Empty(t, rep.TopClasses)
		})
		t.Run("org and route", func(t *testing.T) {
			rep := report(shadow.ReportFilter{OrgID: fxGlobex, Route: "qa"})
			assert.Equal(t, []entryKey{{fxGlobex, "qa"}}, keys(rep))
		})
		t.Run("since", func(t *testing.T) {
			// The last 24 hours hold h0 only: globex's class Y (in h1) no
			// longer blocks, and its only class in the period is
			// acknowledged.
			rep := report(shadow.ReportFilter{Since: fxNow.Add(-24 * time.Hour)})
			assert.Equal(t, []entryKey{{"", "qa"}, {fxAcme, "qa"}, {fxAcme, "search"}, {fxGlobex, "qa"}}, keys(rep))
			g := byKey(rep)[entryKey{fxGlobex, "qa"}]
			assert.Equal(t, int64(212), g.Comparisons)
			assert.Equal(t, 0, g.OpenClasses)
			assert.Equal(t, 1, g.AcknowledgedClasses)
			assert.NotContains(t, codes(g.Reasons), shadow.CodeOpenClasses)
			assert.NotContains(t, codes(g.Reasons), shadow.CodeErrorRateHigh)
			assert.Equal(t, time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC), rep.Since, "since is reported as the start of its hour")
		})
		t.Run("since mid-hour includes that hour", func(t *testing.T) {
			rep := report(shadow.ReportFilter{Since: fxH0.Add(59 * time.Minute)})
			assert.Len(t, rep.Entries, 4)
			assert.Equal(t, fxH0, rep.Since)
		})
		t.Run("until", func(t *testing.T) {
			rep := report(shadow.ReportFilter{Until: fxH0})
			assert.Equal(t, []entryKey{{fxGlobex, "qa"}, {fxInitech, "search"}}, keys(rep))
			g := byKey(rep)[entryKey{fxGlobex, "qa"}]
			assert.Equal(t, int64(200), g.Comparisons)
			require.Len(t, g.TopClasses, 1)
			assert.Equal(t, fxClassY, g.TopClasses[0].Fingerprint)
			assert.Equal(t, fxH0, rep.Until)
		})
		t.Run("since and until", func(t *testing.T) {
			rep := report(shadow.ReportFilter{Since: fxH1, Until: fxH1.Add(time.Hour)})
			assert.Equal(t, []entryKey{{fxGlobex, "qa"}, {fxInitech, "search"}}, keys(rep))
			rep = report(shadow.ReportFilter{Since: fxH1.Add(time.Hour), Until: fxH0})
			assert.Empty(t, rep.Entries)
			assert.NotNil(t, rep.Entries)
			assert.NotNil(t, rep.TopClasses)
		})
		t.Run("top", func(t *testing.T) {
			rep := report(shadow.ReportFilter{OrgID: fxGlobex, TopClasses: 1})
			g := rep.Entries[0]
			require.Len(t, g.TopClasses, 1)
			assert.Equal(t, fxClassY, g.TopClasses[0].Fingerprint)
			assert.Equal(t, 1, g.OpenClasses, "counts cover every class, not only those listed")
			assert.Equal(t, 1, g.AcknowledgedClasses)
			rep = report(shadow.ReportFilter{OrgID: fxGlobex, TopClasses: -1})
			assert.Empty(t, rep.Entries[0].TopClasses)
			assert.Equal(t, shadow.VerdictNotReady, rep.Entries[0].Verdict)
		})
		t.Run("unknown org", func(t *testing.T) {
			rep := report(shadow.ReportFilter{OrgID: "nope"})
			assert.Empty(t, rep.Entries)
			assert.Zero(t, rep.Ready+rep.NotReady)
		})
	})
}

func TestReportAckAndReopen(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		ctx := context.Background()
		r := fxReporter(t, s)
		_, err := s.Reopen(ctx, fxClassX)
		require.NoError(t, err)
		rep, err := r.Report(ctx, shadow.ReportFilter{OrgID: fxAcme, Route: "qa"})
		require.NoError(t, err)
		e := rep.Entries[0]
		assert.Equal(t, shadow.VerdictNotReady, e.Verdict, "a reopened class blocks again")
		assert.Equal(t, []shadow.VerdictCode{shadow.CodeOpenClasses}, codes(e.Reasons))

		_, err = s.Ack(ctx, fxClassX, shadow.Ack{Note: "ok", By: "bob", At: fxNow})
		require.NoError(t, err)
		rep, err = r.Report(ctx, shadow.ReportFilter{OrgID: fxAcme, Route: "qa"})
		require.NoError(t, err)
		e = rep.Entries[0]
		assert.Equal(t, shadow.VerdictReady, e.Verdict)
		require.Len(t, e.TopClasses, 1, "an acknowledged class stays visible")
		assert.Equal(t, shadow.StatusAcknowledged, e.TopClasses[0].Status)
		assert.Equal(t, "bob", e.TopClasses[0].AckBy)
		assert.Equal(t, fxNow, e.TopClasses[0].AckAt)
	})
}

type fixedModes []shadow.OrgMode

func (f fixedModes) OrgsInModes(context.Context, string) ([]shadow.OrgMode, error) { return f, nil }

func TestRolloutOverview(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		r := fxReporter(t, s)
		orgs := []shadow.OrgMode{
			{OrgID: fxGlobex, Mode: "shadow"},
			{OrgID: fxAcme, OrgSlug: "acme", Mode: "canary"},
			{OrgID: fxInitech, Mode: "shadow"}, // no comparisons on qa
		}
		rep, err := r.Rollout(context.Background(), "qa", orgs, shadow.ReportFilter{OrgID: "ignored", Route: "ignored"})
		require.NoError(t, err)
		assert.Equal(t, "qa", rep.Route)
		assert.Empty(t, rep.OrgID)
		// Canary first, then by org; the anonymous traffic is not listed.
		assert.Equal(t, []entryKey{{fxAcme, "qa"}, {fxGlobex, "qa"}, {fxInitech, "qa"}}, keys(rep))
		assert.Equal(t, "canary", rep.Entries[0].Mode)
		assert.Equal(t, "acme", rep.Entries[0].OrgSlug)
		assert.Equal(t, shadow.VerdictReady, rep.Entries[0].Verdict)
		assert.Equal(t, shadow.VerdictNotReady, rep.Entries[1].Verdict)
		in := rep.Entries[2]
		assert.Equal(t, "shadow", in.Mode)
		assert.Zero(t, in.Comparisons)
		assert.Nil(t, in.MatchRate, "no comparison, no rate")
		assert.Nil(t, in.CandidateErrorRate)
		assert.Equal(t, []shadow.VerdictCode{shadow.CodeTooFewComparisons}, codes(in.Reasons))
		assert.Equal(t, 1, rep.Ready)
		assert.Equal(t, 2, rep.NotReady)

		rep, err = r.Rollout(context.Background(), "qa", nil, shadow.ReportFilter{})
		require.NoError(t, err)
		assert.Empty(t, rep.Entries, "nobody in shadow or canary")
		_, err = r.Rollout(context.Background(), "", orgs, shadow.ReportFilter{})
		require.Error(t, err)
	})
}

func TestReporterThresholds(t *testing.T) {
	s := shadow.NewMemoryStore(shadow.MemoryStoreOptions{})
	_, err := shadow.NewReporter(nil, shadow.ReporterOptions{})
	require.Error(t, err)
	_, err = shadow.NewReporter(s, shadow.ReporterOptions{Readiness: config.Readiness{MinComparisons: 0, MinMatchRate: 2, MaxErrorRate: -1}})
	require.Error(t, err)
	assert.ErrorContains(t, err, "min_comparisons")
	assert.ErrorContains(t, err, "min_match_rate")
	assert.ErrorContains(t, err, "max_error_rate")

	seedFixture(t, s)
	r, err := shadow.NewReporter(s, shadow.ReporterOptions{Readiness: config.Readiness{MinComparisons: 10, MinMatchRate: 0.5, MaxErrorRate: 0.5},
		Now: func() time.Time { return fxNow }})
	require.NoError(t, err)
	rep, err := r.Report(context.Background(), shadow.ReportFilter{})
	require.NoError(t, err)
	m := byKey(rep)
	assert.Equal(t, shadow.VerdictReady, m[entryKey{"", "qa"}].Verdict, "exactly min_comparisons")
	assert.Equal(t, shadow.VerdictReady, m[entryKey{fxInitech, "search"}].Verdict)
	assert.Equal(t, []shadow.VerdictCode{shadow.CodeOpenClasses}, codes(m[entryKey{fxGlobex, "qa"}].Reasons))
}

func TestReportStoreFailure(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := fxReporter(t, s).Report(ctx, shadow.ReportFilter{})
		require.Error(t, err)
		assert.ErrorContains(t, err, "shadow report")
		_, err = fxReporter(t, s).Rollout(ctx, "qa", []shadow.OrgMode{{OrgID: fxAcme, Mode: "shadow"}}, shadow.ReportFilter{})
		require.Error(t, err)
	})
}

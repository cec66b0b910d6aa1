package shadow_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/shadow"
)

func TestJudgeBoundaries(t *testing.T) {
	def := shadow.Thresholds{MinComparisons: 1000, MinMatchRate: 0.999, MaxErrorRate: 0.001}
	open := []shadow.OpenClass{{Fingerprint: "0123456789abcdef", Count: 3}}
	tests := []struct {
		name string
		th   shadow.Thresholds
		c    shadow.Counts
		open []shadow.OpenClass
		want []shadow.VerdictCode
	}{
		{"no comparison: too few, no rate", def, shadow.Counts{}, nil, []shadow.VerdictCode{shadow.CodeTooFewComparisons}},
		{"one below min_comparisons", def, shadow.Counts{Match: 999}, nil, []shadow.VerdictCode{shadow.CodeTooFewComparisons}},
		{"exactly min_comparisons", def, shadow.Counts{Match: 1000}, nil, nil},
		{"dropped count toward min_comparisons", def, shadow.Counts{Match: 999, Dropped: 1}, nil, nil},
		{"match rate exactly at threshold", def, shadow.Counts{Match: 999, Diff: 1}, nil, nil},
		{"match rate just below", def, shadow.Counts{Match: 998, Diff: 2}, nil, []shadow.VerdictCode{shadow.CodeMatchRateLow}},
		{"match rate exactly at threshold, larger", def, shadow.Counts{Match: 99900, Diff: 100}, nil, nil},
		{"match rate one in a million below", def, shadow.Counts{Match: 998999, Diff: 1001}, nil, []shadow.VerdictCode{shadow.CodeMatchRateLow}},
		{"dropped lower the match rate", def, shadow.Counts{Match: 1000, Dropped: 2}, nil, []shadow.VerdictCode{shadow.CodeMatchRateLow}},
		{"error rate exactly at max", def, shadow.Counts{Match: 999, CandidateError: 1}, nil, nil},
		{"error rate just above", shadow.Thresholds{MinComparisons: 1000, MinMatchRate: 0.99, MaxErrorRate: 0.001},
			shadow.Counts{Match: 998, CandidateError: 2}, nil, []shadow.VerdictCode{shadow.CodeErrorRateHigh}},
		{"errors lower the match rate too", def, shadow.Counts{Match: 998, CandidateError: 2}, nil,
			[]shadow.VerdictCode{shadow.CodeMatchRateLow, shadow.CodeErrorRateHigh}},
		{"open class blocks a perfect run", def, shadow.Counts{Match: 5000}, open, []shadow.VerdictCode{shadow.CodeOpenClasses}},
		{"every reason, in order", def, shadow.Counts{Match: 10, Diff: 5, CandidateError: 5}, open,
			[]shadow.VerdictCode{shadow.CodeTooFewComparisons, shadow.CodeMatchRateLow, shadow.CodeErrorRateHigh, shadow.CodeOpenClasses}},
		// Decimal thresholds that are not exact in binary still compare
		// equal to the ratio that equals them.
		{"0.7 of 10", shadow.Thresholds{MinComparisons: 1, MinMatchRate: 0.7, MaxErrorRate: 0.3}, shadow.Counts{Match: 7, CandidateError: 3}, nil, nil},
		{"0.95 of 20", shadow.Thresholds{MinComparisons: 1, MinMatchRate: 0.95, MaxErrorRate: 0.05}, shadow.Counts{Match: 19, CandidateError: 1}, nil, nil},
		{"0.3 of 10", shadow.Thresholds{MinComparisons: 1, MinMatchRate: 0.3, MaxErrorRate: 0.1}, shadow.Counts{Match: 3, Diff: 6, CandidateError: 1}, nil, nil},
		{"match rate 1 required", shadow.Thresholds{MinComparisons: 1, MinMatchRate: 1, MaxErrorRate: 0}, shadow.Counts{Match: 1_000_000}, nil, nil},
		{"match rate 1 required, one drop", shadow.Thresholds{MinComparisons: 1, MinMatchRate: 1, MaxErrorRate: 0}, shadow.Counts{Match: 1_000_000, Dropped: 1}, nil,
			[]shadow.VerdictCode{shadow.CodeMatchRateLow}},
		{"no error allowed", shadow.Thresholds{MinComparisons: 1, MinMatchRate: 0, MaxErrorRate: 0}, shadow.Counts{Match: 1, CandidateError: 1}, nil,
			[]shadow.VerdictCode{shadow.CodeErrorRateHigh}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, reasons := tc.th.Judge(tc.c, tc.open)
			got := []shadow.VerdictCode(nil)
			for _, r := range reasons {
				got = append(got, r.Code)
				assert.NotEmpty(t, r.Message)
			}
			assert.Equal(t, tc.want, got)
			if tc.want == nil {
				assert.Equal(t, shadow.VerdictReady, v)
			} else {
				assert.Equal(t, shadow.VerdictNotReady, v)
			}
		})
	}
}

func TestJudgeMessages(t *testing.T) {
	th := shadow.Thresholds{MinComparisons: 1000, MinMatchRate: 0.999, MaxErrorRate: 0.001}
	_, rs := th.Judge(shadow.Counts{Match: 400, Diff: 8, CandidateError: 1, Dropped: 3}, []shadow.OpenClass{
		{Fingerprint: "aaaaaaaaaaaaaaaa", Count: 5}, {Fingerprint: "bbbbbbbbbbbbbbbb", Count: 4},
		{Fingerprint: "cccccccccccccccc", Count: 3}, {Fingerprint: "dddddddddddddddd", Count: 2}, {Fingerprint: "eeeeeeeeeeeeeeee", Count: 1},
	})
	require.Len(t, rs, 4)
	assert.Equal(t, "412 comparisons; at least 1,000 are needed", rs[0].Message)
	assert.Equal(t, "match rate 97.09% is below 99.90% (8 diffs, 1 candidate error, 3 dropped of 412 comparisons)", rs[1].Message)
	assert.Equal(t, "candidate error rate 0.24% is above 0.10% (1 of 412 comparisons failed)", rs[2].Message)
	assert.Equal(t, "5 open diff classes: aaaaaaaaaaaaaaaa (5), bbbbbbbbbbbbbbbb (4), cccccccccccccccc (3), 2 more; fix or acknowledge them", rs[3].Message)

	// Just below the threshold never prints as the threshold.
	_, rs = th.Judge(shadow.Counts{Match: 998_999, Diff: 1_001}, nil)
	require.Len(t, rs, 1)
	assert.Equal(t, "match rate 99.8999% is below 99.9000% (1,001 diffs of 1,000,000 comparisons)", rs[0].Message)
}

// Property: adding dropped comparisons or candidate errors never raises a
// match rate, so never turns NOT READY into READY.
func TestPropertySheddingNeverInflatesTheMatchRate(t *testing.T) {
	th := shadow.Thresholds{MinComparisons: 1, MinMatchRate: 0.99, MaxErrorRate: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		c := shadow.Counts{Match: rng.Int64N(100000), Diff: rng.Int64N(1000), CandidateError: rng.Int64N(100), Dropped: rng.Int64N(1000)}
		more := c
		more.Dropped += 1 + rng.Int64N(1000)
		more.CandidateError += rng.Int64N(10)
		before, _ := th.Judge(c, nil)
		after, _ := th.Judge(more, nil)
		if before == shadow.VerdictNotReady && c.Comparisons() > 0 {
			require.Equal(t, shadow.VerdictNotReady, after, "%+v -> %+v", c, more)
		}
		if c.Comparisons() > 0 {
			require.LessOrEqual(t, float64(more.Match)/float64(more.Comparisons()), float64(c.Match)/float64(c.Comparisons()))
		}
	}
}

func TestThresholdsFrom(t *testing.T) {
	th, err := shadow.ThresholdsFrom(config.Readiness{})
	require.NoError(t, err)
	assert.Equal(t, shadow.Thresholds{MinComparisons: 1000, MinMatchRate: 0.999, MaxErrorRate: 0.001}, th, "zero means the defaults")
	th, err = shadow.ThresholdsFrom(config.Readiness{MinComparisons: 5, MinMatchRate: 0.9, MaxErrorRate: 0})
	require.NoError(t, err)
	assert.Equal(t, shadow.Thresholds{MinComparisons: 5, MinMatchRate: 0.9, MaxErrorRate: 0}, th)
	for _, bad := range []config.Readiness{
		{MinComparisons: -1, MinMatchRate: 0.9},
		{MinComparisons: 1, MinMatchRate: 1.01},
		{MinComparisons: 1, MinMatchRate: 0.9, MaxErrorRate: -0.1},
	} {
		_, err := shadow.ThresholdsFrom(bad)
		assert.Error(t, err, "%+v", bad)
	}
}

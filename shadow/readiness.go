package shadow

import (
	"errors"
	"fmt"
	"strings"

	"github.com/7cycles-ai/strangler/config"
)

// Verdict is the promotion-readiness verdict of one org × route.
type Verdict string

// The verdicts.
const (
	// VerdictReady: enough comparisons, match and error rates within the
	// thresholds, and no open diff class.
	VerdictReady Verdict = "READY"
	// VerdictNotReady: at least one reason says why not.
	VerdictNotReady Verdict = "NOT READY"
)

// VerdictCode names one reason of a NOT READY verdict; the set is closed so
// that tools can act on it.
type VerdictCode string

// The reasons of a NOT READY verdict, in the order they are reported.
const (
	// CodeTooFewComparisons: fewer comparisons than min_comparisons; the
	// rates are not yet evidence.
	CodeTooFewComparisons VerdictCode = "too_few_comparisons"
	// CodeMatchRateLow: matches / comparisons below min_match_rate.
	CodeMatchRateLow VerdictCode = "match_rate_below_threshold"
	// CodeErrorRateHigh: candidate errors / comparisons above
	// max_error_rate.
	CodeErrorRateHigh VerdictCode = "error_rate_above_threshold"
	// CodeOpenClasses: diff classes of the org × route that nobody has
	// fixed or acknowledged yet.
	CodeOpenClasses VerdictCode = "open_diff_classes"
)

// VerdictReason is one reason of a NOT READY verdict, with a message that
// says what was measured against which threshold.
type VerdictReason struct {
	Code    VerdictCode `json:"code"`
	Message string      `json:"message"`
}

// Thresholds are the readiness thresholds a report was judged by
// (shadow.readiness).
type Thresholds struct {
	// MinComparisons: fewer comparisons are too little evidence.
	MinComparisons int64 `json:"min_comparisons"`
	// MinMatchRate: the lowest acceptable matches / comparisons.
	MinMatchRate float64 `json:"min_match_rate"`
	// MaxErrorRate: the highest acceptable candidate errors / comparisons.
	MaxErrorRate float64 `json:"max_error_rate"`
}

// ThresholdsFrom converts the configuration; the zero value means the
// configuration's defaults.
func ThresholdsFrom(r config.Readiness) (Thresholds, error) {
	if r == (config.Readiness{}) {
		r = config.Default().Shadow.Readiness
	}
	var errs []error
	if r.MinComparisons < 1 {
		errs = append(errs, fmt.Errorf("min_comparisons must be at least 1, got %d", r.MinComparisons))
	}
	if !(r.MinMatchRate >= 0 && r.MinMatchRate <= 1) {
		errs = append(errs, fmt.Errorf("min_match_rate must be between 0 and 1, got %v", r.MinMatchRate))
	}
	if !(r.MaxErrorRate >= 0 && r.MaxErrorRate <= 1) {
		errs = append(errs, fmt.Errorf("max_error_rate must be between 0 and 1, got %v", r.MaxErrorRate))
	}
	if len(errs) > 0 {
		return Thresholds{}, fmt.Errorf("shadow readiness: %w", errors.Join(errs...))
	}
	return Thresholds{MinComparisons: int64(r.MinComparisons), MinMatchRate: r.MinMatchRate, MaxErrorRate: r.MaxErrorRate}, nil
}

// OpenClass names one open diff class that blocks a verdict.
type OpenClass struct {
	Fingerprint string
	Count       int64
}

// maxNamedClasses bounds the fingerprints named in an open-classes reason.
const maxNamedClasses = 3

// Judge returns the verdict of one org × route and every reason against it.
//
// The denominator of both rates is every comparison, dropped ones and
// candidate errors included (Counts.Comparisons), so shedding load or a
// failing candidate can never raise a match rate. Each threshold is
// inclusive: exactly min_comparisons comparisons, a match rate exactly at
// min_match_rate and an error rate exactly at max_error_rate all pass. The
// rates are computed as one correctly rounded division, so a ratio whose
// exact value equals a decimal threshold compares equal to it. Acknowledged
// classes do not block; open ones do, whatever the match rate.
func (t Thresholds) Judge(c Counts, open []OpenClass) (Verdict, []VerdictReason) {
	var reasons []VerdictReason
	n := c.Comparisons()
	if n < t.MinComparisons {
		have := counted(n, "comparison", "comparisons")
		if n == 0 {
			have = "no comparison yet"
		}
		reasons = append(reasons, VerdictReason{Code: CodeTooFewComparisons,
			Message: fmt.Sprintf("%s; at least %s are needed", have, count(t.MinComparisons))})
	}
	if n > 0 {
		if mr := float64(c.Match) / float64(n); mr < t.MinMatchRate {
			reasons = append(reasons, VerdictReason{Code: CodeMatchRateLow,
				Message: fmt.Sprintf("match rate %s is below %s (%s)", percentVs(mr, t.MinMatchRate), percentVs(t.MinMatchRate, mr), nonMatches(c))})
		}
		if er := float64(c.CandidateError) / float64(n); er > t.MaxErrorRate {
			reasons = append(reasons, VerdictReason{Code: CodeErrorRateHigh,
				Message: fmt.Sprintf("candidate error rate %s is above %s (%s of %s comparisons failed)",
					percentVs(er, t.MaxErrorRate), percentVs(t.MaxErrorRate, er), count(c.CandidateError), count(n))})
		}
	}
	if len(open) > 0 {
		names := make([]string, 0, maxNamedClasses)
		for i, oc := range open {
			if i == maxNamedClasses {
				names = append(names, fmt.Sprintf("%d more", len(open)-maxNamedClasses))
				break
			}
			names = append(names, fmt.Sprintf("%s (%s)", oc.Fingerprint, count(oc.Count)))
		}
		noun := "classes"
		if len(open) == 1 {
			noun = "class"
		}
		reasons = append(reasons, VerdictReason{Code: CodeOpenClasses,
			Message: fmt.Sprintf("%d open diff %s: %s; fix or acknowledge them", len(open), noun, strings.Join(names, ", "))})
	}
	if len(reasons) > 0 {
		return VerdictNotReady, reasons
	}
	return VerdictReady, nil
}

// nonMatches says what the comparisons that did not match were.
func nonMatches(c Counts) string {
	n := c.Comparisons()
	parts := make([]string, 0, 3)
	if c.Diff > 0 {
		parts = append(parts, counted(c.Diff, "diff", "diffs"))
	}
	if c.CandidateError > 0 {
		parts = append(parts, counted(c.CandidateError, "candidate error", "candidate errors"))
	}
	if c.Dropped > 0 {
		parts = append(parts, count(c.Dropped)+" dropped")
	}
	if len(parts) == 0 {
		return count(n-c.Match) + " of " + count(n) + " comparisons did not match"
	}
	return strings.Join(parts, ", ") + " of " + count(n) + " comparisons"
}

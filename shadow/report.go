package shadow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/7cycles-ai/strangler/config"
)

// Reports (SPEC §10, issue "shadow diff reports"): per org × route, how
// much evidence there is (comparisons by outcome), how good it is (match
// and candidate error rates, latency of both backends), which diff classes
// remain, and the promotion verdict. A report reads two things from the
// Store — Summaries (the hourly and daily rollups summed per org × route)
// and Classes (hourly class counts summed per class and org) — and never a
// raw comparison, so its cost depends on orgs × routes × days and on the
// number of diff classes, not on traffic.

// Report sizes.
const (
	// DefaultTopClasses is how many diff classes a report lists per
	// org × route.
	DefaultTopClasses = 5
	// MaxTopClasses bounds TopClasses.
	MaxTopClasses = 100
	// ReportTopClasses is how many diff classes a report lists overall.
	ReportTopClasses = 10
	// briefPatternLen bounds the (path, kind) pairs a ClassBrief carries;
	// PatternSize says how many the class has.
	briefPatternLen = 5
)

// ReportFilter selects what a report covers. Empty fields do not filter.
// An hour is in the period when its start is in [Since rounded down to its
// hour, Until).
type ReportFilter struct {
	OrgID string
	Route string
	Since time.Time
	Until time.Time
	// TopClasses is how many diff classes each org × route lists: 0 means
	// DefaultTopClasses, a negative number none.
	TopClasses int
}

// PromotionReport is a shadow report: one entry per org × route with its
// verdict, and the diff classes that matter most overall.
type PromotionReport struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Since is the start of the first hour covered (zero: everything
	// retained); Until is the end of the period (the generation time when
	// the filter had none).
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until"`
	// OrgID, OrgSlug and Route echo the filter.
	OrgID   string `json:"org_id,omitempty"`
	OrgSlug string `json:"org_slug,omitempty"`
	Route   string `json:"route,omitempty"`
	// Thresholds are those the verdicts were judged by.
	Thresholds Thresholds `json:"thresholds"`
	// Ready and NotReady count the entries by verdict.
	Ready    int `json:"ready"`
	NotReady int `json:"not_ready"`
	// Entries are ordered by org, route (a rollout overview: by mode, then
	// org).
	Entries []RouteReport `json:"entries"`
	// TopClasses are the classes with the most diffs among the entries,
	// open ones first.
	TopClasses []ClassBrief `json:"top_classes"`
}

// RouteReport is the report of one org × route.
type RouteReport struct {
	OrgID   string `json:"org_id"`
	OrgSlug string `json:"org_slug,omitempty"`
	Route   string `json:"route"`
	// Mode is the org's current mode of the route (rollout overview only).
	Mode string `json:"mode,omitempty"`
	// Comparisons counts every outcome; it is the denominator of both
	// rates.
	Comparisons int64 `json:"comparisons"`
	Counts
	// MatchRate is matches / comparisons, CandidateErrorRate candidate
	// errors / comparisons; both null when there was no comparison.
	MatchRate          *float64  `json:"match_rate"`
	CandidateErrorRate *float64  `json:"candidate_error_rate"`
	Latency            Latencies `json:"latency"`
	// FirstHour and LastHour bound the hours that had comparisons.
	FirstHour time.Time `json:"first_hour,omitzero"`
	LastHour  time.Time `json:"last_hour,omitzero"`
	// OpenClasses and AcknowledgedClasses count this org × route's diff
	// classes in the period by status.
	OpenClasses         int `json:"open_classes"`
	AcknowledgedClasses int `json:"acknowledged_classes"`
	// TopClasses lists the most frequent classes, open ones first; Count is
	// this org's count.
	TopClasses []ClassBrief    `json:"top_classes"`
	Verdict    Verdict         `json:"verdict"`
	Reasons    []VerdictReason `json:"reasons"`
}

// Latencies are both backends' latency quantiles, from the merged hourly
// histograms (within 6.25% of an observed latency).
type Latencies struct {
	Legacy LatencyStats `json:"legacy"`
	New    LatencyStats `json:"new"`
}

// LatencyStats summarise one backend's full-answer latencies.
type LatencyStats struct {
	Samples int64   `json:"samples"`
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
}

// ClassBrief is a diff class as a report lists it.
type ClassBrief struct {
	Fingerprint string      `json:"fingerprint"`
	Route       string      `json:"route"`
	Status      ClassStatus `json:"status"`
	// Count is the class's diffs in the period (in an entry: of that org).
	Count int64 `json:"count"`
	// Orgs is the number of organizations affected among the report's.
	Orgs int `json:"orgs"`
	// Pattern holds the first differing (path, kind) pairs; PatternSize is
	// how many the class has.
	Pattern     []PathKind `json:"pattern"`
	PatternSize int        `json:"pattern_size"`
	AckNote     string     `json:"ack_note,omitempty"`
	AckBy       string     `json:"ack_by,omitempty"`
	AckAt       time.Time  `json:"ack_at,omitzero"`
}

// Reporter builds reports from a Store.
type Reporter struct {
	store      Store
	thresholds Thresholds
	now        func() time.Time
}

// ReporterOptions configure a Reporter.
type ReporterOptions struct {
	// Readiness are the verdict's thresholds (shadow.readiness); the zero
	// value means the configuration's defaults.
	Readiness config.Readiness
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewReporter returns a Reporter reading store.
func NewReporter(store Store, opts ReporterOptions) (*Reporter, error) {
	if store == nil {
		return nil, errors.New("shadow reporter: store is required")
	}
	t, err := ThresholdsFrom(opts.Readiness)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Reporter{store: store, thresholds: t, now: opts.Now}, nil
}

// Thresholds returns the thresholds verdicts are judged by.
func (r *Reporter) Thresholds() Thresholds { return r.thresholds }

// Report returns one entry per org × route that had comparisons in the
// filter's period.
func (r *Reporter) Report(ctx context.Context, f ReportFilter) (PromotionReport, error) {
	return r.build(ctx, f, nil)
}

// OrgMode is one organization's mode of a route group, as the rollout
// overview lists it.
type OrgMode struct {
	OrgID   string `json:"org_id"`
	OrgSlug string `json:"org_slug,omitempty"`
	// Mode is "shadow" or "canary" (the modes that compare).
	Mode string `json:"mode"`
}

// ModeLister lists the organizations whose mode of a route compares
// traffic. The shadow package does not read flags: the composer adapts the
// flag store (overrides, allow-lists and rollout) to this interface.
type ModeLister interface {
	// OrgsInModes returns every organization in shadow or canary mode for
	// the route group.
	OrgsInModes(ctx context.Context, route string) ([]OrgMode, error)
}

// Rollout returns the rollout overview of one route: an entry for every
// listed organization (those in shadow or canary), with its mode and
// verdict, whether or not it had comparisons in the period. Entries are
// ordered by mode (canary first: it serves clients from the new backend),
// then org.
func (r *Reporter) Rollout(ctx context.Context, route string, orgs []OrgMode, f ReportFilter) (PromotionReport, error) {
	if route == "" {
		return PromotionReport{}, errors.New("rollout overview: a route is required")
	}
	f.Route = route
	f.OrgID = ""
	if orgs == nil {
		orgs = []OrgMode{}
	}
	return r.build(ctx, f, orgs)
}

type orgRoute struct{ org, route string }

// build is Report (orgs nil) or Rollout (orgs listed).
func (r *Reporter) build(ctx context.Context, f ReportFilter, orgs []OrgMode) (PromotionReport, error) {
	now := r.now().UTC()
	rep := PromotionReport{
		GeneratedAt: now, Until: now, OrgID: f.OrgID, Route: f.Route,
		Thresholds: r.thresholds, Entries: []RouteReport{}, TopClasses: []ClassBrief{},
	}
	if !f.Since.IsZero() {
		rep.Since = hourOf(f.Since)
	}
	if !f.Until.IsZero() {
		rep.Until = f.Until.UTC()
	}
	top := f.TopClasses
	switch {
	case top == 0:
		top = DefaultTopClasses
	case top < 0:
		top = 0
	case top > MaxTopClasses:
		top = MaxTopClasses
	}

	// The two reads are independent: run them at once (PostgreSQL answers
	// them on two connections, in about the time of the slower one).
	var (
		sums       []Summary
		classes    []Class
		sumErr     error
		wg         sync.WaitGroup
		rctx, stop = context.WithCancel(ctx)
	)
	defer stop()
	wg.Go(func() {
		sums, sumErr = r.store.Summaries(rctx, RollupFilter{OrgID: f.OrgID, Route: f.Route, Since: f.Since, Until: f.Until})
		if sumErr != nil {
			stop()
		}
	})
	classes, err := r.store.Classes(rctx, ClassFilter{OrgID: f.OrgID, Route: f.Route, Since: f.Since, Until: f.Until})
	if err != nil {
		stop()
	}
	wg.Wait()
	if err := cmp.Or(sumErr, err); err != nil {
		return PromotionReport{}, fmt.Errorf("shadow report: %w", err)
	}

	// The entries: every summary, or (rollout) every listed org.
	index := make(map[orgRoute]int)
	if orgs == nil {
		for _, s := range sums {
			index[orgRoute{s.OrgID, s.Route}] = len(rep.Entries)
			rep.Entries = append(rep.Entries, RouteReport{OrgID: s.OrgID, Route: s.Route})
		}
	} else {
		for _, o := range orgs {
			k := orgRoute{o.OrgID, f.Route}
			if _, dup := index[k]; dup {
				continue
			}
			index[k] = len(rep.Entries)
			rep.Entries = append(rep.Entries, RouteReport{OrgID: o.OrgID, OrgSlug: o.OrgSlug, Route: f.Route, Mode: o.Mode})
		}
	}
	for _, s := range sums {
		if i, ok := index[orgRoute{s.OrgID, s.Route}]; ok {
			e := &rep.Entries[i]
			e.Counts, e.FirstHour, e.LastHour = s.Counts, s.FirstHour, s.LastHour
			e.Latency = Latencies{Legacy: latencyStats(s.LegacyLatency), New: latencyStats(s.NewLatency)}
		}
	}

	// Each class's count per entry, and overall among the entries.
	perEntry := make([][]ClassBrief, len(rep.Entries))
	overall := make([]ClassBrief, 0, len(classes))
	for _, c := range classes {
		all := brief(c, 0, 0)
		for _, oc := range c.Orgs {
			i, ok := index[orgRoute{oc.OrgID, c.Route}]
			if !ok || oc.Count <= 0 {
				continue
			}
			perEntry[i] = append(perEntry[i], brief(c, oc.Count, 1))
			all.Count += oc.Count
			all.Orgs++
		}
		if all.Count > 0 {
			overall = append(overall, all)
		}
	}
	for i := range rep.Entries {
		e := &rep.Entries[i]
		e.Comparisons = e.Counts.Comparisons()
		if e.Comparisons > 0 {
			mr := float64(e.Match) / float64(e.Comparisons)
			er := float64(e.CandidateError) / float64(e.Comparisons)
			e.MatchRate, e.CandidateErrorRate = &mr, &er
		}
		cs := perEntry[i]
		sortBriefs(cs)
		var open []OpenClass
		for _, c := range cs {
			if c.Status == StatusAcknowledged {
				e.AcknowledgedClasses++
				continue
			}
			e.OpenClasses++
			open = append(open, OpenClass{Fingerprint: c.Fingerprint, Count: c.Count})
		}
		e.TopClasses = cs[:min(top, len(cs))]
		if e.TopClasses == nil {
			e.TopClasses = []ClassBrief{}
		}
		e.Verdict, e.Reasons = r.thresholds.Judge(e.Counts, open)
		if e.Reasons == nil {
			e.Reasons = []VerdictReason{}
		}
		if e.Verdict == VerdictReady {
			rep.Ready++
		} else {
			rep.NotReady++
		}
	}
	sortBriefs(overall)
	rep.TopClasses = overall[:min(ReportTopClasses, len(overall))]
	if orgs != nil {
		slices.SortStableFunc(rep.Entries, func(a, b RouteReport) int {
			return cmp.Or(cmp.Compare(modeRank(a.Mode), modeRank(b.Mode)), cmp.Compare(a.OrgID, b.OrgID))
		})
	}
	return rep, nil
}

func modeRank(m string) int {
	if m == "canary" {
		return 0
	}
	return 1
}

func latencyStats(h Histogram) LatencyStats {
	return LatencyStats{Samples: h.Count(), P50MS: millis(h.Quantile(0.5)), P99MS: millis(h.Quantile(0.99))}
}

// brief makes the ClassBrief of c with a count and org count.
func brief(c Class, n int64, orgs int) ClassBrief {
	b := ClassBrief{
		Fingerprint: c.Fingerprint, Route: c.Route, Status: c.Status, Count: n, Orgs: orgs,
		Pattern: c.Pattern[:min(briefPatternLen, len(c.Pattern))], PatternSize: len(c.Pattern),
	}
	if b.Pattern == nil {
		b.Pattern = []PathKind{}
	}
	if c.Status == StatusAcknowledged {
		b.AckNote, b.AckBy, b.AckAt = c.AckNote, c.AckBy, c.AckAt
	}
	return b
}

// sortBriefs orders classes open first, then by count (descending), then
// fingerprint.
func sortBriefs(cs []ClassBrief) {
	slices.SortFunc(cs, func(a, b ClassBrief) int {
		ao, bo := a.Status != StatusAcknowledged, b.Status != StatusAcknowledged
		if ao != bo {
			if ao {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
}

// LabelOrgs sets OrgSlug from slugs (organization id → slug) wherever it
// is empty.
func (p *PromotionReport) LabelOrgs(slugs map[string]string) {
	if p.OrgSlug == "" {
		p.OrgSlug = slugs[p.OrgID]
	}
	for i := range p.Entries {
		if p.Entries[i].OrgSlug == "" {
			p.Entries[i].OrgSlug = slugs[p.Entries[i].OrgID]
		}
	}
}

// OrgIDs returns the distinct organization ids of the report's entries.
func (p *PromotionReport) OrgIDs() []string {
	seen := make(map[string]bool)
	var ids []string
	for _, e := range p.Entries {
		if e.OrgID != "" && !seen[e.OrgID] {
			seen[e.OrgID] = true
			ids = append(ids, e.OrgID)
		}
	}
	return ids
}

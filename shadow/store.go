package shadow

import (
	"context"
	"errors"
	"time"
)

// Store keeps what the recorder aggregates and what reports read. Every
// implementation passes shadowtest.RunStoreTests.
//
// What is kept, and why: raw results are not. Reports (per org × route:
// comparisons, match rate, error rate, dropped, latency quantiles; top
// classes) are answered from hourly rollups and hourly class counts, whose
// size depends on orgs × routes × hours and not on traffic; diff classes
// keep their pattern, counts and status; a few redacted exemplars per class
// per day keep the evidence a person needs to judge a class. A raw row per
// comparison would cost a write per request for no report that needs it.
type Store interface {
	// Record applies one aggregated batch: rollup and class counts are
	// added, exemplars beyond the per-class-per-day limit are discarded,
	// noise counts are added. It is atomic: all or nothing.
	Record(ctx context.Context, b Batch) error

	// Rollups returns the hourly rollups matching the filter, ordered by
	// hour, org, route.
	Rollups(ctx context.Context, f RollupFilter) ([]Rollup, error)
	// Summaries returns one summary per org × route over the filter's
	// period, ordered by org, route.
	Summaries(ctx context.Context, f RollupFilter) ([]Summary, error)

	// Classes returns the diff classes seen in the filter's period (and
	// org), each with its count there, sorted by that count, descending.
	Classes(ctx context.Context, f ClassFilter) ([]Class, error)
	// Class returns one class with its exemplars (newest first), every org
	// affected and the noise learned for its route; ErrNotFound if absent.
	Class(ctx context.Context, fingerprint string) (ClassDetail, error)
	// Ack acknowledges a class (it stops blocking readiness but stays
	// visible); ErrNotFound if absent.
	Ack(ctx context.Context, fingerprint string, a Ack) (Class, error)
	// Reopen undoes an acknowledgement; ErrNotFound if absent.
	Reopen(ctx context.Context, fingerprint string) (Class, error)

	// Noise returns the noise learned for a route ("" for every route),
	// ordered by route, path.
	Noise(ctx context.Context, route string) ([]NoisePath, error)

	// DeleteBefore removes rollups of UTC days that ended by cutoff (whole
	// days: retention of rollups has a granularity of one day), class counts
	// of hours that ended by cutoff, exemplars taken before it, and classes
	// (with their counts and exemplars) and noise paths last seen before it.
	DeleteBefore(ctx context.Context, cutoff time.Time) (Deleted, error)
}

// Sentinel errors of stores.
var (
	// ErrNotFound: no class with that fingerprint.
	ErrNotFound = errors.New("shadow: not found")
)

// DefaultExemplarsPerDay is how many exemplars a class keeps per UTC day.
const DefaultExemplarsPerDay = 3

// MaxPattern bounds the (path, kind) pairs kept with a class.
const MaxPattern = 100

// Counts are the comparisons of one rollup, by outcome.
type Counts struct {
	Match          int64 `json:"match"`
	Diff           int64 `json:"diff"`
	CandidateError int64 `json:"candidate_error"`
	Dropped        int64 `json:"dropped"`
	// TooLarge counts the dropped comparisons whose body exceeded
	// max_body_bytes (a subset of Dropped, reported so that a route whose
	// bodies are too large to compare is visible as such).
	TooLarge int64 `json:"too_large"`
	// Noisy counts comparisons in which learned noise was suppressed
	// (matches and diffs alike).
	Noisy int64 `json:"noisy"`
}

// Comparisons is the denominator of every rate: all outcomes, dropped and
// candidate errors included.
func (c Counts) Comparisons() int64 { return c.Match + c.Diff + c.CandidateError + c.Dropped }

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Match += o.Match
	c.Diff += o.Diff
	c.CandidateError += o.CandidateError
	c.Dropped += o.Dropped
	c.TooLarge += o.TooLarge
	c.Noisy += o.Noisy
}

// Rollup is the aggregate of one org × route × hour.
type Rollup struct {
	OrgID string    `json:"org_id"`
	Route string    `json:"route"`
	Hour  time.Time `json:"hour"`
	Counts
	// LegacyLatency and NewLatency are the latencies of each backend's full
	// answer, whichever was serving.
	LegacyLatency Histogram `json:"legacy_latency"`
	NewLatency    Histogram `json:"new_latency"`
}

// Summary is the aggregate of one org × route over a period.
type Summary struct {
	OrgID string `json:"org_id"`
	Route string `json:"route"`
	Counts
	LegacyLatency Histogram `json:"legacy_latency"`
	NewLatency    Histogram `json:"new_latency"`
	// FirstHour and LastHour bound the rollups that were summed.
	FirstHour time.Time `json:"first_hour"`
	LastHour  time.Time `json:"last_hour"`
}

// RollupFilter selects rollups. Empty fields do not filter. An hour is in
// [Since, Until) when its start is: Since is rounded down to its hour, so
// "since 10:30" includes the 10:00 rollup.
type RollupFilter struct {
	OrgID string
	Route string
	Since time.Time
	Until time.Time
}

// ClassStatus is the triage state of a diff class.
type ClassStatus string

// The class statuses.
const (
	StatusOpen         ClassStatus = "open"
	StatusAcknowledged ClassStatus = "acknowledged"
)

// Class is a diff class: every diff with the same fingerprint.
type Class struct {
	Fingerprint string     `json:"fingerprint"`
	Route       string     `json:"route"`
	Pattern     []PathKind `json:"pattern"`
	// Count is the number of diffs in the filter's period and org (for
	// Class: every retained hour); Total is every diff of the class since
	// it was first seen, retention notwithstanding.
	Count     int64       `json:"count"`
	Total     int64       `json:"total"`
	FirstSeen time.Time   `json:"first_seen"`
	LastSeen  time.Time   `json:"last_seen"`
	Orgs      []OrgCount  `json:"orgs"`
	Status    ClassStatus `json:"status"`
	AckNote   string      `json:"ack_note,omitempty"`
	AckBy     string      `json:"ack_by,omitempty"`
	AckAt     time.Time   `json:"ack_at,omitzero"`
}

// OrgCount is one org affected by a class.
type OrgCount struct {
	OrgID string `json:"org_id"`
	Count int64  `json:"count"`
}

// ClassDetail is a class with its evidence.
type ClassDetail struct {
	Class
	Exemplars []Exemplar  `json:"exemplars"`
	Noise     []NoisePath `json:"noise"`
}

// ClassFilter selects classes. Empty fields do not filter; Limit 0 means no
// limit.
type ClassFilter struct {
	OrgID  string
	Route  string
	Status ClassStatus
	Since  time.Time
	Until  time.Time
	Limit  int
}

// Ack is an acknowledgement of a class.
type Ack struct {
	Note string
	By   string
	At   time.Time
}

// Deleted counts what DeleteBefore removed.
type Deleted struct {
	Rollups    int64 `json:"rollups"`
	ClassHours int64 `json:"class_hours"`
	Classes    int64 `json:"classes"`
	Exemplars  int64 `json:"exemplars"`
	Noise      int64 `json:"noise"`
}

// Batch is what the recorder writes in one go, already aggregated: at most
// one entry per rollup key, class, class-org-hour and noise path.
type Batch struct {
	Rollups   []Rollup
	Classes   []ClassDelta
	Exemplars []Exemplar
	Noise     []NoisePath
}

// Empty reports whether the batch has nothing to write.
func (b *Batch) Empty() bool {
	return len(b.Rollups) == 0 && len(b.Classes) == 0 && len(b.Exemplars) == 0 && len(b.Noise) == 0
}

// ClassDelta is what one batch adds to a class.
type ClassDelta struct {
	Fingerprint string
	Route       string
	Pattern     []PathKind
	Count       int64
	FirstSeen   time.Time
	LastSeen    time.Time
	// Hours are the counts per org × hour.
	Hours []ClassHour
}

// ClassHour is a class's count for one org and hour.
type ClassHour struct {
	OrgID string
	Hour  time.Time
	Count int64
}

// hourOf truncates to the UTC hour.
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// dayOf truncates to the UTC day.
func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func unixHour(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

package shadow

import (
	"encoding/json"
	"time"
)

// Outcome classifies one comparison.
type Outcome string

// The outcomes of a comparison. Every sampled exchange ends as exactly one of
// them, so a report's denominator counts them all: shedding load (dropped) or
// a failing candidate can never inflate a match rate.
const (
	// OutcomeMatch: both backends answered alike (after rules and noise).
	OutcomeMatch Outcome = "match"
	// OutcomeDiff: the answers differ; the result carries a fingerprint.
	OutcomeDiff Outcome = "diff"
	// OutcomeCandidateError: the shadow copy failed (connection refused or
	// reset, timeout, an answer over max_body_bytes, or a 5xx where the
	// serving answer was not a 5xx).
	OutcomeCandidateError Outcome = "candidate_error"
	// OutcomeDropped: the exchange was sampled but never compared (queue
	// full, byte budget exhausted, body over max_body_bytes, body not fully
	// seen, shutting down).
	OutcomeDropped Outcome = "dropped"
)

// Outcomes lists every outcome, in report order.
var Outcomes = [...]Outcome{OutcomeMatch, OutcomeDiff, OutcomeCandidateError, OutcomeDropped}

// Reason says why a comparison was dropped or why the candidate failed. The
// set is closed so it can be a metric label.
type Reason string

// Reasons for OutcomeDropped.
const (
	ReasonQueueFull  Reason = "queue_full"  // the bounded queue was full
	ReasonMemory     Reason = "memory"      // the queued-bytes budget was exhausted
	ReasonTooLarge   Reason = "too_large"   // a body exceeded max_body_bytes (or its decoded cap)
	ReasonIncomplete Reason = "incomplete"  // a body was not seen to its end (client gone, backend stopped reading)
	ReasonUpgrade    Reason = "upgrade"     // a protocol upgrade (WebSocket) cannot be replayed
	ReasonFallback   Reason = "fallback"    // the serving backend changed mid-request (canary fell back to legacy)
	ReasonShutdown   Reason = "shutdown"    // the engine stopped before the comparison ran
	ReasonNotServed  Reason = "not_served"  // the serving backend never answered (proxy error)
	ReasonNoBackend  Reason = "no_backend"  // the shadow backend is not configured
	ReasonInvalid    Reason = "invalid"     // the comparison could not be built into a request
	ReasonKillSwitch Reason = "kill_switch" // the kill switch was flipped while it was queued
)

// Reasons for OutcomeCandidateError.
const (
	ReasonConnect   Reason = "connect"    // dial failed or refused
	ReasonTimeout   Reason = "timeout"    // shadow.timeout elapsed
	ReasonReset     Reason = "reset"      // the connection broke while reading
	ReasonStatus5xx Reason = "status_5xx" // the candidate answered 5xx, the serving backend did not
	ReasonTransport Reason = "transport"  // any other transport error
)

// Kind is the kind of one difference.
type Kind string

// The kinds of difference.
const (
	// KindChanged: same type, different value.
	KindChanged Kind = "changed"
	// KindAdded: present in the candidate (new) only.
	KindAdded Kind = "added"
	// KindRemoved: present in the primary (legacy) only.
	KindRemoved Kind = "removed"
	// KindType: the JSON types differ (null vs string, object vs array ...),
	// or one body is JSON and the other is not.
	KindType Kind = "type"
)

// Difference is one place where the two answers differ.
//
// Path is "status", "header:<Canonical-Name>", "body" (a non-JSON body, or a
// JSON body against a non-JSON one) or a JSON path such as
// "$.items[3].title" ("$" is the whole body; keys that are not plain names
// are quoted: $["a.b"]).
type Difference struct {
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
	// Primary is the legacy backend's value as compact JSON, absent for
	// KindAdded. For headers it is the list of values; for status the code;
	// for a non-JSON body an object with length, sha256 and the offset of
	// the first differing byte.
	Primary json.RawMessage `json:"primary,omitempty"`
	// Candidate is the new backend's value, absent for KindRemoved.
	Candidate json.RawMessage `json:"candidate,omitempty"`
	// Truncated: a value longer than the display limit was replaced by a
	// JSON string holding its prefix.
	Truncated bool `json:"truncated,omitempty"`
}

// PathKind is a (normalised path, kind) pair: the unit of a fingerprint.
// Array indices are normalised to [*] so the same difference in another
// element falls into the same class.
type PathKind struct {
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
}

// Backend names one of the two upstreams.
type Backend string

// The two upstreams.
const (
	BackendLegacy Backend = "legacy"
	BackendNew    Backend = "new"
)

// Other returns the other backend.
func (b Backend) Other() Backend {
	if b == BackendNew {
		return BackendLegacy
	}
	return BackendNew
}

// Result is the outcome of one sampled exchange, as handed to the recorder.
// It holds no pooled memory: every byte slice in it is its own.
type Result struct {
	// At is when the client's request was served; it picks the rollup hour.
	At time.Time
	// OrgID is the organization the request belonged to ("" if none).
	OrgID string
	// Route is the route group name.
	Route string
	// Serving is the backend that answered the client.
	Serving Backend
	// Outcome classifies the result; Reason refines dropped and
	// candidate_error outcomes.
	Outcome Outcome
	Reason  Reason
	// LegacyLatency and NewLatency are the full-answer latencies of each
	// backend; zero when that backend gave no answer to measure.
	LegacyLatency time.Duration
	NewLatency    time.Duration
	// Fingerprint names the diff class (OutcomeDiff only); Pattern is the
	// sorted set of normalised paths and kinds it was computed from (at most
	// MaxPattern entries are kept; the fingerprint covers all).
	Fingerprint string
	Pattern     []PathKind
	// NoiseSuppressed counts differences dropped because they were learned
	// as noise for the route.
	NoiseSuppressed int
	// Noise lists the normalised paths the noise probe saw differ between
	// two answers of the serving backend in this comparison.
	Noise []string
	// Exemplar is attached to some diffs (a few per class per day); it
	// alone carries the differences with their (redacted) values, so that
	// results waiting in the recorder stay small.
	Exemplar *Exemplar
}

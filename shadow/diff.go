package shadow

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// MaxDifferences bounds the differences kept with their values in one
// result; the fingerprint still covers every difference.
const MaxDifferences = 100

// Answer is one backend's answer as compared.
type Answer struct {
	Status int
	Header http.Header
	// Body is the body as received, still Content-Encoded.
	Body []byte
}

// Report is what Compare found.
type Report struct {
	// Differences are the first MaxDifferences differences, in order:
	// status, headers by name, then body paths.
	Differences []Difference
	// Total counts every difference that was not suppressed.
	Total int
	// Pattern is the sorted, de-duplicated set of normalised paths and
	// kinds of every counted difference: the input of the fingerprint.
	Pattern []PathKind
	// NoiseSuppressed counts differences dropped as learned noise.
	NoiseSuppressed int

	// the decoded bodies, for exemplars
	primaryBody, candidateBody []byte
}

// CompareOptions tune one comparison.
type CompareOptions struct {
	// Noise holds the normalised paths learned as noise for the route.
	Noise NoiseSet
	// DecodedLimit caps each decoded body; over it Compare fails with a
	// *BodyError wrapping ErrDecodedTooLarge. Zero means DefaultDecodedLimit.
	DecodedLimit int64
	// Redact, when set, redacts the values kept in Differences (secret
	// headers, and JSON paths through a secret field or values containing
	// one).
	Redact *Redactor
}

// DefaultDecodedLimit caps a decoded body when CompareOptions does not.
const DefaultDecodedLimit = 16 << 20

// Match reports whether nothing differed.
func (r *Report) Match() bool { return r.Total == 0 }

// Side names an answer in errors.
type Side string

// The two sides of a comparison.
const (
	SidePrimary   Side = "primary"
	SideCandidate Side = "candidate"
)

// BodyError says which side's body could not be compared.
type BodyError struct {
	Side Side
	Err  error
}

func (e *BodyError) Error() string { return fmt.Sprintf("%s body: %v", e.Side, e.Err) }
func (e *BodyError) Unwrap() error { return e.Err }

// finding is a difference before its values are encoded.
type finding struct {
	path   string
	norm   string
	kind   Kind
	pv, cv json.RawMessage
	js     *jsonDiff // JSON differences encode their values lazily
}

// Compare compares two answers under the rules. Bodies are decoded per
// Content-Encoding first; bodies whose encoding cannot be decoded are
// compared as received.
func (r *Rules) Compare(primary, candidate Answer, opt CompareOptions) (Report, error) {
	noise, decodedLimit := opt.Noise, opt.DecodedLimit
	if decodedLimit <= 0 {
		decodedLimit = DefaultDecodedLimit
	}
	var fs []finding
	var suppressed int
	add := func(f finding) {
		if noise.covers(f.norm) {
			suppressed++
			return
		}
		fs = append(fs, f)
	}

	if primary.Status != candidate.Status {
		add(finding{path: "status", norm: "status", kind: KindChanged,
			pv: json.RawMessage(strconv.Itoa(primary.Status)), cv: json.RawMessage(strconv.Itoa(candidate.Status))})
	}
	for _, f := range r.compareHeaders(primary.Header, candidate.Header) {
		add(f)
	}

	pb, err := DecodeBody(primary.Body, primary.Header.Get("Content-Encoding"), decodedLimit)
	if errors.Is(err, ErrDecodedTooLarge) {
		return Report{}, &BodyError{Side: SidePrimary, Err: err}
	} else if err != nil {
		pb = primary.Body
	}
	cb, err := DecodeBody(candidate.Body, candidate.Header.Get("Content-Encoding"), decodedLimit)
	if errors.Is(err, ErrDecodedTooLarge) {
		return Report{}, &BodyError{Side: SideCandidate, Err: err}
	} else if err != nil {
		cb = candidate.Body
	}
	if !bytes.Equal(pb, cb) {
		a, okA := decodeJSON(pb)
		b, okB := decodeJSON(cb)
		switch {
		case okA && okB:
			for _, jd := range diffValues(a, b, r) {
				if noise.coversSegments(jd.segs) {
					suppressed++
					continue
				}
				fs = append(fs, finding{norm: string(appendNormalizedPath(nil, jd.segs)), kind: jd.kind, js: &jd})
			}
		case !okA && !okB:
			add(finding{path: "body", norm: "body", kind: KindChanged,
				pv: bodySummary(pb, false, cb), cv: bodySummary(cb, false, pb)})
		default:
			add(finding{path: "body", norm: "body", kind: KindType,
				pv: bodySummary(pb, okA, cb), cv: bodySummary(cb, okB, pb)})
		}
	}

	rep := Report{Total: len(fs), NoiseSuppressed: suppressed, primaryBody: pb, candidateBody: cb}
	if len(fs) == 0 {
		return rep, nil
	}
	seen := make(map[PathKind]struct{}, len(fs))
	for i := range fs {
		pk := PathKind{Path: fs[i].norm, Kind: fs[i].kind}
		if _, ok := seen[pk]; !ok {
			seen[pk] = struct{}{}
			rep.Pattern = append(rep.Pattern, pk)
		}
		if i < MaxDifferences {
			rep.Differences = append(rep.Differences, fs[i].difference(opt.Redact))
		}
	}
	sortPattern(rep.Pattern)
	return rep, nil
}

func (f *finding) difference(red *Redactor) Difference {
	if f.js != nil {
		return f.js.redactedDifference(red)
	}
	d := Difference{Path: f.path, Kind: f.kind, Primary: f.pv, Candidate: f.cv}
	if name, ok := strings.CutPrefix(f.path, "header:"); ok && red.header(name) {
		d.Primary, d.Candidate = redactedRaw(d.Primary), redactedRaw(d.Candidate)
	}
	return d
}

// redactedRaw replaces a present value by the redaction marker.
func redactedRaw(v json.RawMessage) json.RawMessage {
	if v == nil {
		return nil
	}
	return json.RawMessage(`"` + Redacted + `"`)
}

// sortPattern orders a pattern by path, then kind.
func sortPattern(p []PathKind) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].Path != p[j].Path {
			return p[i].Path < p[j].Path
		}
		return p[i].Kind < p[j].Kind
	})
}

// compareHeaders compares header values by canonical name, in name order.
func (r *Rules) compareHeaders(a, b http.Header) []finding {
	a, b = canonicalHeader(a), canonicalHeader(b)
	var names []string
	for k := range a {
		if !r.headerIgnored(k) && !equalValues(a[k], b[k]) {
			names = append(names, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && !r.headerIgnored(k) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	out := make([]finding, 0, len(names))
	for _, k := range names {
		av, inA := a[k]
		bv, inB := b[k]
		f := finding{path: "header:" + k, kind: KindChanged}
		f.norm = f.path
		switch {
		case !inA:
			f.kind = KindAdded
		case !inB:
			f.kind = KindRemoved
		}
		if inA {
			f.pv = mustJSON(av)
		}
		if inB {
			f.cv = mustJSON(bv)
		}
		out = append(out, f)
	}
	return out
}

// canonicalHeader returns h with canonical keys, merging values of keys that
// only differ in case. net/http already canonicalises parsed headers, so
// this copies only hand-built ones.
func canonicalHeader(h http.Header) http.Header {
	canonical := true
	for k := range h {
		if http.CanonicalHeaderKey(k) != k {
			canonical = false
			break
		}
	}
	if canonical {
		return h
	}
	out := make(http.Header, len(h))
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic merge order
	for _, k := range keys {
		ck := http.CanonicalHeaderKey(k)
		out[ck] = append(out[ck], h[k]...)
	}
	return out
}

func equalValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	raw, _ := truncateValue(b)
	return raw
}

// bodySummary describes a body that is not compared structurally: its
// length, sha256 and the offset of the first byte that differs from other.
func bodySummary(b []byte, isJSON bool, other []byte) json.RawMessage {
	sum := sha256.Sum256(b)
	first := 0
	for first < len(b) && first < len(other) && b[first] == other[first] {
		first++
	}
	typ := "bytes"
	if isJSON {
		typ = "json"
	}
	return mustJSON(struct {
		Type            string `json:"type"`
		Length          int    `json:"length"`
		SHA256          string `json:"sha256"`
		FirstDifference int    `json:"first_difference_at"`
	}{typ, len(b), hex.EncodeToString(sum[:]), first})
}

package shadow

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"unicode/utf8"
)

// ErrNotJSON is returned by DiffJSON when a body is not one valid JSON value.
var ErrNotJSON = errors.New("not a JSON document")

// jsonType is the JSON type of a decoded value.
type jsonType uint8

const (
	typeNull jsonType = iota
	typeBool
	typeNumber
	typeString
	typeArray
	typeObject
)

func (t jsonType) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[t]
}

func typeOf(v any) jsonType {
	switch v.(type) {
	case nil:
		return typeNull
	case bool:
		return typeBool
	case json.Number:
		return typeNumber
	case string:
		return typeString
	case []any:
		return typeArray
	default:
		return typeObject
	}
}

// decodeJSON decodes exactly one JSON value (numbers kept as their literal).
// Invalid UTF-8 is refused rather than silently replaced, so two bodies that
// differ only in invalid bytes are not called equal.
func decodeJSON(b []byte) (any, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || !utf8.Valid(b) {
		return nil, false
	}
	switch b[0] {
	case '{', '[', '"', 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return nil, false
	}
	return parseJSON(b)
}

// jsonDiff is one structural difference before formatting.
type jsonDiff struct {
	segs []segment
	kind Kind
	a, b any // a is absent for added, b for removed (see hasA/hasB)
	hasA bool
	hasB bool
}

// differ walks two decoded documents.
type differ struct {
	rules *Rules
	path  []segment
	out   []jsonDiff
	// scratch buffers for canonical encodings of unordered arrays
	canon []byte
}

// DiffJSON compares two JSON documents structurally under rules (nil: no
// rules) and returns every difference, sorted by path, with values. It
// returns ErrNotJSON when either side is not a single valid JSON value.
func DiffJSON(primary, candidate []byte, rules *Rules) ([]Difference, error) {
	a, ok := decodeJSON(primary)
	if !ok {
		return nil, ErrNotJSON
	}
	b, ok := decodeJSON(candidate)
	if !ok {
		return nil, ErrNotJSON
	}
	raw := diffValues(a, b, rules)
	out := make([]Difference, len(raw))
	for i := range raw {
		out[i] = raw[i].difference()
	}
	return out, nil
}

// diffValues compares two decoded documents; the result is sorted by path.
func diffValues(a, b any, rules *Rules) []jsonDiff {
	if rules == nil {
		rules = &Rules{}
	}
	d := differ{rules: rules, path: make([]segment, 0, 16)}
	d.walk(a, b)
	sort.SliceStable(d.out, func(i, j int) bool { return lessSegments(d.out[i].segs, d.out[j].segs) })
	return d.out
}

func (d *differ) emit(kind Kind, a, b any, hasA, hasB bool) {
	segs := make([]segment, len(d.path))
	copy(segs, d.path)
	d.out = append(d.out, jsonDiff{segs: segs, kind: kind, a: a, b: b, hasA: hasA, hasB: hasB})
}

func (d *differ) walk(a, b any) {
	if len(d.rules.ignore) > 0 && d.rules.ignored(d.path) {
		return
	}
	ta, tb := typeOf(a), typeOf(b)
	if ta != tb {
		d.emit(KindType, a, b, true, true)
		return
	}
	switch ta {
	case typeNull:
	case typeBool:
		if a.(bool) != b.(bool) {
			d.emit(KindChanged, a, b, true, true)
		}
	case typeString:
		if a.(string) != b.(string) {
			d.emit(KindChanged, a, b, true, true)
		}
	case typeNumber:
		if !numbersEqual(string(a.(json.Number)), string(b.(json.Number))) {
			d.emit(KindChanged, a, b, true, true)
		}
	case typeArray:
		aa, ba := a.([]any), b.([]any)
		if len(d.rules.unordered) > 0 && d.rules.isUnordered(d.path) {
			d.walkUnordered(aa, ba)
			return
		}
		if len(aa) != len(ba) {
			d.walkAligned(aa, ba)
			return
		}
		for i := range aa {
			d.path = append(d.path, segment{kind: segIndex, index: i})
			d.walk(aa[i], ba[i])
			d.path = d.path[:len(d.path)-1]
		}
	case typeObject:
		ao, bo := a.(map[string]any), b.(map[string]any)
		for k, av := range ao {
			bv, ok := bo[k]
			d.path = append(d.path, segment{kind: segKey, key: k})
			if ok {
				d.walk(av, bv)
			} else if len(d.rules.ignore) == 0 || !d.rules.ignored(d.path) {
				d.emit(KindRemoved, av, nil, true, false)
			}
			d.path = d.path[:len(d.path)-1]
		}
		for k, bv := range bo {
			if _, ok := ao[k]; ok {
				continue
			}
			d.child(segment{kind: segKey, key: k}, func() { d.emit(KindAdded, nil, bv, false, true) })
		}
	}
}

// child runs f with seg pushed on the path, unless an ignore rule matches.
func (d *differ) child(seg segment, f func()) {
	d.path = append(d.path, seg)
	if len(d.rules.ignore) == 0 || !d.rules.ignored(d.path) {
		f()
	}
	d.path = d.path[:len(d.path)-1]
}

// walkUnordered compares two arrays as multisets: each element is reduced to
// its canonical encoding (sorted keys, exact numbers, ignored paths left
// out) and elements are matched by encoding. Unmatched primary elements are
// reported removed at their index, unmatched candidate elements added at
// theirs.
func (d *differ) walkUnordered(aa, ba []any) {
	// Primary indices by encoding, in index order: a candidate element
	// consumes the first unmatched primary element with its encoding.
	byKey := make(map[string][]int, len(aa))
	for i, v := range aa {
		k := d.canonicalAt(i, v)
		byKey[k] = append(byKey[k], i)
	}
	matchedA := make([]bool, len(aa))
	matchedB := make([]bool, len(ba))
	for j, v := range ba {
		k := d.canonicalAt(j, v)
		if idx := byKey[k]; len(idx) > 0 {
			matchedA[idx[0]] = true
			matchedB[j] = true
			byKey[k] = idx[1:]
		}
	}
	for i, v := range aa {
		if !matchedA[i] {
			d.child(segment{kind: segIndex, index: i}, func() { d.emit(KindRemoved, v, nil, true, false) })
		}
	}
	for j, v := range ba {
		if !matchedB[j] {
			d.child(segment{kind: segIndex, index: j}, func() { d.emit(KindAdded, nil, v, false, true) })
		}
	}
}

// canonicalAt encodes element i of the array at the current path.
func (d *differ) canonicalAt(i int, v any) string {
	d.path = append(d.path, segment{kind: segIndex, index: i})
	d.canon = d.appendCanonical(d.canon[:0], v)
	d.path = d.path[:len(d.path)-1]
	return string(d.canon)
}

// appendCanonical writes v with sorted keys and canonical numbers, leaving
// out subtrees matched by ignore rules (an ignored element encodes as a
// marker so that it still counts as one element).
func (d *differ) appendCanonical(dst []byte, v any) []byte {
	if len(d.rules.ignore) > 0 && d.rules.ignored(d.path) {
		return append(dst, '~')
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		if x {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case json.Number:
		c, ok := canonicalNumber(string(x))
		if !ok {
			c = string(x)
		}
		dst = append(dst, '#')
		return append(dst, c...)
	case string:
		return appendQuoted(dst, x)
	case []any:
		dst = append(dst, '[')
		if len(d.rules.unordered) > 0 && d.rules.isUnordered(d.path) {
			return d.appendUnorderedCanonical(dst, x)
		}
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			d.path = append(d.path, segment{kind: segIndex, index: i})
			dst = d.appendCanonical(dst, e)
			d.path = d.path[:len(d.path)-1]
		}
		return append(dst, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		first := true
		for _, k := range keys {
			d.path = append(d.path, segment{kind: segKey, key: k})
			if len(d.rules.ignore) > 0 && d.rules.ignored(d.path) {
				d.path = d.path[:len(d.path)-1]
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendQuoted(dst, k)
			dst = append(dst, ':')
			dst = d.appendCanonical(dst, x[k])
			d.path = d.path[:len(d.path)-1]
		}
		return append(dst, '}')
	}
	return dst
}

// appendUnorderedCanonical encodes an unordered array (dst ends with "[")
// with its elements' encodings sorted, so element order does not matter.
func (d *differ) appendUnorderedCanonical(dst []byte, x []any) []byte {
	encs := make([]string, len(x))
	for i, e := range x {
		d.path = append(d.path, segment{kind: segIndex, index: i})
		encs[i] = string(d.appendCanonical(nil, e))
		d.path = d.path[:len(d.path)-1]
	}
	sort.Strings(encs)
	for i, e := range encs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
	}
	return append(dst, ']')
}

// lessSegments orders paths segment by segment, indices numerically, so
// "$.a[2]" sorts before "$.a[10]".
func lessSegments(a, b []segment) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x.kind != y.kind {
			return x.kind < y.kind
		}
		switch x.kind {
		case segKey:
			if x.key != y.key {
				return x.key < y.key
			}
		case segIndex:
			if x.index != y.index {
				return x.index < y.index
			}
		}
	}
	return len(a) < len(b)
}

// maxValueBytes bounds the encoding of one value in a Difference; longer
// values are replaced by a JSON string holding their prefix.
const maxValueBytes = 1024

// difference formats a jsonDiff with its values.
func (j jsonDiff) difference() Difference { return j.redactedDifference(nil) }

// redactedDifference formats a jsonDiff with its values redacted: a path
// through a secret field hides both values; other values have their secret
// fields replaced before they are encoded (and truncated).
func (j jsonDiff) redactedDifference(red *Redactor) Difference {
	d := Difference{Path: string(appendPath(nil, j.segs)), Kind: j.kind}
	secret := red.pathSecret(j.segs)
	var ta, tb bool
	if j.hasA {
		if secret {
			d.Primary = redactedRaw(json.RawMessage("null"))
		} else {
			d.Primary, ta = encodeValue(red.redactValue(j.a))
		}
	}
	if j.hasB {
		if secret {
			d.Candidate = redactedRaw(json.RawMessage("null"))
		} else {
			d.Candidate, tb = encodeValue(red.redactValue(j.b))
		}
	}
	d.Truncated = ta || tb
	return d
}

// encodeValue encodes a decoded value compactly (keys sorted, numbers as
// written, no HTML escaping), truncating long encodings.
func encodeValue(v any) (json.RawMessage, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage(`null`), false
	}
	out := bytes.TrimRight(buf.Bytes(), "\n")
	return truncateValue(out)
}

// truncateValue keeps a JSON encoding up to maxValueBytes, else replaces it
// by a JSON string of its valid-UTF-8 prefix followed by "…".
func truncateValue(enc []byte) (json.RawMessage, bool) {
	if len(enc) <= maxValueBytes {
		return json.RawMessage(bytes.Clone(enc)), false
	}
	cut := maxValueBytes
	for cut > 0 && !utf8.RuneStart(enc[cut]) {
		cut--
	}
	s, _ := json.Marshal(string(enc[:cut]) + "…")
	return json.RawMessage(s), true
}

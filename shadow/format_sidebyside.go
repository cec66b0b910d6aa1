package shadow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// A side-by-side view of two JSON bodies, aligned by path rather than by
// line: each row is one member or element present in either body, the
// legacy (primary) rendering on the left and the new (candidate) one on
// the right, marked where the engine recorded a difference:
//
//	!  changed (or changed type)     -  removed: legacy only
//	+  added: new only               ~  differs, but ignored (ignore rule,
//	                                    learned noise or unordered array)

// Marks of side-by-side rows.
const (
	markSame    = ' '
	markChanged = '!'
	markAdded   = '+'
	markRemoved = '-'
	markIgnored = '~'
)

type sbsRow struct {
	mark        byte
	left, right string
}

// jnode is a JSON value that keeps its object members in document order.
type jnode struct {
	kind   byte // 'o' object, 'a' array, 's' scalar
	keys   []string
	vals   []*jnode
	scalar string // the value as compact JSON
}

// maxSideBySideDepth bounds the nesting the view renders structurally;
// deeper bodies are shown as text.
const maxSideBySideDepth = 64

var errTooDeep = errors.New("too deep")

// parseOrdered parses one JSON document keeping member order.
func parseOrdered(b []byte) (*jnode, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := decodeNode(dec, 0)
	if err != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return n, true
}

func decodeNode(dec *json.Decoder, depth int) (*jnode, error) {
	if depth > maxSideBySideDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &jnode{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &jnode{kind: 'a'}
			for dec.More() {
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		}
		return nil, errors.New("unexpected delimiter")
	case nil:
		return &jnode{kind: 's', scalar: "null"}, nil
	default:
		return &jnode{kind: 's', scalar: compactScalar(t)}, nil
	}
}

func compactScalar(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "?"
	}
	return strings.TrimRight(buf.String(), "\n")
}

func (n *jnode) member(key string) *jnode {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// equal reports whether two nodes are the same JSON value (member order
// aside).
func (n *jnode) equal(o *jnode) bool {
	if n == nil || o == nil {
		return n == o
	}
	if n.kind != o.kind || len(n.vals) != len(o.vals) {
		return false
	}
	switch n.kind {
	case 's':
		return n.scalar == o.scalar
	case 'a':
		for i := range n.vals {
			if !n.vals[i].equal(o.vals[i]) {
				return false
			}
		}
		return true
	}
	for i, k := range n.keys {
		if !n.vals[i].equal(o.member(k)) {
			return false
		}
	}
	return true
}

// sideBySide aligns two JSON documents; marks maps a concrete difference
// path ("$.items[3].title") to its kind.
type sideBySide struct {
	marks map[string]Kind
	rows  []sbsRow
}

func markOf(k Kind) byte {
	switch k {
	case KindAdded:
		return markAdded
	case KindRemoved:
		return markRemoved
	}
	return markChanged
}

// walk renders the member or element at segs; label is `"key": ` or "".
// inherited is the mark of an ancestor that differs as a whole.
func (s *sideBySide) walk(segs []segment, label string, a, b *jnode, depth int, inherited byte) {
	mark := inherited
	if k, ok := s.marks[string(appendPath(nil, segs))]; ok {
		mark = markOf(k)
	}
	indent := strings.Repeat("  ", depth)
	if a != nil && b != nil && a.kind == b.kind && a.kind != 's' {
		open, closing := "{", "}"
		if a.kind == 'a' {
			open, closing = "[", "]"
		}
		s.rows = append(s.rows, sbsRow{mark, indent + label + open, indent + label + open})
		child := append(segs[:len(segs):len(segs)], segment{})
		if a.kind == 'o' {
			for i, k := range a.keys {
				child[len(segs)] = segment{kind: segKey, key: k}
				s.walk(child, compactScalar(k)+": ", a.vals[i], b.member(k), depth+1, mark)
			}
			for i, k := range b.keys {
				if a.member(k) == nil {
					child[len(segs)] = segment{kind: segKey, key: k}
					s.walk(child, compactScalar(k)+": ", nil, b.vals[i], depth+1, mark)
				}
			}
		} else {
			for i := range max(len(a.vals), len(b.vals)) {
				child[len(segs)] = segment{kind: segIndex, index: i}
				var av, bv *jnode
				if i < len(a.vals) {
					av = a.vals[i]
				}
				if i < len(b.vals) {
					bv = b.vals[i]
				}
				s.walk(child, "", av, bv, depth+1, mark)
			}
		}
		s.rows = append(s.rows, sbsRow{mark, indent + closing, indent + closing})
		return
	}
	// A leaf, a subtree on one side only, or values of different types.
	if mark == markSame && !a.equal(b) {
		mark = markIgnored
	}
	left, right := render(a, label, depth), render(b, label, depth)
	for i := range max(len(left), len(right)) {
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		s.rows = append(s.rows, sbsRow{mark, l, r})
	}
}

// render lays a subtree out as indented lines.
func render(n *jnode, label string, depth int) []string {
	if n == nil {
		return nil
	}
	indent := strings.Repeat("  ", depth)
	switch n.kind {
	case 's':
		return []string{indent + label + n.scalar}
	case 'o':
		if len(n.keys) == 0 {
			return []string{indent + label + "{}"}
		}
		out := []string{indent + label + "{"}
		for i, k := range n.keys {
			out = append(out, render(n.vals[i], compactScalar(k)+": ", depth+1)...)
		}
		return append(out, indent+"}")
	}
	if len(n.vals) == 0 {
		return []string{indent + label + "[]"}
	}
	out := []string{indent + label + "["}
	for _, v := range n.vals {
		out = append(out, render(v, "", depth+1)...)
	}
	return append(out, indent+"]")
}

// bodyRows aligns two exemplar bodies: structurally when both are JSON,
// line by line otherwise.
func bodyRows(primary, candidate Body, diffs []Difference) []sbsRow {
	marks := make(map[string]Kind, len(diffs))
	for _, d := range diffs {
		marks[d.Path] = d.Kind
	}
	if !primary.Base64 && !candidate.Base64 && !primary.Truncated && !candidate.Truncated {
		a, okA := parseOrdered([]byte(primary.Text))
		b, okB := parseOrdered([]byte(candidate.Text))
		if okA && okB {
			s := &sideBySide{marks: marks}
			s.walk(nil, "", a, b, 0, markSame)
			return s.rows
		}
	}
	left, right := textLines(primary), textLines(candidate)
	bodyMark := byte(markSame)
	if k, ok := marks["body"]; ok {
		bodyMark = markOf(k)
	}
	rows := make([]sbsRow, 0, max(len(left), len(right)))
	for i := range max(len(left), len(right)) {
		var l, r string
		hasL, hasR := i < len(left), i < len(right)
		if hasL {
			l = left[i]
		}
		if hasR {
			r = right[i]
		}
		m := byte(markSame)
		if !hasL || !hasR || l != r {
			m = bodyMark
			if m == markSame {
				m = markIgnored
			}
		}
		rows = append(rows, sbsRow{m, l, r})
	}
	return rows
}

// textLines splits a body for display, with control characters made
// visible (a body must not drive the terminal).
func textLines(b Body) []string {
	if b.Length == 0 && b.Text == "" {
		return nil
	}
	if b.Base64 {
		raw, err := base64.StdEncoding.DecodeString(b.Text)
		n := len(raw)
		if err != nil {
			n = b.Length
		}
		return []string{"(binary body, " + count(int64(max(n, b.Length))) + " bytes)"}
	}
	lines := strings.Split(strings.TrimRight(b.Text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = visible(strings.TrimRight(l, "\r"))
	}
	if b.Truncated {
		lines = append(lines, "… (truncated; "+count(int64(b.Length))+" bytes in all)")
	}
	return lines
}

// visible replaces control characters by escapes and tabs by two spaces.
func visible(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			sb.WriteString("  ")
		case isControl(r):
			sb.WriteString(`\u`)
			const hex = "0123456789abcdef"
			sb.WriteByte(hex[r>>12&0xf])
			sb.WriteByte(hex[r>>8&0xf])
			sb.WriteByte(hex[r>>4&0xf])
			sb.WriteByte(hex[r&0xf])
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == utf8.RuneError || r == 0x2028 || r == 0x2029
}

// headerRows lists the headers whose values differ (marked), in name order,
// and how many are the same.
func headerRows(a, b map[string][]string, diffs []Difference) (rows []sbsRow, same int) {
	marks := make(map[string]Kind)
	for _, d := range diffs {
		if name, ok := strings.CutPrefix(d.Path, "header:"); ok {
			marks[name] = d.Kind
		}
	}
	names := make(map[string]bool)
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, name := range sorted {
		av, inA := a[name]
		bv, inB := b[name]
		k, marked := marks[name]
		if !marked && inA == inB && equalValues(av, bv) {
			same++
			continue
		}
		m := byte(markIgnored)
		if marked {
			m = markOf(k)
		}
		var l, r string
		if inA {
			l = visible(name + ": " + strings.Join(av, ", "))
		}
		if inB {
			r = visible(name + ": " + strings.Join(bv, ", "))
		}
		rows = append(rows, sbsRow{m, l, r})
	}
	return rows, same
}

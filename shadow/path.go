package shadow

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// segKind is the kind of one path segment.
type segKind uint8

const (
	segKey        segKind = iota // .name or ["name"]
	segIndex                     // [3]
	segWildcard                  // [*] or .* — any one key or index (patterns only)
	segDescendant                // .. — zero or more segments (patterns only)
)

// segment is one step of a JSON path.
type segment struct {
	kind  segKind
	key   string
	index int
}

// maxPathLen bounds a path rule; a rule longer than this is a mistake.
const maxPathLen = 4096

// maxIndex bounds array indices in rules; JSON arrays longer than this do not
// fit in max_body_bytes anyway.
const maxIndex = 1 << 30

// Errors of the path rule parser.
var (
	// ErrInvalidPath is wrapped by every path rule syntax error.
	ErrInvalidPath = errors.New("invalid path")
)

// ParsePath parses a path rule: "$" followed by segments ".name", "[3]",
// "[*]" / ".*" (any one key or index), "..name" / "..[*]" (at any depth),
// `["any key"]` or `['any key']`. Names follow RFC 9535's shorthand
// (letters, digits, "_", non-ASCII; not starting with a digit) and also
// accept "-" for convenience; any other key must be quoted.
func ParsePath(s string) (Pattern, error) {
	segs, err := parseSegments(strings.TrimSpace(s))
	if err != nil {
		return Pattern{}, fmt.Errorf("%w %q: %w", ErrInvalidPath, s, err)
	}
	return Pattern{segs: segs}, nil
}

// Pattern is a parsed path rule.
type Pattern struct {
	segs []segment
}

// String formats the pattern canonically; ParsePath(p.String()) == p.
func (p Pattern) String() string { return string(appendPath(nil, p.segs)) }

func parseSegments(s string) ([]segment, error) {
	if len(s) > maxPathLen {
		return nil, fmt.Errorf("longer than %d bytes", maxPathLen)
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	if s == "" || s[0] != '$' {
		return nil, errors.New(`must start with "$"`)
	}
	var segs []segment
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			if i+1 < len(s) && s[i+1] == '.' {
				i += 2
				segs = append(segs, segment{kind: segDescendant})
				if i >= len(s) {
					return nil, errors.New(`".." must be followed by a name, "*" or a bracket`)
				}
				if s[i] == '[' {
					continue // the bracket is parsed next round
				}
				seg, n, err := parseDotted(s[i:])
				if err != nil {
					return nil, fmt.Errorf("at offset %d: %w", i, err)
				}
				segs = append(segs, seg)
				i += n
				continue
			}
			i++
			seg, n, err := parseDotted(s[i:])
			if err != nil {
				return nil, fmt.Errorf("at offset %d: %w", i, err)
			}
			segs = append(segs, seg)
			i += n
		case '[':
			seg, n, err := parseBracket(s[i:])
			if err != nil {
				return nil, fmt.Errorf("at offset %d: %w", i, err)
			}
			segs = append(segs, seg)
			i += n
		default:
			return nil, fmt.Errorf("at offset %d: unexpected %q (expected \".\" or \"[\")", i, s[i])
		}
	}
	return segs, nil
}

// parseDotted parses what follows a "." or "..": "*" or a name.
func parseDotted(s string) (segment, int, error) {
	if s == "" {
		return segment{}, 0, errors.New(`"." must be followed by a name or "*"`)
	}
	if s[0] == '*' {
		return segment{kind: segWildcard}, 1, nil
	}
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !isNameRune(r, n == 0) && !(n > 0 && r == '-') {
			break
		}
		n += size
	}
	if n == 0 {
		return segment{}, 0, fmt.Errorf("expected a name, got %q (quote other keys: [\"...\"])", s[0])
	}
	return segment{kind: segKey, key: s[:n]}, n, nil
}

// parseBracket parses "[*]", "[12]", `["key"]` or `['key']`.
func parseBracket(s string) (segment, int, error) {
	// s[0] == '['
	if len(s) < 3 {
		return segment{}, 0, errors.New("unterminated bracket")
	}
	switch c := s[1]; {
	case c == '*':
		if s[2] != ']' {
			return segment{}, 0, errors.New(`expected "]" after "[*"`)
		}
		return segment{kind: segWildcard}, 3, nil
	case c >= '0' && c <= '9':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return segment{}, 0, errors.New("unterminated bracket")
		}
		digits := s[1:end]
		if len(digits) > 1 && digits[0] == '0' {
			return segment{}, 0, fmt.Errorf("index %q has a leading zero", digits)
		}
		for _, d := range []byte(digits) {
			if d < '0' || d > '9' {
				return segment{}, 0, fmt.Errorf("index %q is not a non-negative integer", digits)
			}
		}
		v, err := strconv.Atoi(digits)
		if err != nil || v > maxIndex {
			return segment{}, 0, fmt.Errorf("index %q is too large", digits)
		}
		return segment{kind: segIndex, index: v}, end + 1, nil
	case c == '"':
		end := closingQuote(s, 2, '"')
		if end < 0 || end+1 >= len(s) || s[end+1] != ']' {
			return segment{}, 0, errors.New(`unterminated quoted key (expected "...\"]")`)
		}
		var key string
		if err := json.Unmarshal([]byte(s[1:end+1]), &key); err != nil {
			return segment{}, 0, fmt.Errorf("quoted key: %w", err)
		}
		return segment{kind: segKey, key: key}, end + 2, nil
	case c == '\'':
		end := closingQuote(s, 2, '\'')
		if end < 0 || end+1 >= len(s) || s[end+1] != ']' {
			return segment{}, 0, errors.New(`unterminated quoted key (expected "...']")`)
		}
		key, err := unquoteSingle(s[2:end])
		if err != nil {
			return segment{}, 0, err
		}
		return segment{kind: segKey, key: key}, end + 2, nil
	case c == '-':
		return segment{}, 0, errors.New("negative indices are not supported")
	default:
		return segment{}, 0, fmt.Errorf("unexpected %q in bracket (expected *, an index or a quoted key)", c)
	}
}

// closingQuote returns the index of the quote closing a string started
// before from, honouring backslash escapes, or -1.
func closingQuote(s string, from int, q byte) int {
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i
		}
	}
	return -1
}

// unquoteSingle decodes a single-quoted key: only \' and \\ are escapes.
func unquoteSingle(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) || (s[i] != '\'' && s[i] != '\\') {
			return "", errors.New(`in a single-quoted key only \' and \\ are escapes`)
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// isNameRune reports whether r may appear in a shorthand name (RFC 9535
// name-first / name-char).
func isNameRune(r rune, first bool) bool {
	switch {
	case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		return true
	case r >= '0' && r <= '9':
		return !first
	case r >= 0x80 && r != utf8.RuneError:
		// Non-ASCII letters, but not the replacement character, which also
		// marks invalid UTF-8, and not surrogates (not valid runes anyway).
		return true
	}
	return false
}

// isName reports whether key can be written with the dot shorthand.
func isName(key string) bool {
	if key == "" {
		return false
	}
	for i, r := range key {
		if !isNameRune(r, i == 0) {
			return false
		}
	}
	return true
}

// appendPath formats segments as a path; "$" alone is the root.
func appendPath(dst []byte, segs []segment) []byte {
	dst = append(dst, '$')
	afterDescendant := false
	for _, s := range segs {
		switch s.kind {
		case segKey:
			if isName(s.key) {
				if !afterDescendant {
					dst = append(dst, '.')
				}
				dst = append(dst, s.key...)
			} else {
				dst = append(dst, '[')
				dst = appendQuoted(dst, s.key)
				dst = append(dst, ']')
			}
		case segIndex:
			dst = append(dst, '[')
			dst = strconv.AppendInt(dst, int64(s.index), 10)
			dst = append(dst, ']')
		case segWildcard:
			dst = append(dst, "[*]"...)
		case segDescendant:
			dst = append(dst, ".."...)
		}
		afterDescendant = s.kind == segDescendant
	}
	return dst
}

// appendNormalizedPath formats a concrete path with every index replaced by
// [*]: the form used in fingerprints and learned noise.
func appendNormalizedPath(dst []byte, segs []segment) []byte {
	dst = append(dst, '$')
	for _, s := range segs {
		switch s.kind {
		case segKey:
			if isName(s.key) {
				dst = append(dst, '.')
				dst = append(dst, s.key...)
			} else {
				dst = append(dst, '[')
				dst = appendQuoted(dst, s.key)
				dst = append(dst, ']')
			}
		default:
			dst = append(dst, "[*]"...)
		}
	}
	return dst
}

// appendQuoted appends key as a JSON string.
func appendQuoted(dst []byte, key string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					dst = append(dst, '\\', 'n')
				case '\r':
					dst = append(dst, '\\', 'r')
				case '\t':
					dst = append(dst, '\\', 't')
				default:
					dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
				}
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, key[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// NormalizePath rewrites a difference path with every array index replaced
// by [*] ("$.items[3].title" → "$.items[*].title"). Paths that are not JSON
// paths ("status", "header:X", "body") are returned unchanged.
func NormalizePath(path string) string {
	if !strings.HasPrefix(path, "$") {
		return path
	}
	segs, err := parseSegments(path)
	if err != nil {
		return path
	}
	return string(appendNormalizedPath(nil, segs))
}

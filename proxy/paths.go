package proxy

import (
	"errors"
	"path"
	"strings"

	"github.com/7cycles-ai/strangler/internal/requri"
)

// Path interpretations.
//
// The route table decides auth policy, permission and backend, so a path
// that the proxy classifies one way and the upstream routes another way is
// a way around the proxy's checks. Upstreams disagree on how they read a
// path: uvicorn/Starlette decode %2F into "/", Go's ServeMux keeps it inside
// a segment; nginx and Go clean "." and ".." segments and merge "//",
// Starlette does not; Tomcat drops ";params" from segments. The proxy does
// not guess which reading the upstream uses: it computes every reading
// below, matches each against the route table, and forwards the request
// only when they all select the same route. Otherwise it answers 400
// bad_request ("ambiguous request path"). Requests whose paths hold no '%',
// ';', "//" or dot segments — nearly all real traffic — have a single
// reading and cost nothing extra.
//
// The readings, combinations of three independent choices:
//   - decode %2F into a separator, or keep it inside its segment (every
//     other %XX escape is decoded in both);
//   - resolve dot segments and merge slashes (RFC 3986 §5.2.4), or not;
//   - strip ";params" from each segment, or not.
//
// The first reading returned is the canonical one (decoded, resolved, merged,
// params kept): route parameters are taken from it.

// errInvalidEscape reports a malformed %XX escape in a path.
var errInvalidEscape = errors.New("invalid percent-encoding in path")

// maxInterpretations is the number of combinations of the three choices.
const maxInterpretations = 8

// interpretations appends to dst the distinct readings of the escaped path
// (as it appeared in the request line, without the query).
func interpretations(escaped string, dst []string) ([]string, error) {
	if !strings.HasPrefix(escaped, "/") {
		// "*" (OPTIONS *) or an authority: no route can match.
		return append(dst, escaped), nil
	}
	hasPct := strings.IndexByte(escaped, '%') >= 0
	hasSemi := strings.IndexByte(escaped, ';') >= 0
	if !hasPct && !hasSemi && !needsNormalizing(escaped) {
		return append(dst, escaped), nil
	}

	keep, err := decodePath(escaped, true)
	if err != nil {
		return dst, err
	}
	full := keep
	if hasEncodedSlash(escaped) {
		if full, err = decodePath(escaped, false); err != nil {
			return dst, err
		}
	}
	add := func(p string) {
		for _, q := range dst {
			if q == p {
				return
			}
		}
		dst = append(dst, p)
	}
	// Canonical reading first.
	add(normalize(full))
	for _, decoded := range [2]string{full, keep} {
		for strip := 0; strip < 2; strip++ {
			p := decoded
			if strip == 1 {
				if strings.IndexByte(p, ';') < 0 {
					continue
				}
				p = stripParams(p)
			}
			add(p)
			add(normalize(p))
		}
	}
	return dst, nil
}

// needsNormalizing reports whether p has an empty segment before its end
// ("//") or a "." or ".." segment.
func needsNormalizing(p string) bool {
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		end := len(p)
		if j >= 0 {
			end = i + j
		}
		seg := p[i:end]
		switch {
		case seg == "." || seg == "..":
			return true
		case seg == "" && end < len(p):
			return true
		}
		i = end + 1
	}
	return false
}

// hasEncodedSlash reports whether p contains %2F or %2f.
func hasEncodedSlash(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '%' && p[i+1] == '2' && (p[i+2] == 'F' || p[i+2] == 'f') {
			return true
		}
	}
	return false
}

// decodePath decodes %XX escapes. With keepSlash, %2F stays as the three
// characters "%2F" (normalised to upper case) so it does not become a
// separator.
func decodePath(p string, keepSlash bool) (string, error) {
	if strings.IndexByte(p, '%') < 0 {
		return p, nil
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", errInvalidEscape
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		if v == '/' && keepSlash {
			b.WriteString("%2F")
		} else {
			b.WriteByte(v)
		}
		i += 2
	}
	return b.String(), nil
}

// normalize resolves dot segments and merges slashes. A trailing slash is
// dropped: it does not change which route matches.
func normalize(p string) string {
	if !needsNormalizing(p) {
		return p
	}
	return path.Clean(p)
}

// stripParams removes ";params" from every segment: "/a;x/b;y=1" → "/a/b".
func stripParams(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	skipping := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '/':
			skipping = false
			b.WriteByte(c)
		case c == ';':
			skipping = true
		case !skipping:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// rawRequestPath returns the path of the request exactly as the client sent
// it (package requri).
func rawRequestPath(uri, escapedFallback string) string { return requri.Path(uri, escapedFallback) }

package shadow

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/7cycles-ai/strangler/config"
)

// defaultIgnoredHeaders are never compared: Date and X-Request-Id differ on
// every answer; hop-by-hop headers (RFC 9110 §7.6.1) describe one connection,
// not the answer; Content-Length is implied by the body comparison, which
// decodes Content-Encoding first (a gzip and an identity answer of the same
// document are equal bodies; their Content-Encoding still differs).
var defaultIgnoredHeaders = [...]string{
	"Date",
	"X-Request-Id",
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
	"Content-Length",
}

// Rules are one route's comparison rules, compiled once.
type Rules struct {
	ignore        []Pattern
	unordered     []Pattern
	ignoreHeaders map[string]struct{}
}

// CompileRules compiles a route's shadow rules. Every invalid rule is
// reported, with its YAML key.
func CompileRules(rs config.RouteShadow) (*Rules, error) {
	r := &Rules{ignoreHeaders: make(map[string]struct{}, len(defaultIgnoredHeaders)+len(rs.IgnoreHeaders))}
	var errs []error
	for i, s := range rs.IgnorePaths {
		p, err := ParsePath(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("ignore_paths[%d]: %w", i, err))
			continue
		}
		r.ignore = append(r.ignore, p)
	}
	for i, s := range rs.UnorderedArrays {
		p, err := ParsePath(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("unordered_arrays[%d]: %w", i, err))
			continue
		}
		r.unordered = append(r.unordered, p)
	}
	for _, h := range defaultIgnoredHeaders {
		r.ignoreHeaders[h] = struct{}{}
	}
	for i, h := range rs.IgnoreHeaders {
		if h == "" {
			errs = append(errs, fmt.Errorf("ignore_headers[%d]: empty header name", i))
			continue
		}
		r.ignoreHeaders[http.CanonicalHeaderKey(h)] = struct{}{}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// MustCompileRules is CompileRules for tests and literals.
func MustCompileRules(rs config.RouteShadow) *Rules {
	r, err := CompileRules(rs)
	if err != nil {
		panic(err)
	}
	return r
}

// headerIgnored reports whether the canonical header name is not compared.
func (r *Rules) headerIgnored(name string) bool {
	_, ok := r.ignoreHeaders[name]
	return ok
}

// ignored reports whether an ignore rule matches path exactly. The differ
// asks at every node, so a match skips the whole subtree: this is the same as
// dropping every difference whose path has a matched prefix.
func (r *Rules) ignored(path []segment) bool {
	for _, p := range r.ignore {
		if matchSegments(p.segs, path, false) {
			return true
		}
	}
	return false
}

// isUnordered reports whether the array at path is compared as a multiset.
func (r *Rules) isUnordered(path []segment) bool {
	for _, p := range r.unordered {
		if matchSegments(p.segs, path, false) {
			return true
		}
	}
	return false
}

// Matches reports whether the pattern matches the concrete path or one of
// its ancestors (ignoring "$.a" ignores "$.a.b").
func (p Pattern) Matches(path string) bool {
	segs, err := parseSegments(path)
	if err != nil {
		return false
	}
	return matchSegments(p.segs, segs, true)
}

// matchSegments matches a pattern against a concrete path; with prefix, a
// match of any ancestor of path counts.
func matchSegments(pat, path []segment, prefix bool) bool {
	for len(pat) > 0 {
		if pat[0].kind == segDescendant {
			rest := pat[1:]
			for i := 0; i <= len(path); i++ {
				if matchSegments(rest, path[i:], prefix) {
					return true
				}
			}
			return false
		}
		if len(path) == 0 || !segmentMatches(pat[0], path[0]) {
			return false
		}
		pat, path = pat[1:], path[1:]
	}
	return prefix || len(path) == 0
}

func segmentMatches(p, s segment) bool {
	switch p.kind {
	case segWildcard:
		return true
	case segKey:
		return s.kind == segKey && s.key == p.key
	case segIndex:
		return s.kind == segIndex && s.index == p.index
	}
	return false
}

package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/7cycles-ai/strangler/config"
)

// Route is one compiled entry of the route table. Hooks receive it to read
// the route's name, auth policy, permission and shadow rules.
//
// Matching rules:
//   - A path is a segment prefix: "/api/qa" matches "/api/qa",
//     "/api/qa/" and "/api/qa/stream", not "/api/qab". A trailing slash
//     in the configuration changes nothing; "/" matches every path.
//   - A "{name}" segment matches exactly one non-empty segment:
//     "/api/posts/{id}/publish" matches "/api/posts/42/publish" (and,
//     being a prefix, "/api/posts/42/publish/x").
//   - Paths are compared after percent-decoding, case-sensitively.
//   - Methods are compared exactly (methods are case-sensitive); an empty
//     list matches any method; GET also admits HEAD.
//   - The first route whose path and method match wins.
//   - Paths with several readings (see paths.go) must select the same
//     route under every reading.
type Route struct {
	// Route is the configuration entry.
	config.Route
	// Index is the position in the table, from 0.
	Index int

	patterns  []pathPattern
	methods   []string
	anyMethod bool
}

// Param is the value of one {name} segment of the matched path pattern.
type Param struct {
	Name  string
	Value string
}

// pathPattern is one compiled entry of Route.Paths.
type pathPattern struct {
	// prefix is the decoded path without a trailing slash ("" for "/"),
	// used when the pattern has no parameter.
	prefix string
	// segs is set when the pattern has parameters.
	segs []patternSeg
}

// patternSeg is a literal segment or, when param is set, a parameter.
type patternSeg struct {
	lit   string
	param string
}

// routeTable is the compiled, immutable route table; safe for concurrent use.
type routeTable struct {
	routes []*Route
}

// errAmbiguousPath rejects a path whose readings select different routes.
var errAmbiguousPath = errors.New("ambiguous request path")

// compileRoutes validates and compiles the configured routes, reporting
// every problem with its configuration path.
func compileRoutes(cfg []config.Route) (*routeTable, error) {
	if len(cfg) == 0 {
		return nil, errors.New("routes: at least one route is required (the last should catch \"/\")")
	}
	var errs []error
	t := &routeTable{routes: make([]*Route, 0, len(cfg))}
	seen := map[string]bool{}
	for i, rc := range cfg {
		at := fmt.Sprintf("routes[%d]", i)
		r := &Route{Route: rc, Index: i}
		if rc.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: required", at))
		} else if seen[rc.Name] {
			errs = append(errs, fmt.Errorf("%s.name: duplicate route name %q", at, rc.Name))
		}
		seen[rc.Name] = true
		if len(rc.Paths) == 0 {
			errs = append(errs, fmt.Errorf("%s.paths: at least one path is required", at))
		}
		for j, p := range rc.Paths {
			pat, err := compilePattern(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.paths[%d]: %w", at, j, err))
				continue
			}
			r.patterns = append(r.patterns, pat)
		}
		r.anyMethod = len(rc.Methods) == 0
		for j, m := range rc.Methods {
			if !isToken(m) {
				errs = append(errs, fmt.Errorf("%s.methods[%d]: %q is not an HTTP method", at, j, m))
				continue
			}
			// Operators write "get" in YAML; HTTP methods are
			// case-sensitive and registered upper-case.
			r.methods = append(r.methods, strings.ToUpper(m))
		}
		t.routes = append(t.routes, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// compilePattern compiles one configured path.
func compilePattern(p string) (pathPattern, error) {
	if !strings.HasPrefix(p, "/") {
		return pathPattern{}, fmt.Errorf("%q must start with /", p)
	}
	if strings.ContainsAny(p, "?#") {
		return pathPattern{}, fmt.Errorf("%q must not contain a query or fragment", p)
	}
	trimmed := strings.TrimSuffix(p, "/")
	if trimmed == "" {
		return pathPattern{}, nil
	}
	var segs []patternSeg
	hasParam := false
	names := map[string]bool{}
	for _, raw := range strings.Split(trimmed[1:], "/") {
		switch {
		case raw == "":
			return pathPattern{}, fmt.Errorf("%q has an empty segment", p)
		case strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}"):
			name := raw[1 : len(raw)-1]
			if !isParamName(name) {
				return pathPattern{}, fmt.Errorf("%q: invalid parameter name %q", p, name)
			}
			if names[name] {
				return pathPattern{}, fmt.Errorf("%q: duplicate parameter {%s}", p, name)
			}
			names[name] = true
			hasParam = true
			segs = append(segs, patternSeg{param: name})
			continue
		case strings.ContainsAny(raw, "{}"):
			return pathPattern{}, fmt.Errorf("%q: a {parameter} must be a whole segment", p)
		}
		lit, err := url.PathUnescape(raw)
		if err != nil {
			return pathPattern{}, fmt.Errorf("%q: %w", p, err)
		}
		if lit == "." || lit == ".." || strings.Contains(lit, "/") {
			return pathPattern{}, fmt.Errorf("%q: segment %q is not allowed", p, raw)
		}
		segs = append(segs, patternSeg{lit: lit})
	}
	if !hasParam {
		var b strings.Builder
		for _, s := range segs {
			b.WriteByte('/')
			b.WriteString(s.lit)
		}
		return pathPattern{prefix: b.String()}, nil
	}
	return pathPattern{segs: segs}, nil
}

// match returns the first route matching method and the escaped request
// path, and the route parameters appended to params. It returns
// errAmbiguousPath when the readings of the path disagree and
// errInvalidEscape for a malformed escape. A nil route means no match.
func (t *routeTable) match(method, escaped string, sc *matchScratch) (*Route, []Param, error) {
	cands, err := interpretations(escaped, sc.cands[:0])
	if err != nil {
		return nil, nil, err
	}
	route, params := t.matchPath(method, cands[0], sc.params[:0])
	for _, c := range cands[1:] {
		other, _ := t.matchPath(method, c, sc.spare[:0])
		if other != route {
			return nil, nil, errAmbiguousPath
		}
	}
	return route, params, nil
}

// matchScratch holds per-request buffers so matching does not allocate.
type matchScratch struct {
	cands  [maxInterpretations]string
	params [4]Param
	spare  [4]Param
}

// matchPath matches one decoded reading of the path.
func (t *routeTable) matchPath(method, p string, params []Param) (*Route, []Param) {
	if !strings.HasPrefix(p, "/") {
		return nil, params
	}
	for _, r := range t.routes {
		if !r.allowsMethod(method) {
			continue
		}
		for i := range r.patterns {
			if out, ok := r.patterns[i].match(p, params); ok {
				return r, out
			}
		}
	}
	return nil, params
}

// allowsMethod reports whether the route admits method.
func (r *Route) allowsMethod(method string) bool {
	if r.anyMethod {
		return true
	}
	for _, m := range r.methods {
		if m == method || (m == "GET" && method == "HEAD") {
			return true
		}
	}
	return false
}

// match reports whether p (decoded, starting with "/") lies under the
// pattern, appending parameters to params.
func (pp *pathPattern) match(p string, params []Param) ([]Param, bool) {
	if pp.segs == nil {
		return params, pp.prefix == "" ||
			(strings.HasPrefix(p, pp.prefix) && (len(p) == len(pp.prefix) || p[len(pp.prefix)] == '/'))
	}
	base := len(params)
	pos := 1 // after the leading "/"
	for _, s := range pp.segs {
		if pos > len(p) {
			return params[:base], false
		}
		end := strings.IndexByte(p[pos:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += pos
		}
		seg := p[pos:end]
		if s.param != "" {
			if seg == "" {
				return params[:base], false
			}
			params = append(params, Param{Name: s.param, Value: seg})
		} else if seg != s.lit {
			return params[:base], false
		}
		pos = end + 1
	}
	return params, true
}

// isParamName reports whether s is a valid {parameter} name.
func isParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 token (the grammar of a method).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

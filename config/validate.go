package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks a configuration (with defaults applied) and returns an
// *Error listing every problem with its YAML path, or nil. It does not
// modify c and does no I/O. Parse calls it and adds line numbers.
func Validate(c *Config) error {
	var ps problems
	validate(c, &ps)
	return ps.err()
}

// validator reports problems without line numbers; Parse locates them.
type validator struct {
	ps *problems
}

func (v validator) add(path, format string, args ...any) {
	v.ps.add(path, pos{}, format, args...)
}

func validate(c *Config, ps *problems) {
	v := validator{ps}
	v.server(&c.Server)
	v.log(&c.Log)
	v.store(&c.Store)
	v.upstream("upstreams.legacy", &c.Upstreams.Legacy, true)
	// The new service may not exist yet when the proxy is first put in
	// front of the legacy one: without it every request is served by
	// legacy (Warnings says so).
	v.upstream("upstreams.new", &c.Upstreams.New, false)
	v.auth(&c.Auth)
	v.tenancy(&c.Tenancy, &c.Auth)
	v.routes(c.Routes, c.Tenancy.Roles)
	v.flags(&c.Flags)
	v.shadow(&c.Shadow)
	v.admin(&c.Admin)
}

func (v validator) server(s *Server) {
	v.listenAddr("server.listen", s.Listen)
	v.listenAddr("server.admin_listen", s.AdminListen)
	if s.Listen != "" && s.Listen == s.AdminListen && !strings.HasSuffix(s.Listen, ":0") {
		v.add("server.admin_listen", "must differ from server.listen (%q): the admin API must not share the public listener", s.Listen)
	}
	v.positive("server.shutdown_grace", s.ShutdownGrace)
	v.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	if s.MaxHeaderBytes <= 0 || s.MaxHeaderBytes > 64<<20 {
		v.add("server.max_header_bytes", "must be between 1 byte and 64MiB, got %d", s.MaxHeaderBytes)
	}
}

// listenAddr checks a host:port listen address (the host may be empty for
// all interfaces; port 0 picks a free port, useful in tests).
func (v validator) listenAddr(path, addr string) {
	if addr == "" {
		v.add(path, "is required: an address such as \":8080\" or \"127.0.0.1:9090\"")
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "invalid listen address %q: expected host:port such as \":8080\"", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, "invalid port %q: expected a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " /\t") {
		v.add(path, "invalid host %q", host)
	}
}

func (v validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "must be a positive duration such as 30s")
	}
}

// oneOf checks an enumerated value; the message lists the choices.
func (v validator) oneOf(path, got string, allowed ...string) bool {
	for _, a := range allowed {
		if got == a {
			return true
		}
	}
	if got == "" {
		v.add(path, "must be one of %s (it is not set)", strings.Join(allowed, ", "))
	} else {
		v.add(path, "must be one of %s, got %q", strings.Join(allowed, ", "), got)
	}
	return false
}

func (v validator) log(l *Log) {
	v.oneOf("log.level", l.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", l.Format, "json", "console")
}

func (v validator) store(s *Store) {
	if !v.oneOf("store.driver", s.Driver, "memory", "postgres") {
		return
	}
	if s.Driver == "postgres" {
		switch {
		case s.DatabaseURL == "":
			v.add("store.database_url", "is required when store.driver is postgres")
		case strings.Contains(s.DatabaseURL, "://"):
			u, err := url.Parse(s.DatabaseURL)
			if err != nil {
				// url.Parse errors quote the whole URL, password included.
				v.add("store.database_url", "is not a valid URL")
			} else if u.Scheme != "postgres" && u.Scheme != "postgresql" {
				v.add("store.database_url", "must be a postgres:// or postgresql:// URL, got scheme %q", u.Scheme)
			}
		case !strings.Contains(s.DatabaseURL, "="):
			v.add("store.database_url", "must be a postgres:// URL or a key=value connection string")
		}
		if s.SeedFile != "" {
			v.add("store.seed_file", "is only used by the memory driver; load seed data into PostgreSQL with strangler bootstrap")
		}
	}
}

func (v validator) upstream(path string, u *Upstream, required bool) {
	v.httpURL(path+".url", u.URL, required)
	v.positive(path+".timeout", u.Timeout)
	v.positive(path+".idle_conn_timeout", u.IdleConnTimeout)
	v.positive(path+".dial_timeout", u.DialTimeout)
	if u.MaxIdleConnsPerHost <= 0 {
		v.add(path+".max_idle_conns_per_host", "must be positive, got %d", u.MaxIdleConnsPerHost)
	}
}

// httpURL checks an absolute http or https URL without credentials, query
// or fragment: the base of a backend.
func (v validator) httpURL(path, raw string, required bool) *url.URL {
	if raw == "" {
		if required {
			v.add(path, "is required: an http:// or https:// URL")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		v.add(path, "invalid URL %q", raw)
		return nil
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(path, "must be an http:// or https:// URL, got %q", raw)
	case u.Host == "" || u.Hostname() == "":
		v.add(path, "has no host: %q", raw)
	case u.User != nil:
		v.add(path, "must not carry credentials: they would not be sent; remove them from the URL")
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?"):
		v.add(path, "must not have a query or fragment, got %q", raw)
	default:
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				v.add(path, "invalid port %q", p)
				return nil
			}
		}
		return u
	}
	return nil
}

// jwtAlgorithm reports whether alg is on the allow-list of algorithm names
// an issuer may accept, with the minimum HMAC secret length RFC 7518 §3.2
// requires (0 for public-key algorithms).
func jwtAlgorithm(alg string) (minSecret int, ok bool) {
	switch alg {
	case "HS256":
		return 32, true
	case "HS384":
		return 48, true
	case "HS512":
		return 64, true
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return 0, true
	}
	return 0, false
}

const jwtAlgorithmList = "HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA"

func (v validator) auth(a *Auth) {
	names := map[string]int{}
	issuers := map[string]int{}
	for i := range a.JWT {
		j := &a.JWT[i]
		p := fmt.Sprintf("auth.jwt[%d]", i)
		switch {
		case j.Name == "":
			v.add(p+".name", "is required: it names the issuer in logs and metrics")
		case !validLabel(j.Name):
			v.add(p+".name", "must be lowercase letters, digits, - and _ (at most 63), got %q", j.Name)
		default:
			if first, dup := names[j.Name]; dup {
				v.add(p+".name", "duplicate issuer name %q (also auth.jwt[%d])", j.Name, first)
			} else {
				names[j.Name] = i
			}
		}
		if j.Issuer != "" {
			if strings.TrimSpace(j.Issuer) != j.Issuer || strings.ContainsAny(j.Issuer, " \t\n") {
				v.add(p+".issuer", "must not contain whitespace, got %q", j.Issuer)
			}
			if first, dup := issuers[j.Issuer]; dup {
				v.add(p+".issuer", "duplicate issuer %q (also auth.jwt[%d]): a token is matched to its entry by iss", j.Issuer, first)
			} else {
				issuers[j.Issuer] = i
			}
			if a.Issuer.Enabled && j.Issuer == a.Issuer.Issuer {
				v.add(p+".issuer", "equals auth.issuer.issuer %q: external tokens would be confused with the built-in issuer's", j.Issuer)
			}
		}
		if len(j.Audiences) == 0 {
			v.add(p+".audiences", "at least one audience is required (Supabase: authenticated): without it tokens minted for other services are accepted")
		}
		for k, aud := range j.Audiences {
			if strings.TrimSpace(aud) == "" {
				v.add(fmt.Sprintf("%s.audiences[%d]", p, k), "must not be empty")
			}
		}
		v.jwtKeys(p, j)
		v.claimPath(p+".claims.subject", j.Claims.Subject)
		v.claimPath(p+".claims.email", j.Claims.Email)
		v.claimPath(p+".claims.org", j.Claims.Org)
		v.claimPath(p+".claims.project", j.Claims.Project)
	}
	for i, h := range a.APIKeys.Headers {
		hp := fmt.Sprintf("auth.api_keys.headers[%d]", i)
		if v.headerName(hp, h) && isTenantHeader(h) {
			v.add(hp, "X-Tenant-* headers are removed from every request and cannot carry a key")
		}
	}
	if a.Issuer.Enabled {
		if a.Issuer.Issuer == "" || strings.ContainsAny(a.Issuer.Issuer, " \t\n") {
			v.add("auth.issuer.issuer", "is required when the issuer is enabled, without whitespace, such as https://auth.example.com")
		}
		v.positive("auth.issuer.access_ttl", a.Issuer.AccessTTL)
		v.positive("auth.issuer.refresh_ttl", a.Issuer.RefreshTTL)
		if a.Issuer.AccessTTL > 0 && a.Issuer.RefreshTTL > 0 && a.Issuer.RefreshTTL <= a.Issuer.AccessTTL {
			v.add("auth.issuer.refresh_ttl", "must be longer than auth.issuer.access_ttl (%s)", a.Issuer.AccessTTL.D())
		}
		if a.Issuer.AccessTTL.D() > 24*time.Hour {
			v.add("auth.issuer.access_ttl", "must be at most 24h: access tokens cannot be revoked before they expire")
		}
	}
}

// jwtKeys checks the algorithm allow-list against the key source: an
// entry is either secret-based (HS*) or JWKS-based (everything else),
// never both, which rules out key-confusion attacks by configuration.
func (v validator) jwtKeys(p string, j *JWTIssuer) {
	if len(j.Algorithms) == 0 {
		v.add(p+".algorithms", "at least one algorithm is required (%s): the allow-list is never inferred from the token", jwtAlgorithmList)
	}
	var hmac, asym bool
	minSecret := 0
	seen := map[string]bool{}
	for k, alg := range j.Algorithms {
		ap := fmt.Sprintf("%s.algorithms[%d]", p, k)
		n, ok := jwtAlgorithm(alg)
		switch {
		case strings.EqualFold(alg, "none"):
			v.add(ap, "\"none\" is never accepted: unsigned tokens prove nothing")
			continue
		case !ok:
			v.add(ap, "must be one of %s, got %q", jwtAlgorithmList, alg)
			continue
		case seen[alg]:
			v.add(ap, "duplicate algorithm %q", alg)
			continue
		}
		seen[alg] = true
		if strings.HasPrefix(alg, "HS") {
			hmac = true
			minSecret = max(minSecret, n)
		} else {
			asym = true
		}
	}
	if hmac && asym {
		v.add(p+".algorithms", "mixes HMAC (HS*) and public-key algorithms: use one entry per key type")
	}
	switch {
	case j.Secret != "" && j.JWKSURL != "":
		v.add(p, "set either secret (HS*) or jwks_url (RS*, PS*, ES*, EdDSA), not both")
	case hmac && j.Secret == "":
		v.add(p+".secret", "is required for HMAC algorithms (HS*)")
	case asym && j.JWKSURL == "":
		v.add(p+".jwks_url", "is required for public-key algorithms (RS*, PS*, ES*, EdDSA)")
	case j.Secret == "" && j.JWKSURL == "":
		v.add(p, "one of secret (HS*) or jwks_url (RS*, PS*, ES*, EdDSA) is required")
	case asym && j.Secret != "":
		v.add(p+".secret", "is only used by HMAC algorithms (HS*)")
	}
	if hmac && j.Secret != "" && len(j.Secret) < minSecret {
		v.add(p+".secret", "is %d bytes; the algorithms listed need at least %d (RFC 7518 §3.2)", len(j.Secret), minSecret)
	}
	if j.JWKSURL != "" {
		u, err := url.Parse(j.JWKSURL)
		switch {
		case err != nil || u.Host == "":
			v.add(p+".jwks_url", "invalid URL %q", j.JWKSURL)
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
			// Plain HTTP only to this machine (development, tests).
		default:
			v.add(p+".jwks_url", "must be an https:// URL (http:// only for loopback): keys fetched in clear can be replaced in transit")
		}
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// claimPath checks a dotted claim path such as app_metadata.org_id.
func (v validator) claimPath(path, s string) {
	if s == "" {
		return
	}
	for seg := range strings.SplitSeq(s, ".") {
		if seg == "" || strings.ContainsAny(seg, " \t\n[]") {
			v.add(path, "must be a dotted claim path such as app_metadata.org_id, got %q", s)
			return
		}
	}
}

func (v validator) tenancy(t *Tenancy, a *Auth) {
	orgOK := v.headerName("tenancy.org_header", t.OrgHeader)
	projOK := v.headerName("tenancy.project_header", t.ProjectHeader)
	for _, h := range []struct{ path, name string }{{"tenancy.org_header", t.OrgHeader}, {"tenancy.project_header", t.ProjectHeader}} {
		if isTenantHeader(h.name) {
			v.add(h.path, "X-Tenant-* headers are removed from every request (anti-spoofing); choose another name")
		}
		if strings.EqualFold(h.name, "Authorization") {
			v.add(h.path, "must not be Authorization")
		}
		for _, k := range a.APIKeys.Headers {
			if strings.EqualFold(h.name, k) {
				v.add(h.path, "is also an API key header (auth.api_keys.headers)")
			}
		}
	}
	if orgOK && projOK && strings.EqualFold(t.OrgHeader, t.ProjectHeader) {
		v.add("tenancy.project_header", "must differ from tenancy.org_header")
	}
	switch {
	case t.DefaultOrg == "":
		v.add("tenancy.default_org", "is required: the slug of the org that owns all pre-migration data")
	case !validSlug(t.DefaultOrg):
		v.add("tenancy.default_org", "must be a slug (lowercase letters, digits and -, at most 63), got %q", t.DefaultOrg)
	}
	known := map[string]bool{}
	for _, r := range Roles() {
		known[r] = true
	}
	for _, role := range sortedKeys(t.Roles) {
		rp := childPath("tenancy.roles", role)
		if !known[role] {
			v.add(rp, "unknown role: roles are %s", strings.Join(Roles(), ", "))
			continue
		}
		seen := map[string]bool{}
		for k, perm := range t.Roles[role] {
			pp := fmt.Sprintf("%s[%d]", rp, k)
			switch {
			case !validPermission(perm):
				v.add(pp, "must be a permission name such as agents.run (lowercase, dot-separated), got %q", perm)
			case seen[perm]:
				v.add(pp, "duplicate permission %q", perm)
			}
			seen[perm] = true
		}
	}
	for _, r := range Roles() {
		if _, ok := t.Roles[r]; !ok {
			v.add("tenancy.roles", "role %s is missing", r)
		}
	}
}

func (v validator) routes(routes []Route, roles map[string][]string) {
	if len(routes) == 0 {
		v.add("routes", "at least one route is required; a single catch-all is {name: default, paths: [\"/\"], auth: optional}")
		return
	}
	perms := map[string]bool{}
	for _, ps := range roles {
		for _, p := range ps {
			perms[p] = true
		}
	}
	names := map[string]int{}
	for i := range routes {
		r := &routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			v.add(p+".name", "is required: it names the route group and its flag route.<name>")
		case !validLabel(r.Name):
			v.add(p+".name", "must be lowercase letters, digits, - and _ (at most 63), got %q", r.Name)
		default:
			if first, dup := names[r.Name]; dup {
				v.add(p+".name", "duplicate route name %q (also routes[%d])", r.Name, first)
			} else {
				names[r.Name] = i
			}
		}
		if len(r.Paths) == 0 {
			v.add(p+".paths", "at least one path is required, such as \"/api/qa\"")
		}
		for k, path := range r.Paths {
			if err := checkRoutePath(path); err != nil {
				v.add(fmt.Sprintf("%s.paths[%d]", p, k), "%s", err)
			}
		}
		v.methods(p+".methods", r.Methods)
		v.oneOf(p+".auth", r.Auth, AuthRequired, AuthOptional, AuthNone)
		if r.Permission != "" {
			switch {
			case !validPermission(r.Permission):
				v.add(p+".permission", "must be a permission name such as agents.run, got %q", r.Permission)
			case !perms[r.Permission]:
				v.add(p+".permission", "%q is granted by no role in tenancy.roles: no caller could use this route", r.Permission)
			case r.Auth == AuthNone:
				v.add(p+".permission", "needs an authenticated caller, but auth is none")
			}
		}
		v.routeShadow(p+".shadow", &r.Shadow)
		v.unreachable(routes, i)
	}
}

// unreachable reports the paths of route i that an earlier route always
// takes first: the same path (a trailing slash changes nothing in
// matching), or the catch-all "/", with methods that cover route i's.
func (v validator) unreachable(routes []Route, i int) {
	r := &routes[i]
paths:
	for k, path := range r.Paths {
		for j := range i {
			e := &routes[j]
			if !methodsCover(e.Methods, r.Methods) {
				continue
			}
			for _, ep := range e.Paths {
				if samePath(ep, path) || ep == "/" {
					v.add(fmt.Sprintf("routes[%d].paths[%d]", i, k), "never matched: routes[%d] (%s) already matches %q for these methods (first match wins)", j, e.Name, ep)
					continue paths
				}
			}
		}
	}
}

func samePath(a, b string) bool {
	trim := func(s string) string {
		if len(s) > 1 {
			return strings.TrimSuffix(s, "/")
		}
		return s
	}
	return trim(a) == trim(b)
}

// methodsCover reports whether a route restricted to outer matches every
// method that inner matches (empty means any; GET admits HEAD).
func methodsCover(outer, inner []string) bool {
	if len(outer) == 0 {
		return true
	}
	if len(inner) == 0 {
		return false
	}
	for _, m := range inner {
		found := false
		for _, o := range outer {
			if o == m || (o == "GET" && m == "HEAD") {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// standardMethods are the methods of RFC 9110 and RFC 5789 (PATCH).
func standardMethods() []string {
	return []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
}

func (v validator) methods(path string, ms []string) {
	seen := map[string]bool{}
	for k, m := range ms {
		mp := fmt.Sprintf("%s[%d]", path, k)
		if !isToken(m) {
			v.add(mp, "%q is not a valid HTTP method token", m)
			continue
		}
		for _, std := range standardMethods() {
			if m != std && strings.EqualFold(m, std) {
				v.add(mp, "%q: methods are case-sensitive; did you mean %q?", m, std)
			}
		}
		if seen[m] {
			v.add(mp, "duplicate method %q", m)
		}
		seen[m] = true
	}
}

func (v validator) routeShadow(p string, s *RouteShadow) {
	if s.SampleRate != nil && !(*s.SampleRate >= 0 && *s.SampleRate <= 1) {
		v.add(p+".sample_rate", "must be between 0 and 1, got %v", *s.SampleRate)
	}
	for k, jp := range s.IgnorePaths {
		if err := checkJSONPath(jp); err != nil {
			v.add(fmt.Sprintf("%s.ignore_paths[%d]", p, k), "%s", err)
		}
	}
	for k, jp := range s.UnorderedArrays {
		if err := checkJSONPath(jp); err != nil {
			v.add(fmt.Sprintf("%s.unordered_arrays[%d]", p, k), "%s", err)
		}
	}
	for k, h := range s.IgnoreHeaders {
		v.headerName(fmt.Sprintf("%s.ignore_headers[%d]", p, k), h)
	}
}

func (v validator) flags(f *Flags) {
	if !v.oneOf("flags.provider", f.Provider, "store", "file") {
		return
	}
	switch {
	case f.Provider == "file" && f.File == "":
		v.add("flags.file", "is required when flags.provider is file: a flagd flag-definition JSON file")
	case f.Provider == "store" && f.File != "":
		v.add("flags.file", "is only used when flags.provider is file")
	}
}

func (v validator) shadow(s *Shadow) {
	if s.Workers < 1 || s.Workers > 1024 {
		v.add("shadow.workers", "must be between 1 and 1024, got %d", s.Workers)
	}
	if s.QueueSize < 1 || s.QueueSize > 1<<20 {
		v.add("shadow.queue_size", "must be between 1 and 1048576, got %d", s.QueueSize)
	}
	if s.MaxBodyBytes < 1 || s.MaxBodyBytes > 1<<30 {
		v.add("shadow.max_body_bytes", "must be between 1 byte and 1GiB, got %d", s.MaxBodyBytes)
	}
	if !(s.CPUBudget > 0 && s.CPUBudget <= 1) {
		v.add("shadow.cpu_budget", "must be over 0 and at most 1 (1: never shed), got %v", s.CPUBudget)
	}
	v.positive("shadow.timeout", s.Timeout)
	v.positive("shadow.retention", s.Retention)
	for k, h := range s.RedactHeaders {
		v.headerName(fmt.Sprintf("shadow.redact_headers[%d]", k), h)
	}
	for k, f := range s.RedactFields {
		if strings.TrimSpace(f) == "" {
			v.add(fmt.Sprintf("shadow.redact_fields[%d]", k), "must not be empty")
		}
	}
	r := &s.Readiness
	if r.MinComparisons < 1 {
		v.add("shadow.readiness.min_comparisons", "must be at least 1, got %d", r.MinComparisons)
	}
	if !(r.MinMatchRate >= 0 && r.MinMatchRate <= 1) {
		v.add("shadow.readiness.min_match_rate", "must be between 0 and 1, got %v", r.MinMatchRate)
	}
	if !(r.MaxErrorRate >= 0 && r.MaxErrorRate <= 1) {
		v.add("shadow.readiness.max_error_rate", "must be between 0 and 1, got %v", r.MaxErrorRate)
	}
}

// minAdminTokenLen keeps the bootstrap token out of brute-force reach: it
// grants platform-admin access.
const minAdminTokenLen = 32

func (v validator) admin(a *Admin) {
	t := a.BootstrapToken
	switch {
	case t == "":
	case len(t) < minAdminTokenLen:
		v.add("admin.bootstrap_token", "is %d characters; at least %d are required (it grants platform-admin access; try: openssl rand -hex 32)", len(t), minAdminTokenLen)
	case strings.ContainsAny(t, " \t\r\n"):
		v.add("admin.bootstrap_token", "must not contain whitespace")
	}
}

// headerName checks an HTTP header field name (RFC 9110 token).
func (v validator) headerName(path, h string) bool {
	if !isToken(h) {
		v.add(path, "%q is not a valid header name", h)
		return false
	}
	return true
}

func isTenantHeader(h string) bool {
	return len(h) >= len("X-Tenant-") && strings.EqualFold(h[:len("X-Tenant-")], "X-Tenant-")
}

// isToken reports whether s is an RFC 9110 token: what method and header
// names are made of.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

var (
	labelRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	slugRE       = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	permissionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)
	paramRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// validLabel: route and issuer names become flag keys and metric labels.
func validLabel(s string) bool      { return labelRE.MatchString(s) }
func validSlug(s string) bool       { return slugRE.MatchString(s) }
func validPermission(s string) bool { return len(s) <= 64 && permissionRE.MatchString(s) }

// checkRoutePath checks a route path: a prefix such as "/api/qa" or
// "/api/knowledge/", or a pattern whose {param} segments match one path
// segment each, such as "/api/posts/{id}/publish".
func checkRoutePath(p string) error {
	if p == "" {
		return fmt.Errorf("must not be empty")
	}
	if p[0] != '/' {
		return fmt.Errorf("must start with \"/\", got %q", p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '\\' {
			return fmt.Errorf("%q: a path has no spaces, control characters, \\, query (?) or fragment (#)", p)
		}
	}
	if p == "/" {
		return nil
	}
	segs := strings.Split(p[1:], "/")
	params := map[string]bool{}
	for k, seg := range segs {
		last := k == len(segs)-1
		switch {
		case seg == "" && !last:
			return fmt.Errorf("%q: empty segment (//)", p)
		case seg == "." || seg == "..":
			return fmt.Errorf("%q: %q segments are not allowed: clients' paths are matched as sent", p, seg)
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			name := seg[1 : len(seg)-1]
			if !paramRE.MatchString(name) {
				return fmt.Errorf("%q: invalid parameter %q: a name is letters, digits and _, as in {id}", p, seg)
			}
			if params[name] {
				return fmt.Errorf("%q: parameter {%s} appears twice", p, name)
			}
			params[name] = true
		case strings.ContainsAny(seg, "{}"):
			return fmt.Errorf("%q: a {param} must be a whole segment, as in /api/posts/{id}", p)
		}
	}
	return nil
}

// checkJSONPath checks the JSONPath subset of comparison rules: "$"
// followed by .name, [n] or [*] steps, e.g. $.items[*].id.
func checkJSONPath(s string) error {
	if !strings.HasPrefix(s, "$") {
		return fmt.Errorf("%q: must start with $, as in $.items[*].id", s)
	}
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			n := strings.IndexAny(rest[1:], ".[")
			if n < 0 {
				n = len(rest) - 1
			}
			name := rest[1 : 1+n]
			if name == "" || strings.ContainsAny(name, "] \t\n\"'") {
				return fmt.Errorf("%q: invalid field name after '.'", s)
			}
			rest = rest[1+n:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return fmt.Errorf("%q: unterminated '['", s)
			}
			idx := rest[1:end]
			if idx != "*" {
				if n, err := strconv.Atoi(idx); err != nil || n < 0 || idx != strconv.Itoa(n) {
					return fmt.Errorf("%q: [%s]: an index is a number or *", s, idx)
				}
			}
			rest = rest[end+1:]
		default:
			return fmt.Errorf("%q: expected '.' or '[' after %q", s, s[:len(s)-len(rest)])
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package tenancy

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of claim paths and of the values read through them. Values end up
// in upstream headers and cache entries, so they are kept short.
const (
	maxClaimPathDepth   = 8
	maxClaimSegmentLen  = 64
	maxClaimValueLen    = 512
	userMetadataSegment = "user_metadata"
)

var errClaimPath = errors.New("invalid claim path")

// claimPath is a parsed dotted claim path ("app_metadata.org_id"). The zero
// value (no segments) reads nothing.
type claimPath []string

// parseClaimPath parses a dotted path: 1–8 non-empty segments of letters,
// digits, '_', '-' or ':'. Paths into user_metadata are refused: a user can
// edit it (Supabase), so nothing read from it may decide authorization.
func parseClaimPath(p string) (claimPath, error) {
	if p == "" {
		return nil, nil
	}
	segs := strings.Split(p, ".")
	if len(segs) > maxClaimPathDepth {
		return nil, fmt.Errorf("%w %q: more than %d segments", errClaimPath, p, maxClaimPathDepth)
	}
	for _, s := range segs {
		if s == "" || len(s) > maxClaimSegmentLen {
			return nil, fmt.Errorf("%w %q: empty or over-long segment", errClaimPath, p)
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ':') {
				return nil, fmt.Errorf("%w %q: character %q not allowed", errClaimPath, p, c)
			}
		}
	}
	if segs[0] == userMetadataSegment {
		return nil, fmt.Errorf("%w %q: user_metadata is editable by the user and never trusted", errClaimPath, p)
	}
	return claimPath(segs), nil
}

// lookup walks the decoded claims. ok is false when a segment is missing or
// an intermediate value is not an object.
func (p claimPath) lookup(claims map[string]any) (v any, ok bool) {
	if len(p) == 0 {
		return nil, false
	}
	cur := claims
	for i, seg := range p {
		v, ok = cur[seg]
		if !ok {
			return nil, false
		}
		if i == len(p)-1 {
			return v, true
		}
		cur, ok = v.(map[string]any)
		if !ok {
			return nil, false
		}
	}
	return nil, false
}

// str reads a string claim. Absent (or JSON null) is "", nil. Any other type,
// or a value over maxClaimValueLen, is an error: a malformed authorization
// claim fails closed instead of being ignored.
func (p claimPath) str(claims map[string]any) (string, error) {
	v, ok := p.lookup(claims)
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("claim %s: %T is not a string", p, v)
	}
	if len(s) > maxClaimValueLen {
		return "", fmt.Errorf("claim %s: longer than %d bytes", p, maxClaimValueLen)
	}
	return s, nil
}

// String returns the dotted form.
func (p claimPath) String() string { return strings.Join(p, ".") }

// claimMap is the compiled claims section of an issuer entry.
type claimMap struct {
	subject, email, org, project claimPath
}

// compileClaimMap parses the claim paths of one entry; prefix is its YAML
// path ("auth.jwt[0]") for error messages.
func compileClaimMap(prefix string, c claimsSpec) (claimMap, error) {
	var (
		m    claimMap
		errs []error
	)
	parse := func(field, path, def string) claimPath {
		if path == "" {
			path = def
		}
		cp, err := parseClaimPath(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.claims.%s: %w", prefix, field, err))
		}
		return cp
	}
	m.subject = parse("subject", c.Subject, "sub")
	m.email = parse("email", c.Email, "email")
	m.org = parse("org", c.Org, "")
	m.project = parse("project", c.Project, "")
	return m, errors.Join(errs...)
}

// claimsSpec mirrors config.Claims so the built-in issuer can use the same
// compilation.
type claimsSpec struct {
	Subject, Email, Org, Project string
}

// Roles of Supabase API keys: signed JWTs that do not identify a user.
var supabaseKeyRoles = [...]string{"anon", "service_role"}

// principalFromClaims builds the Principal of a verified token.
func principalFromClaims(claims map[string]any, m claimMap, issuer string, builtin bool) (*Principal, error) {
	if role, _ := claims["role"].(string); role != "" {
		for _, r := range supabaseKeyRoles {
			if role == r {
				return nil, fmt.Errorf("%w: %w: role %q", ErrInvalidCredentials, ErrNotUserToken, r)
			}
		}
	}
	sub, err := m.subject.str(claims)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	if sub == "" {
		return nil, fmt.Errorf("%w: %w: no subject", ErrInvalidCredentials, ErrNotUserToken)
	}
	p := &Principal{Kind: PrincipalUser, Subject: sub, Issuer: issuer}
	if builtin {
		p.UserID = sub
	}
	if p.Email, err = m.email.str(claims); err != nil {
		return nil, invalidf("%v", err)
	}
	if p.OrgClaim, err = m.org.str(claims); err != nil {
		return nil, invalidf("%v", err)
	}
	if p.ProjectClaim, err = m.project.str(claims); err != nil {
		return nil, invalidf("%v", err)
	}
	for _, k := range [...]string{"sid", "session_id"} {
		if s, ok := claims[k].(string); ok && s != "" && len(s) <= maxClaimValueLen {
			p.SessionID = s
			break
		}
	}
	p.AnonymousUser, _ = claims["is_anonymous"].(bool)
	return p, nil
}

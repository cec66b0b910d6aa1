package tenancy

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// The X-Tenant-Assertion contract (SPEC §5). An upstream verifies it with
// the built-in issuer's JWK Set (/.well-known/jwks.json): alg ES256 or
// EdDSA, typ AssertionType, iss the built-in issuer, aud AssertionAudience,
// exp required. Claims: org_id, org_slug, project_id, user_id (also sub),
// org_role, and rid (the request ID) when assertions are bound to requests.
// The tenant role is org_role, not role: PostgREST and Supabase read role as
// a database role.
const (
	AssertionAudience = "upstream"
	AssertionTTL      = 60 * time.Second
	AssertionType     = assertionType
	assertionType     = "tenant+jwt"
)

// AssertionOptions configure an AssertionMinter.
type AssertionOptions struct {
	// ReuseWindow is how long one signed assertion serves the requests of
	// the same tenant context. Signing (ES256, tens of µs) would otherwise
	// dominate the cost the proxy adds to a request. A reused assertion
	// always has at least AssertionTTL-ReuseWindow of life left when it is
	// forwarded. Default 30s; at most AssertionTTL/2.
	ReuseWindow time.Duration
	// BindRequestID signs a fresh assertion per request carrying its
	// request ID (rid), so an upstream can tie the assertion to the request
	// it came with; reuse is then off and every request pays a signature.
	BindRequestID bool
	// CacheSize caps the reused assertions (one per tenant context).
	// Default 10,000.
	CacheSize int
}

// AssertionMinter signs X-Tenant-Assertion tokens with the built-in
// issuer's active key.
//
// State shared between requests: a bounded cache of signed assertions keyed
// by (signing key, tenant context) — never by request ID — that expire
// after ReuseWindow. No lock is held while signing.
type AssertionMinter struct {
	signer *Signer
	opts   AssertionOptions
	cache  *ttlCache[assertionKey, string]
	seed   maphash.Seed
}

type assertionKey struct {
	kid                                     string
	orgID, orgSlug, projectID, userID, role string
}

type assertionJSON struct {
	Iss       string `json:"iss"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud"`
	Iat       int64  `json:"iat"`
	Exp       int64  `json:"exp"`
	OrgID     string `json:"org_id"`
	OrgSlug   string `json:"org_slug,omitempty"`
	ProjectID string `json:"project_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	OrgRole   string `json:"org_role,omitempty"`
	RequestID string `json:"rid,omitempty"`
}

// NewAssertionMinter returns a minter that signs with s.
func NewAssertionMinter(s *Signer, o AssertionOptions) *AssertionMinter {
	if o.ReuseWindow <= 0 || o.ReuseWindow > AssertionTTL/2 {
		o.ReuseWindow = AssertionTTL / 2
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10_000
	}
	m := &AssertionMinter{signer: s, opts: o, seed: maphash.MakeSeed()}
	m.cache = newTTLCache[assertionKey, string](o.CacheSize, m.hashKey)
	return m
}

func (m *AssertionMinter) hashKey(k assertionKey) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	for _, s := range [...]string{k.kid, k.orgID, k.orgSlug, k.projectID, k.userID, k.role} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// MintAssertion returns a signed assertion of tc, valid AssertionTTL. It
// is meant for every request: unless BindRequestID is set, an assertion
// signed less than ReuseWindow ago for the same context is returned as is.
func (m *AssertionMinter) MintAssertion(ctx context.Context, tc TenantContext) (string, error) {
	if tc.OrgID == "" {
		return "", errors.New("mint assertion: no org")
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("mint assertion: %w", err)
	}
	active := m.signer.current().active
	now := m.signer.now()
	var key assertionKey
	if !m.opts.BindRequestID {
		key = assertionKey{active.kid, tc.OrgID, tc.OrgSlug, tc.ProjectID, tc.UserID, string(tc.Role)}
		if tok, ok := m.cache.get(key, now); ok {
			return tok, nil
		}
	}
	claims := assertionJSON{
		Iss: m.signer.issuer, Sub: tc.UserID, Aud: AssertionAudience,
		Iat: now.Unix(), Exp: now.Add(AssertionTTL).Unix(),
		OrgID: tc.OrgID, OrgSlug: tc.OrgSlug, ProjectID: tc.ProjectID,
		UserID: tc.UserID, OrgRole: string(tc.Role),
	}
	if m.opts.BindRequestID {
		claims.RequestID = tc.RequestID
	}
	tok, err := active.sign(assertionType, claims)
	if err != nil {
		return "", fmt.Errorf("mint assertion: %w", err)
	}
	if !m.opts.BindRequestID {
		m.cache.put(key, tok, time.Unix(claims.Iat, 0).Add(m.opts.ReuseWindow), now)
	}
	return tok, nil
}

// AssertionVerifier checks X-Tenant-Assertion tokens the way an upstream
// written in Go would (and the way tests do): with the issuer's JWK Set.
type AssertionVerifier struct {
	parser *jwt.Parser
	kf     keyfunc.Keyfunc
	cancel context.CancelFunc
}

type assertionClaims struct {
	jwt.RegisteredClaims
	OrgID     string `json:"org_id"`
	OrgSlug   string `json:"org_slug"`
	ProjectID string `json:"project_id"`
	UserID    string `json:"user_id"`
	OrgRole   string `json:"org_role"`
	RequestID string `json:"rid"`
}

func newAssertionParser(issuer string, now func() time.Time) *jwt.Parser {
	if now == nil {
		now = time.Now
	}
	return jwt.NewParser(
		jwt.WithValidMethods(signerAlgorithms()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(JWTLeeway),
		jwt.WithAudience(AssertionAudience),
		jwt.WithIssuer(issuer),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(now),
	)
}

// NewAssertionVerifier verifies assertions of issuer with a JWK Set
// document held in memory (Signer.JWKS(), or a copy of the endpoint's).
func NewAssertionVerifier(issuer string, jwks []byte, now func() time.Time) (*AssertionVerifier, error) {
	kf, err := keyfunc.NewJWKSetJSON(jwks)
	if err != nil {
		return nil, fmt.Errorf("assertion verifier: %w", err)
	}
	return &AssertionVerifier{parser: newAssertionParser(issuer, now), kf: kf, cancel: func() {}}, nil
}

// NewRemoteAssertionVerifier verifies assertions of issuer with the JWK
// Set at jwksURL, refreshed in the background and on unknown kid (rate
// limited as JWKSOptions says) until ctx ends or Close is called.
func NewRemoteAssertionVerifier(ctx context.Context, issuer, jwksURL string, o JWKSOptions, now func() time.Time, log *zap.Logger) (*AssertionVerifier, error) {
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(ctx)
	r, err := newRemoteJWKS(ctx, jwksURL, o.withDefaults(), nil, log)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("assertion verifier: %w", err)
	}
	return &AssertionVerifier{parser: newAssertionParser(issuer, now), kf: r.kf, cancel: cancel}, nil
}

// Close stops background refreshes of a remote verifier.
func (v *AssertionVerifier) Close() { v.cancel() }

// Verify checks an assertion and returns the tenant context it carries.
func (v *AssertionVerifier) Verify(ctx context.Context, token string) (TenantContext, error) {
	if token == "" || len(token) > MaxTokenBytes {
		return TenantContext{}, invalidf("assertion empty or longer than %d bytes", MaxTokenBytes)
	}
	var c assertionClaims
	t, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != assertionType {
			return nil, fmt.Errorf("typ %.32q is not %s", typ, assertionType)
		}
		k, err := v.kf.KeyfuncCtx(ctx)(t)
		if err != nil {
			return nil, err
		}
		if set, ok := k.(jwt.VerificationKeySet); ok {
			var fit jwt.VerificationKeySet
			for _, key := range set.Keys {
				if keyFits(t.Method, key) == nil {
					fit.Keys = append(fit.Keys, key)
				}
			}
			return fit, nil
		}
		return k, keyFits(t.Method, k)
	})
	if err != nil || !t.Valid {
		return TenantContext{}, fmt.Errorf("%w: assertion: %w", ErrInvalidCredentials, err)
	}
	if c.OrgID == "" {
		return TenantContext{}, invalidf("assertion has no org_id")
	}
	return TenantContext{
		OrgID: c.OrgID, OrgSlug: c.OrgSlug, ProjectID: c.ProjectID,
		UserID: c.UserID, Role: Role(c.OrgRole), RequestID: c.RequestID,
	}, nil
}

// AssertionHeader is the header that carries the assertion to upstreams.
const AssertionHeader = "X-Tenant-Assertion"

// VerifyAssertionRequest reads and verifies the AssertionHeader of r: a
// helper for Go upstreams and tests.
func (v *AssertionVerifier) VerifyAssertionRequest(r *http.Request) (TenantContext, error) {
	vals := r.Header.Values(AssertionHeader)
	if len(vals) != 1 {
		return TenantContext{}, invalidf("want one %s header, have %d", AssertionHeader, len(vals))
	}
	return v.Verify(r.Context(), vals[0])
}

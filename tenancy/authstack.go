package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
)

// AuthStackOptions configure NewAuthStack. Config and Store are required.
type AuthStackOptions struct {
	// Config supplies auth (JWT issuers, API-key headers, the built-in
	// issuer) and tenancy (headers, default org, roles).
	Config *config.Config
	// Store is the tenancy data. If it implements ChangeNotifier (both
	// stores do) the caches follow its change feed; otherwise every cache
	// entry lives at most CacheOptions.DownTTL.
	Store Store
	// Signer holds the built-in issuer's keys: it signs X-Tenant-Assertion
	// and, when auth.issuer.enabled, verifies the built-in access tokens.
	// Share it with the issuer's handlers. Nil: NewSigner from
	// auth.issuer (an ephemeral key when signing_key_file is empty — demo
	// only: other replicas cannot verify its assertions).
	Signer *Signer
	// Sessions, when set, refuses built-in access tokens whose session was
	// logged out or revoked (share the issuer handlers' SessionRevocations),
	// so logout ends a token on every route of every replica within a
	// second, for one cache read per built-in token. Nil: built-in tokens
	// stay valid until they expire (auth.issuer.access_ttl).
	Sessions *SessionRevocations
	// Logger receives warnings (JWKS refresh, last-use writes, JIT users).
	// Nil: no logging.
	Logger *zap.Logger
	// Registry receives the stack's metrics. Nil: none registered.
	Registry prometheus.Registerer
	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Cache sizes and ages the API-key, membership, org, user and project
	// caches (authcache.go).
	Cache CacheOptions
	// LastUsed tunes the asynchronous last_used_at writer.
	LastUsed LastUsedOptions
	// JWKS tunes the fetching of external issuers' key sets.
	JWKS JWKSOptions
	// JWTCacheSize caps the verified-token cache (JWTVerifierOptions).
	JWTCacheSize int
	// Assertions tune the X-Tenant-Assertion minter.
	Assertions AssertionOptions
}

// AuthStack is everything the request pipeline needs to authenticate a
// caller and resolve its tenant, composed from the configuration:
//
//	API key (headers, Bearer sk_live_...) → JWT (external issuers, built-in)
//	→ anonymous where the route allows it
//	→ tenant resolution (Resolver) and the route's permission
//	→ X-Tenant-Assertion (AssertionMinter)
//
// State shared between requests: the verified-token cache, the
// authentication caches (kept fresh by the store's change feed), the
// assertion cache and the last-use writer's queue. All are bounded; none
// holds a lock across I/O. Close releases the feed subscription and the
// background work.
type AuthStack struct {
	chain    Chain
	resolver *Resolver
	minter   *AssertionMinter
	signer   *Signer
	verifier *JWTVerifier // nil without any issuer
	caches   *authCaches
	lastUsed *lastUsedWriter
	log      *zap.Logger

	orgHeader, projectHeader string
	// methods names how callers authenticated, by issuer, precomputed so
	// that naming it costs nothing per request.
	methods map[string]string

	unsubscribe func()
	closeOnce   sync.Once
	closeErr    error
}

// NewAuthStack builds the stack and subscribes its caches to the store's
// change feed. It fetches external JWK Sets once (bounded by ctx); their
// background refreshes run until Close.
func NewAuthStack(ctx context.Context, o AuthStackOptions) (*AuthStack, error) {
	if o.Config == nil || o.Store == nil {
		return nil, errors.New("auth stack: Config and Store are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	cfg := o.Config
	defaults := config.Default()

	roles, err := NewRolePermissions(cfg.Tenancy.Roles)
	if err != nil {
		return nil, fmt.Errorf("auth stack: %w", err)
	}
	signer := o.Signer
	if signer == nil {
		if signer, err = NewSigner(cfg.Auth.Issuer, o.Now, o.Logger); err != nil {
			return nil, fmt.Errorf("auth stack: %w", err)
		}
	}

	s := &AuthStack{
		signer:        signer,
		minter:        NewAssertionMinter(signer, o.Assertions),
		caches:        newAuthCaches(o.Cache),
		log:           o.Logger,
		orgHeader:     canonicalHeader(cfg.Tenancy.OrgHeader, defaults.Tenancy.OrgHeader),
		projectHeader: canonicalHeader(cfg.Tenancy.ProjectHeader, defaults.Tenancy.ProjectHeader),
	}
	s.methods = map[string]string{BuiltinIssuerName: "jwt:" + BuiltinIssuerName}
	for _, j := range cfg.Auth.JWT {
		s.methods[j.Name] = "jwt:" + j.Name
	}
	defaultOrg := cfg.Tenancy.DefaultOrg
	if defaultOrg == "" {
		defaultOrg = defaults.Tenancy.DefaultOrg
	}
	s.lastUsed = newLastUsedWriter(o.Store, o.LastUsed, o.Now, o.Logger)

	jitCreated := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "strangler_auth_jit_users_created_total",
		Help: "Users created just in time for tokens of external issuers.",
	})
	s.resolver = &Resolver{
		store: o.Store, caches: s.caches, roles: roles, defaultOrg: normSlug(defaultOrg),
		now: o.Now, log: o.Logger,
	}
	s.resolver.jit = &jitProvisioner{
		store: o.Store, now: o.Now, log: o.Logger, created: jitCreated.Inc,
		defaultOrg: func(ctx context.Context) (*orgRecord, error) {
			return s.resolver.orgBySlug(ctx, s.resolver.defaultOrg)
		},
	}

	headers := cfg.Auth.APIKeys.Headers
	if headers == nil {
		headers = defaults.Auth.APIKeys.Headers
	}
	keys := &APIKeyAuthenticator{
		store: o.Store, caches: s.caches, roles: roles, toucher: s.lastUsed, now: o.Now,
	}
	for _, h := range headers {
		keys.headers = append(keys.headers, textproto.CanonicalMIMEHeaderKey(h))
	}
	s.chain = Chain{keys}

	if len(cfg.Auth.JWT) > 0 || cfg.Auth.Issuer.Enabled {
		vo := JWTVerifierOptions{
			Issuers: cfg.Auth.JWT, JWKS: o.JWKS, CacheSize: o.JWTCacheSize, Now: o.Now, Logger: o.Logger,
		}
		if cfg.Auth.Issuer.Enabled {
			vo.Builtin = signer
		}
		if s.verifier, err = NewJWTVerifier(ctx, vo); err != nil {
			_ = s.closeBackground(ctx)
			return nil, fmt.Errorf("auth stack: %w", err)
		}
		var jwtAuth Authenticator = NewJWTAuthenticator(s.verifier)
		if o.Sessions != nil {
			jwtAuth = o.Sessions.Wrap(jwtAuth)
		}
		s.chain = append(s.chain, jwtAuth)
	}
	// Without any trusted issuer a bearer JWT is not the proxy's to judge:
	// it passes to the upstream, which keeps authenticating as before.

	if o.Registry != nil {
		if err := s.register(o.Registry, jitCreated); err != nil {
			_ = s.closeBackground(ctx)
			return nil, fmt.Errorf("auth stack: metrics: %w", err)
		}
	}

	if n, ok := o.Store.(ChangeNotifier); ok {
		s.unsubscribe = n.Subscribe(s.caches.apply)
	} else {
		o.Logger.Warn("the tenancy store has no change feed: authentication caches keep entries at most cache.DownTTL",
			zap.Duration("ttl", s.caches.opts.DownTTL))
		s.unsubscribe = func() {}
	}
	return s, nil
}

func canonicalHeader(name, def string) string {
	if name == "" {
		name = def
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// register adds the stack's metrics to reg. Labels: none (bounded by
// construction).
func (s *AuthStack) register(reg prometheus.Registerer, jit prometheus.Counter) error {
	w, c := s.lastUsed, s.caches
	cs := []prometheus.Collector{
		jit,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "strangler_auth_cache_invalidations_total",
			Help: "Changes from the tenancy change feed applied to the authentication caches.",
		}, func() float64 { return float64(c.invalidations.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strangler_auth_change_feed_live",
			Help: "1 while the tenancy change feed is live; 0 while cache entries are capped at the short TTL.",
		}, func() float64 {
			if c.live.Load() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "strangler_auth_api_key_last_used_dropped_total",
			Help: "API-key uses not recorded in last_used_at because the writer's queue was full.",
		}, func() float64 { return float64(w.dropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "strangler_auth_api_key_last_used_write_failures_total",
			Help: "Failed last_used_at writes (the uses of that interval are dropped).",
		}, func() float64 { return float64(w.failed.Load()) }),
	}
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	return nil
}

// Authenticate identifies the caller of r on a route whose auth policy is
// policy (config required|optional|none). It returns the caller's
// Principal (shared, read-only); nil, nil for an anonymous caller where the
// policy allows one; an error wrapping ErrInvalidCredentials for any
// credential that is not valid — on every route, none included; or
// ErrAuthRequired when a required route gets no credential.
func (s *AuthStack) Authenticate(ctx context.Context, r *http.Request, policy string) (*Principal, error) {
	p, err := s.chain.Authenticate(ctx, r)
	if errors.Is(err, ErrNoCredentials) {
		return anonymous(policy)
	}
	return p, err
}

// Method names how p authenticated, for logs: "api_key", "jwt:<issuer
// name>" (the built-in issuer is "jwt:builtin") or "anonymous" for nil.
func (s *AuthStack) Method(p *Principal) string {
	switch {
	case p == nil:
		return "anonymous"
	case p.Kind == PrincipalAPIKey:
		return "api_key"
	case p.Kind == PrincipalUser:
		if m, ok := s.methods[p.Issuer]; ok {
			return m
		}
		return "jwt"
	}
	return p.Kind.String()
}

// Resolve resolves the tenant and checks the permission (Resolver).
func (s *AuthStack) Resolve(ctx context.Context, in ResolveInput) (Resolution, error) {
	return s.resolver.Resolve(ctx, in)
}

// MintAssertion signs the X-Tenant-Assertion of tc (AssertionMinter).
func (s *AuthStack) MintAssertion(ctx context.Context, tc TenantContext) (string, error) {
	return s.minter.MintAssertion(ctx, tc)
}

// RefreshAssertion re-signs an assertion this issuer signed, with a fresh
// expiry (AssertionMinter.RefreshAssertion): for shadow copies replayed
// after the original expired.
func (s *AuthStack) RefreshAssertion(ctx context.Context, token string) (string, error) {
	return s.minter.RefreshAssertion(ctx, token)
}

// OrgHeader and ProjectHeader are the canonical names of
// tenancy.org_header and tenancy.project_header.
func (s *AuthStack) OrgHeader() string     { return s.orgHeader }
func (s *AuthStack) ProjectHeader() string { return s.projectHeader }

// ChangeFeedLive reports whether the store's change feed is delivering
// (readiness, tests): while it is not, cached entries live at most
// CacheOptions.DownTTL.
func (s *AuthStack) ChangeFeedLive() bool { return s.caches.live.Load() }

// Signer returns the built-in issuer's signer (assertions, JWKS).
func (s *AuthStack) Signer() *Signer { return s.signer }

// JWKSHandler serves GET /.well-known/jwks.json: the keys that verify
// X-Tenant-Assertion (and the built-in issuer's access tokens).
func (s *AuthStack) JWKSHandler() http.Handler { return s.signer.JWKSHandler() }

// InvalidateCaches drops every cached credential and tenant answer (an
// operator's lever after a key compromise; the change feed makes it
// unnecessary otherwise).
func (s *AuthStack) InvalidateCaches() {
	s.caches.flush()
	if s.verifier != nil {
		s.verifier.InvalidateCache()
	}
}

// Close unsubscribes from the change feed, stops the JWK Set refreshes and
// flushes the pending last_used_at writes (waiting at most until ctx ends).
// It is idempotent.
func (s *AuthStack) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.unsubscribe()
		s.closeErr = s.closeBackground(ctx)
	})
	return s.closeErr
}

func (s *AuthStack) closeBackground(ctx context.Context) error {
	if s.verifier != nil {
		s.verifier.Close()
	}
	if err := s.lastUsed.close(ctx); err != nil {
		return fmt.Errorf("auth stack: flush last_used_at: %w", err)
	}
	return nil
}

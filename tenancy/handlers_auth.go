package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
)

// identityAuth is what the handlers need of the authentication stack
// (AuthStack): the same authenticators and tenant resolution as the
// request pipeline, so a caller is judged alike on /orgs and on proxied
// routes.
type identityAuth interface {
	// Authenticate identifies the caller (policy: config.AuthRequired...).
	Authenticate(ctx context.Context, r *http.Request, policy string) (*Principal, error)
	// Resolve resolves an org reference for the caller and checks a
	// permission.
	Resolve(ctx context.Context, in ResolveInput) (Resolution, error)
}

var _ identityAuth = (*AuthStack)(nil)

// HandlersOptions configure NewHandlers. Config, Store and Auth are
// required; Signer too when auth.issuer.enabled.
type HandlersOptions struct {
	// Config supplies auth.issuer (enabled, access_ttl, refresh_ttl) and
	// tenancy.roles (the permissions the tenant API checks and the scopes
	// an API key may name).
	Config *config.Config
	// Store is the tenancy data.
	Store Store
	// Auth authenticates callers of /auth/me, /auth/logout and the tenant
	// API, and resolves their org: the AuthStack of the pipeline (share
	// it, so its caches serve both).
	Auth identityAuth
	// Signer signs access tokens: the signer the AuthStack verifies the
	// built-in issuer's tokens with (AuthStack.Signer()).
	Signer *Signer
	// Sessions answers whether a built-in token's session was logged out.
	// Nil: one is made on Store (and closed by Close). Share one instance
	// with the pipeline.
	Sessions *SessionRevocations
	// ServeJWKS mounts GET /.well-known/jwks.json (the Signer's keys). Leave
	// false when the pipeline mounts AuthStack.JWKSHandler: one mount.
	ServeJWKS bool
	// RefreshGrace is the window in which a rotated refresh token may be
	// presented again without revoking its family (two concurrent refreshes
	// both succeed). Default DefaultRefreshGrace (10 s); negative: none.
	RefreshGrace time.Duration
	// RateLimits bound login, signup and refresh attempts.
	RateLimits RateLimitOptions
	// MaxBodyBytes bounds request bodies (413 beyond). Default
	// DefaultMaxBodyBytes (64 KiB).
	MaxBodyBytes int64
	// MaxConcurrentHashes bounds argon2id computations running at once:
	// each holds 19 MiB, so a burst of logins cannot exhaust memory; others
	// wait their turn. Default max(2, GOMAXPROCS).
	MaxConcurrentHashes int
	// ClientIP returns the client address of a request, recorded in audit
	// entries and sessions and used as the per-IP rate-limit key. Default:
	// the connection's peer address. Behind a load balancer, read its
	// header here — trusting only what the balancer sets.
	ClientIP func(*http.Request) string
	// Now is the clock. Default time.Now. The Signer has its own.
	Now func() time.Time
	// Logger receives failures (store errors, unwritten audit entries).
	Logger *zap.Logger
}

// Handlers serves the built-in issuer (SPEC §6) and the tenant management
// API (SPEC §7) on the public listener:
//
//	POST /auth/signup   {email, password, org_name?, org_slug?}  → 201 user, memberships, tokens
//	POST /auth/login    {email, password}                         → 200 tokens
//	POST /auth/refresh  {refresh_token}                           → 200 tokens (rotated)
//	POST /auth/logout   [Bearer access token] [{refresh_token}]   → 204
//	GET  /auth/me                                                 → 200 user, memberships
//	GET  /.well-known/jwks.json (with ServeJWKS)
//	GET/POST /orgs, GET/PATCH/DELETE /orgs/{org}, …/projects, …/members,
//	…/invitations, …/api-keys (handlers_orgs.go and the files beside it)
//
// Tokens: {access_token, refresh_token, expires_in, token_type: "Bearer"};
// the access token is a JWT of the Signer whose sid is the refresh-token
// family, so logout (which revokes the family) ends it too on every route
// that consults SessionRevocations.
//
// State shared between requests: the rate limiters (bounded tables), the
// session-revocation cache, the argon2id slots. Nothing is held across I/O.
type Handlers struct {
	store    Store
	auth     identityAuth
	signer   *Signer
	revoked  *SessionRevocations
	ownsRev  bool
	roles    *RolePermissions
	sessions *sessions
	limits   *rateLimiters
	audit    *auditor
	hashes   chan struct{}
	issuerOn bool
	jwks     bool
	maxBody  int64
	clientIP func(*http.Request) string
	now      func() time.Time
	log      *zap.Logger
}

// NewHandlers validates opts and builds the handlers.
func NewHandlers(o HandlersOptions) (*Handlers, error) {
	if o.Config == nil || o.Store == nil || o.Auth == nil {
		return nil, errors.New("identity handlers: Config, Store and Auth are required")
	}
	if o.Config.Auth.Issuer.Enabled && o.Signer == nil {
		return nil, errors.New("identity handlers: auth.issuer.enabled needs a Signer")
	}
	roles, err := NewRolePermissions(o.Config.Tenancy.Roles)
	if err != nil {
		return nil, fmt.Errorf("identity handlers: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.ClientIP == nil {
		o.ClientIP = clientIPFromRemote
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxConcurrentHashes <= 0 {
		o.MaxConcurrentHashes = max(2, runtime.GOMAXPROCS(0))
	}
	switch {
	case o.RefreshGrace == 0:
		o.RefreshGrace = DefaultRefreshGrace
	case o.RefreshGrace < 0:
		o.RefreshGrace = 0
	}
	refreshTTL := o.Config.Auth.Issuer.RefreshTTL.D()
	if refreshTTL <= 0 {
		refreshTTL = DefaultRefreshTTL
	}
	h := &Handlers{
		store:    o.Store,
		auth:     o.Auth,
		signer:   o.Signer,
		revoked:  o.Sessions,
		roles:    roles,
		limits:   newRateLimiters(o.RateLimits, o.Now),
		hashes:   make(chan struct{}, o.MaxConcurrentHashes),
		issuerOn: o.Config.Auth.Issuer.Enabled,
		jwks:     o.ServeJWKS && o.Signer != nil,
		maxBody:  o.MaxBodyBytes,
		clientIP: o.ClientIP,
		now:      o.Now,
		log:      o.Logger,
	}
	if h.revoked == nil {
		h.revoked = NewSessionRevocations(o.Store, SessionRevocationOptions{Now: o.Now, Logger: o.Logger})
		h.ownsRev = true
	}
	h.sessions = &sessions{store: o.Store, signer: o.Signer, ttl: refreshTTL, grace: o.RefreshGrace, now: o.Now}
	h.audit = &auditor{store: o.Store, log: o.Logger, clientIP: o.ClientIP}
	return h, nil
}

// Register mounts the endpoints with mount — proxy.Server.HandlePublic, or
// an http.ServeMux's Handle. The /auth/* endpoints are mounted only when
// auth.issuer.enabled.
func (h *Handlers) Register(mount func(pattern string, handler http.Handler)) {
	if h.issuerOn {
		mount("POST /auth/signup", http.HandlerFunc(h.signup))
		mount("POST /auth/login", http.HandlerFunc(h.login))
		mount("POST /auth/refresh", http.HandlerFunc(h.refresh))
		mount("POST /auth/logout", http.HandlerFunc(h.logout))
		mount("GET /auth/me", http.HandlerFunc(h.me))
	}
	if h.jwks {
		mount("GET /.well-known/jwks.json", h.signer.JWKSHandler())
	}
	h.registerTenantAPI(mount)
}

// Sessions returns the session-revocation checker the handlers use (for
// the pipeline to share: SessionRevocations.Wrap).
func (h *Handlers) Sessions() *SessionRevocations { return h.revoked }

// Close releases what NewHandlers started (the revocation checker's feed
// subscription, when it made one).
func (h *Handlers) Close() {
	if h.ownsRev {
		h.revoked.Close()
	}
}

// fail answers r with e.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	writeAPIError(w, r, h.log, e)
}

// ---- passwords ----

// hashPassword runs argon2id in one of the bounded slots.
func (h *Handlers) hashPassword(ctx context.Context, password string) (string, error) {
	if err := h.acquireHash(ctx); err != nil {
		return "", err
	}
	defer func() { <-h.hashes }()
	return HashPassword(password)
}

// verifyPassword checks password against encoded — against
// UnknownUserPasswordHash when encoded is empty (no such user, or a user
// without a password), so that answer costs the same time.
func (h *Handlers) verifyPassword(ctx context.Context, password, encoded string) (bool, error) {
	if err := h.acquireHash(ctx); err != nil {
		return false, err
	}
	defer func() { <-h.hashes }()
	if encoded == "" {
		_, _ = VerifyPassword(password, UnknownUserPasswordHash)
		return false, nil
	}
	ok, err := VerifyPassword(password, encoded)
	if err != nil {
		// A stored hash this code cannot read: spend the same time anyway.
		_, _ = VerifyPassword(password, UnknownUserPasswordHash)
		return false, err
	}
	return ok, nil
}

func (h *Handlers) acquireHash(ctx context.Context) error {
	select {
	case h.hashes <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ---- rate limits ----

// limitIP spends one attempt of r's address on l; a refusal is 429.
func (h *Handlers) limitIP(l *keyedLimiter, r *http.Request) *apiError {
	if _, wait := l.take(rateKeyIP(h.clientIP(r))); wait > 0 {
		return errTooMany(wait)
	}
	return nil
}

// limitKey spends one attempt of key on l.
func limitKey(l *keyedLimiter, key string) (ticket, *apiError) {
	t, wait := l.take(key)
	if wait > 0 {
		return ticket{}, errTooMany(wait)
	}
	return t, nil
}

func (h *Handlers) meta(r *http.Request) sessionMeta {
	return sessionMeta{userAgent: r.UserAgent(), clientIP: h.clientIP(r)}
}

package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/flags"
	"github.com/7cycles-ai/strangler/proxy"
	"github.com/7cycles-ai/strangler/shadow"
	"github.com/7cycles-ai/strangler/tenancy"
)

// Options configure New.
type Options struct {
	// Config is the validated configuration (config.Load applies defaults).
	Config *config.Config
	// Logger receives every log line. Nil: no logging.
	Logger *zap.Logger
	// AccessLogger, when set, receives the proxy's access log lines
	// instead of Logger (proxy.Options.AccessLogger).
	AccessLogger *zap.Logger
	// Seed is loaded into the stores at start (orgs, users, API keys,
	// flags). Nil: store.seed_file when set (memory store only), else none.
	Seed *tenancy.Seed
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// ShadowTransport overrides the shadow engine's transport (tests).
	ShadowTransport http.RoundTripper
}

// App is one running strangler: stores, authentication, flags, shadow
// engine and the proxy server, wired together.
type App struct {
	// Server is the proxy; its Handler and AdminHandler are ready to serve.
	Server *proxy.Server
	// Tenancy, Flags and ShadowStore are the data stores.
	Tenancy     tenancy.Store
	Flags       flags.Store
	ShadowStore shadow.Store
	// Engine is the shadow engine (started by Serve, or by Start).
	Engine *shadow.Engine
	// Auth is the authentication stack; Signer the built-in issuer's keys.
	Auth   *tenancy.AuthStack
	Signer *tenancy.Signer
	// Decider decides each request's mode.
	Decider *flags.Decider
	// Seeded is what the seed created, with generated API key plaintexts.
	Seeded tenancy.SeedResult

	cfg       *config.Config
	log       *zap.Logger
	now       func() time.Time
	stores    *stores
	retention *shadow.Retention
	sessions  *tenancy.SessionRevocations
	identity  *tenancy.Handlers
	cancelBg  context.CancelFunc
	started   bool
}

// New builds the whole application from cfg. Nothing listens yet: call
// Serve. On error everything already opened is closed.
func New(ctx context.Context, o Options) (_ *App, err error) {
	if o.Config == nil {
		return nil, errors.New("app: Config is required")
	}
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	a := &App{cfg: cfg, log: log, now: now}
	defer func() {
		if err != nil {
			a.Close(context.Background())
		}
	}()

	st, err := openStores(ctx, cfg, now)
	if err != nil {
		return nil, err
	}
	a.stores, a.Tenancy, a.Flags, a.ShadowStore = st, st.tenancy, st.flags, st.shadow
	dir := orgDirectory{store: st.tenancy}

	if err := a.loadSeed(ctx, o.Seed, dir); err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	signer, err := tenancy.NewSigner(cfg.Auth.Issuer, now, log)
	if err != nil {
		return nil, fmt.Errorf("auth.issuer: %w", err)
	}
	a.Signer = signer
	// One revocation checker serves the pipeline (a logged-out session's
	// access token is refused) and the identity endpoints.
	a.sessions = tenancy.NewSessionRevocations(st.tenancy, tenancy.SessionRevocationOptions{Logger: log, Now: now})
	a.Auth, err = tenancy.NewAuthStack(ctx, tenancy.AuthStackOptions{
		Config: cfg, Store: st.tenancy, Signer: signer, Sessions: a.sessions, Logger: log, Registry: reg, Now: now,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}

	provider, providerErr, err := a.flagProvider(st.flags)
	if err != nil {
		return nil, err
	}
	routes := make([]string, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = r.Name
	}
	a.Decider, err = flags.NewDecider(flags.DeciderOptions{
		Provider: provider, Routes: routes, Logger: log, Registerer: reg, Now: now,
	})
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}

	legacyURL, newURL, err := upstreamURLs(cfg)
	if err != nil {
		return nil, err
	}
	var shadower proxy.Shadower
	if newURL != nil {
		a.Engine, err = shadow.NewEngine(shadow.Options{
			Shadow: cfg.Shadow, Routes: cfg.Routes, Legacy: legacyURL, New: newURL,
			Store: st.shadow, Logger: log, Registerer: reg, Now: now, Transport: o.ShadowTransport,
			Halted:        a.Decider.Halted,
			ReplayHeaders: proxy.RefreshAssertionHeader(a.Auth.RefreshAssertion),
		})
		if err != nil {
			return nil, fmt.Errorf("shadow: %w", err)
		}
		shadower = proxy.NewEngineShadower(a.Engine)
		a.retention = &shadow.Retention{Store: st.shadow, Keep: cfg.Shadow.Retention.D(), Every: time.Hour, Now: now, Logger: log}
	}

	auth := proxy.NewTenancyAuth(a.Auth)
	a.Server, err = proxy.New(proxy.Options{
		Config: cfg, Logger: log, AccessLogger: o.AccessLogger, Registry: reg,
		Authenticator: auth, Authorizer: auth,
		ModeDecider: proxy.NewFlagsModeDecider(a.Decider),
		Shadower:    shadower,
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if err := a.mount(dir, providerErr); err != nil {
		return nil, err
	}
	return a, nil
}

// loadSeed loads the seed (Options.Seed or store.seed_file) into the stores.
func (a *App) loadSeed(ctx context.Context, seed *tenancy.Seed, dir orgDirectory) error {
	if seed == nil && a.cfg.Store.SeedFile != "" {
		s, err := tenancy.ReadSeedFile(a.cfg.Store.SeedFile)
		if err != nil {
			return fmt.Errorf("store.seed_file: %w", err)
		}
		seed = &s
	}
	if seed == nil {
		return nil
	}
	res, err := tenancy.LoadSeed(ctx, a.stores.tenancy, *seed)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	a.Seeded = res
	fs, err := flags.DecodeSeed(&seed.Flags)
	if err != nil {
		return fmt.Errorf("seed: flags: %w", err)
	}
	if err := flags.ApplySeed(ctx, a.stores.flags, fs, dir.flagsResolver, "seed"); err != nil {
		return fmt.Errorf("seed: flags: %w", err)
	}
	return nil
}

// flagProvider builds the OpenFeature provider of flags.provider, and the
// readiness check of a file provider (an invalid file keeps the last good
// state but must show in /readyz).
func (a *App) flagProvider(store flags.Store) (openfeature.FeatureProvider, func() error, error) {
	switch a.cfg.Flags.Provider {
	case "", "store":
		return flags.NewStoreProvider(store, flags.StoreProviderOptions{Logger: a.log}), nil, nil
	case "file":
		p := flags.NewFileProvider(a.cfg.Flags.File, flags.FileProviderOptions{Logger: a.log})
		return p, p.Err, nil
	default:
		return nil, nil, fmt.Errorf("flags.provider: unknown provider %q", a.cfg.Flags.Provider)
	}
}

// upstreamURLs parses the upstream URLs; the new one may be absent (legacy
// only, no shadowing).
func upstreamURLs(cfg *config.Config) (*url.URL, *url.URL, error) {
	legacy, err := url.Parse(cfg.Upstreams.Legacy.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("upstreams.legacy.url: %w", err)
	}
	if cfg.Upstreams.New.URL == "" {
		return legacy, nil, nil
	}
	nu, err := url.Parse(cfg.Upstreams.New.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("upstreams.new.url: %w", err)
	}
	return legacy, nu, nil
}

// mount adds the proxy's own endpoints, the admin API and readiness checks.
func (a *App) mount(dir orgDirectory, providerErr func() error) error {
	srv := a.Server
	srv.HandlePublic("GET /.well-known/jwks.json", a.Auth.JWKSHandler())
	if err := a.mountIdentity(); err != nil {
		return err
	}

	guard := &adminAuth{bootstrap: []byte(a.cfg.Admin.BootstrapToken), store: a.Tenancy, stack: a.Auth, log: a.log}
	requestID := func(r *http.Request) string { return proxy.RequestIDFromContext(r.Context()) }
	if a.cfg.Flags.Provider != "file" {
		// With a file provider the flag file is the truth: endpoints that
		// change a store nobody reads would mislead operators.
		fh, err := flags.NewAdminHandler(flags.AdminOptions{
			Store: a.Flags, Actor: actorFrom, ResolveOrg: dir.flagsResolver,
			Routes: routeNames(a.cfg), RequestID: requestID, Logger: a.log,
		})
		if err != nil {
			return fmt.Errorf("flags admin: %w", err)
		}
		for _, p := range []string{"/admin/api/flags", "/admin/api/flags/", "/admin/api/kill-switch"} {
			srv.HandleAdmin(p, guard.wrap(fh))
		}
	}
	sh, err := shadow.NewAdminHandler(shadow.AdminOptions{
		Store: a.ShadowStore, Readiness: a.cfg.Shadow.Readiness, Actor: actorFrom,
		Modes: modeLister{flags: a.Flags, orgs: a.Tenancy}, Orgs: dir, Audit: a.auditAck,
		RequestID: requestID, Now: a.now, Logger: a.log,
	})
	if err != nil {
		return fmt.Errorf("shadow admin: %w", err)
	}
	srv.HandleAdmin("/admin/api/shadow/", guard.wrap(sh))
	ta := tenancyAdmin{store: a.Tenancy, dir: dir, log: a.log}
	srv.HandleAdmin("GET /admin/api/orgs", guard.wrap(http.HandlerFunc(ta.orgs)))
	srv.HandleAdmin("GET /admin/api/orgs/{org}", guard.wrap(http.HandlerFunc(ta.orgShow)))
	srv.HandleAdmin("GET /admin/api/orgs/{org}/api-keys", guard.wrap(http.HandlerFunc(ta.orgKeyList)))
	srv.HandleAdmin("DELETE /admin/api/orgs/{org}/api-keys/{id}", guard.wrap(http.HandlerFunc(ta.revokeKey)))
	srv.HandleAdmin("GET /admin/api/audit", guard.wrap(http.HandlerFunc(ta.audit)))

	srv.AddReadyCheck("store", a.stores.ping)
	srv.AddReadyCheck("flags", func(context.Context) error { return a.Decider.Ready() })
	if providerErr != nil {
		srv.AddReadyCheck("flags_file", func(context.Context) error { return providerErr() })
	}
	return nil
}

// auditAck records a diff-class acknowledgement in the platform audit log.
func (a *App) auditAck(ctx context.Context, e shadow.AckEvent) error {
	before, _ := json.Marshal(map[string]any{"status": e.Before})
	after, _ := json.Marshal(map[string]any{"status": e.After, "note": e.Note, "route": e.Route, "org_ids": e.OrgIDs})
	return a.Tenancy.AppendAudit(ctx, tenancy.AuditEntry{
		ActorType: adminActorType(e.Actor), ActorID: e.Actor, Actor: e.Actor, Action: "shadow.class." + e.Action,
		TargetType: "diff_class", TargetID: e.Fingerprint,
		Before: before, After: after, Reason: e.Note,
	})
}

// adminActorType maps an admin actor (adminauth.go) to the audit log's
// actor types.
func adminActorType(actor string) string {
	switch {
	case strings.HasPrefix(actor, "user:"):
		return tenancy.ActorUser
	case strings.HasPrefix(actor, "admin"):
		return tenancy.ActorAdminToken
	}
	return tenancy.ActorSystem
}

func routeNames(cfg *config.Config) []string {
	out := make([]string, len(cfg.Routes))
	for i, r := range cfg.Routes {
		out[i] = r.Name
	}
	return out
}

// Start starts the background work (shadow engine, retention). Serve calls
// it; tests that drive Server.Handler directly call it themselves.
func (a *App) Start(ctx context.Context) error {
	if a.started {
		return nil
	}
	a.started = true
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancelBg = cancel
	// Bounded: a flag store that cannot be reached must not keep the
	// proxy from serving; every request is legacy until it is ready.
	wait, cancelWait := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWait()
	if err := a.Decider.WaitReady(wait); err != nil {
		a.log.Warn("flag provider not ready at start: every request is legacy until it is", zap.Error(err))
	}
	if a.Engine != nil {
		if err := a.Engine.Start(bg); err != nil {
			return fmt.Errorf("shadow engine: %w", err)
		}
		go a.retention.Run(bg)
	}
	return nil
}

// Serve starts the background work and serves both listeners until ctx is
// done, then drains: in-flight requests within server.shutdown_grace, then
// the shadow queue (best effort) within what is left of it.
func (a *App) Serve(ctx context.Context, public, admin net.Listener) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	err := a.Server.Serve(ctx, public, admin)
	drain, cancel := context.WithTimeout(context.Background(), a.Server.ShutdownGrace())
	defer cancel()
	a.Close(drain)
	return err
}

// Close stops everything New and Start started. Safe to call more than once.
func (a *App) Close(ctx context.Context) {
	if a.Engine != nil && a.started {
		if err := a.Engine.Shutdown(ctx); err != nil {
			a.log.Warn("shadow engine shutdown", zap.Error(err))
		}
		a.Engine = nil
	}
	if a.cancelBg != nil {
		a.cancelBg()
		a.cancelBg = nil
	}
	if a.Decider != nil {
		_ = a.Decider.Close(ctx)
		a.Decider = nil
	}
	if a.identity != nil {
		a.identity.Close()
		a.identity = nil
	}
	if a.Auth != nil {
		_ = a.Auth.Close(ctx)
		a.Auth = nil
	}
	if a.sessions != nil {
		a.sessions.Close()
		a.sessions = nil
	}
	if a.stores != nil {
		a.stores.close()
		a.stores = nil
	}
}

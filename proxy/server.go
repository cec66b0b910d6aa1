package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Server is the proxy: the public pipeline, the admin endpoints and the
// listeners' lifecycle. Create it with New; it is safe for concurrent use.
type Server struct {
	cfg      settings
	log      *zap.Logger
	access   *zap.Logger // the access log: log unless Options.AccessLogger
	registry *prometheus.Registry
	metrics  *metrics
	routes   *routeTable
	ids      *idGenerator
	buffers  *BufferPool

	legacy *backend
	newBE  *backend // nil when upstreams.new is not configured

	authn    Authenticator
	authz    Authorizer
	decider  ModeDecider
	shadower Shadower
	// fallbackMaxBody caps the buffered body of a retryable request (0:
	// never buffered).
	fallbackMaxBody int64

	// Per-route metric caches, by Route.Index; then "none" (no match).
	routeMetrics []*routeMetrics
	noneMetrics  *routeMetrics

	public       *http.ServeMux
	publicMu     sync.RWMutex
	publicPrefix []string // literal prefixes of the public patterns
	hasPublic    atomic.Bool

	admin *http.ServeMux
	ready readiness

	upgraded upgradedConns
	onHijack func(net.Conn) // s.trackUpgrade, bound once
	draining atomic.Bool
	serving  atomic.Bool

	handler http.Handler
}

// New builds a Server from opts. It validates the parts of the configuration
// the proxy uses (upstream URLs, route patterns) and reports every problem.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("proxy: Options.Config is required")
	}
	cfg, err := provision(opts.Config)
	routes, rerr := compileRoutes(opts.Config.Routes)
	if err = errors.Join(err, rerr); err != nil {
		return nil, fmt.Errorf("proxy: invalid configuration: %w", err)
	}
	ids, err := newIDGenerator()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}

	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}

	access := opts.AccessLogger
	if access == nil {
		access = log
	}
	s := &Server{
		cfg:      cfg,
		log:      log,
		access:   access,
		registry: reg,
		metrics:  m,
		routes:   routes,
		ids:      ids,
		buffers:  NewBufferPool(),
		authn:    opts.Authenticator,
		authz:    opts.Authorizer,
		decider:  opts.ModeDecider,
		shadower: opts.Shadower,
		public:   http.NewServeMux(),
		admin:    http.NewServeMux(),
	}
	s.fallbackMaxBody = opts.FallbackMaxBodyBytes
	switch {
	case s.fallbackMaxBody == 0:
		s.fallbackMaxBody = defaultFallbackMaxBody
	case s.fallbackMaxBody < 0:
		s.fallbackMaxBody = 0
	}
	s.legacy = newBackend(BackendLegacy, cfg.legacy, s.buffers, cfg.debugHeaders, log)
	if cfg.newUp.url != nil {
		s.newBE = newBackend(BackendNew, cfg.newUp, s.buffers, cfg.debugHeaders, log)
	}
	for _, r := range routes.routes {
		s.routeMetrics = append(s.routeMetrics, newRouteMetrics(r.Name))
	}
	s.noneMetrics = newRouteMetrics("none")

	if s.authn == nil {
		for _, r := range routes.routes {
			if r.Auth == "required" {
				log.Warn("route requires authentication but no authenticator is configured: requests pass through anonymously",
					zap.String("route", r.Name))
			}
		}
	}

	s.admin.HandleFunc("GET /healthz", s.healthz)
	s.admin.HandleFunc("GET /readyz", s.readyz)
	s.admin.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.handler = http.HandlerFunc(s.servePublic)
	s.onHijack = s.trackUpgrade
	return s, nil
}

// trackUpgrade registers a connection hijacked by a protocol switch.
func (s *Server) trackUpgrade(c net.Conn) {
	s.metrics.upgraded.Inc()
	s.upgraded.add(c)
}

// untrackUpgrade forgets it when its handler returns.
func (s *Server) untrackUpgrade(c net.Conn) {
	s.metrics.upgraded.Dec()
	s.upgraded.remove(c)
}

// Handler returns the public pipeline: request id, public endpoints, route
// match, authentication, tenant resolution, mode decision, forwarding.
func (s *Server) Handler() http.Handler { return s.handler }

// AdminHandler returns the admin endpoints: /healthz, /readyz, /metrics and
// whatever is mounted with HandleAdmin.
func (s *Server) AdminHandler() http.Handler { return s.admin }

// Registry returns the registry /metrics serves, for other components to
// register their collectors.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// HandlePublic mounts an endpoint the proxy serves itself on the public
// listener (/auth/*, /orgs/..., /.well-known/jwks.json). pattern is an
// http.ServeMux pattern ("POST /auth/login", "/orgs/{org}"); these endpoints
// are matched before the route table, get a request id (in the context, see
// RequestIDFromContext, and in the X-Request-Id request header), the access
// log and metrics, but no authentication hook: they authenticate themselves.
// A path that matches a pattern but not its method falls through to the
// route table. Panics, like http.ServeMux, on an invalid or conflicting
// pattern.
func (s *Server) HandlePublic(pattern string, h http.Handler) {
	s.publicMu.Lock()
	defer s.publicMu.Unlock()
	s.public.Handle(pattern, publicEndpoint{h: h, metrics: newRouteMetrics(pattern)})
	s.publicPrefix = append(s.publicPrefix, patternPrefix(pattern))
	s.hasPublic.Store(true)
}

// HandleAdmin mounts an endpoint on the admin listener (/admin/api/...,
// /ui/). pattern is an http.ServeMux pattern.
// Admin endpoints get a request id too (RequestIDFromContext, and the
// X-Request-Id response header), so their error bodies and audit entries
// can be traced like the public listener's.
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.admin.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{Context: r.Context(), method: r.Method, remote: r.RemoteAddr}
		st.id = s.ids.requestID(r.Header)
		w.Header().Set(headerRequestID, st.id)
		h.ServeHTTP(w, r.WithContext(st))
	}))
}

// publicEndpoint is a mounted public handler with its metric cache.
type publicEndpoint struct {
	h       http.Handler
	metrics *routeMetrics
}

func (p publicEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

// patternPrefix returns the literal path prefix of a ServeMux pattern:
// "POST example.com/orgs/{org}" → "/orgs/".
func patternPrefix(pattern string) string {
	p := pattern
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = strings.TrimLeft(p[i:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[i:]
	}
	if i := strings.IndexByte(p, '{'); i >= 0 {
		p = p[:i]
	}
	return p
}

// matchPublic returns the public endpoint for r, if any.
func (s *Server) matchPublic(r *http.Request) (publicEndpoint, bool) {
	if !s.hasPublic.Load() {
		return publicEndpoint{}, false
	}
	s.publicMu.RLock()
	prefixed := false
	for _, p := range s.publicPrefix {
		if strings.HasPrefix(r.URL.Path, p) {
			prefixed = true
			break
		}
	}
	s.publicMu.RUnlock()
	if !prefixed {
		return publicEndpoint{}, false
	}
	h, pattern := s.public.Handler(r)
	if pattern == "" {
		return publicEndpoint{}, false
	}
	if pe, ok := h.(publicEndpoint); ok {
		return pe, true
	}
	// A redirect to the clean form of a public path.
	return publicEndpoint{h: h, metrics: s.noneMetrics}, true
}

// Serve serves the public pipeline on public and the admin endpoints on
// admin (which may be nil) until ctx is done, then drains: /readyz turns
// 503, the listeners close, in-flight requests get up to the configured
// shutdown grace to finish, upgraded (WebSocket) connections are closed, and
// the upstream pools are released. It returns nil after a complete drain,
// an error when a listener failed or requests were still running when the
// grace ran out (they are then cut off). Serve may be called once.
func (s *Server) Serve(ctx context.Context, public, admin net.Listener) error {
	if public == nil {
		return errors.New("proxy: serve: public listener is required")
	}
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("proxy: serve: already called")
	}
	errLog := warnLog(s.log.Named("http"))
	pub := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.readHeaderTimeout,
		IdleTimeout:       s.cfg.idleTimeout,
		MaxHeaderBytes:    s.cfg.maxHeaderBytes,
		ErrorLog:          errLog,
		// No ReadTimeout/WriteTimeout: they would cut off long uploads,
		// downloads and streams. Idle and header timeouts bound idle
		// and slow-loris clients; the upstream timeout bounds the wait.
	}
	servers := []*http.Server{pub}
	listeners := []net.Listener{public}
	if admin != nil {
		adm := &http.Server{
			Handler:           s.admin,
			ReadHeaderTimeout: s.cfg.readHeaderTimeout,
			IdleTimeout:       s.cfg.idleTimeout,
			MaxHeaderBytes:    s.cfg.maxHeaderBytes,
			ErrorLog:          errLog,
		}
		servers = append(servers, adm)
		listeners = append(listeners, admin)
	}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			err := srv.Serve(listeners[i])
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("serve %s: %w", listeners[i].Addr(), err)
			}
			errc <- err
		}()
	}
	s.log.Info("proxy serving", zap.Stringer("public", public.Addr()), zap.Bool("admin", admin != nil))

	var serveErr error
	pending := len(servers)
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		pending--
	}

	// Drain.
	s.draining.Store(true)
	s.log.Info("proxy draining", zap.Duration("grace", s.cfg.shutdownGrace))
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.shutdownGrace)
	defer cancel()
	var drainErr error
	if err := pub.Shutdown(graceCtx); err != nil {
		drainErr = fmt.Errorf("drain: requests still in flight after %s, closing them: %w", s.cfg.shutdownGrace, err)
		_ = pub.Close()
	}
	if n := s.upgraded.closeAll(); n > 0 {
		s.log.Info("closed upgraded connections", zap.Int("count", n))
	}
	for _, srv := range servers[1:] {
		if err := srv.Shutdown(graceCtx); err != nil {
			_ = srv.Close()
		}
	}
	for ; pending > 0; pending-- {
		if err := <-errc; err != nil && serveErr == nil {
			serveErr = err
		}
	}
	s.legacy.transport.CloseIdleConnections()
	if s.newBE != nil {
		s.newBE.transport.CloseIdleConnections()
	}
	s.log.Info("proxy stopped")
	return errors.Join(serveErr, drainErr)
}

// ShutdownGrace returns how long Serve lets in-flight requests finish after
// its context is done (server.shutdown_grace, default 30s), for callers that
// size their own timeouts around the drain.
func (s *Server) ShutdownGrace() time.Duration { return s.cfg.shutdownGrace }

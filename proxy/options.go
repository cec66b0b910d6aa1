package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
)

// Options configure a Server. Only Config is required.
type Options struct {
	// Config is read for Server (listener behaviour, shutdown grace, debug
	// headers), Upstreams and Routes; the tenancy settings are the hooks'
	// business (they resolve the org header). Defaults are expected to be
	// applied by package config; New fills in what is still zero (see
	// provision) and never modifies Config.
	Config *config.Config
	// Logger receives the access log and error logs. Nil: no logging.
	Logger *zap.Logger
	// AccessLogger, when set, receives the access log lines instead of
	// Logger: strangler serve gives it a buffered sink (one write per
	// batch of lines instead of one per request).
	AccessLogger *zap.Logger
	// Registry receives the proxy's metrics and is served at /metrics. Nil:
	// a new registry with the Go and process collectors.
	Registry *prometheus.Registry

	// Authenticator identifies the caller of every routed request. Nil:
	// every caller is anonymous and no credential is checked here (the
	// upstream keeps doing its own authentication, as before the proxy).
	Authenticator Authenticator
	// Authorizer resolves the tenant and checks the route's permission
	// after authentication. Nil: the authenticated context is used as is.
	Authorizer Authorizer
	// ModeDecider picks legacy, shadow, canary or new per request. Nil:
	// every request is served in legacy mode.
	ModeDecider ModeDecider
	// Shadower receives the exchanges to compare in shadow and canary
	// modes (NewEngineShadower over a *shadow.Engine). Nil: nothing is
	// shadowed; the modes still choose the serving backend.
	Shadower Shadower
	// FallbackMaxBodyBytes caps the request body a safe (GET, HEAD,
	// OPTIONS, TRACE) request may have and still be retried on legacy when
	// the new backend fails after reading it: such a body is held in
	// memory, per request, while the new backend is asked. A body nobody
	// read is replayed whatever its size. 0: 1 MiB; negative: bodies are
	// never buffered (see fallback.go).
	FallbackMaxBodyBytes int64
}

// settings are the values the proxy runs with: the configuration with every
// zero value replaced by its default.
type settings struct {
	shutdownGrace     time.Duration
	debugHeaders      bool
	maxHeaderBytes    int
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	legacy            upstreamSettings
	newUp             upstreamSettings
}

// upstreamSettings describe one backend.
type upstreamSettings struct {
	url                 *url.URL // nil: not configured
	timeout             time.Duration
	maxIdleConnsPerHost int
	idleConnTimeout     time.Duration
	dialTimeout         time.Duration
}

// provision turns the configuration into settings, filling every value that
// is still zero. Package config applies the same defaults when it loads a
// file; they are repeated here because a Config built in Go (tests, the
// demo, an embedding program) may skip that step, and a zero timeout or pool
// size would silently mean "none" in net/http.
func provision(cfg *config.Config) (settings, error) {
	var errs []error
	s := settings{
		// 30s: long enough for ordinary requests to finish, short enough
		// for an orchestrator's termination grace period (Kubernetes: 30s).
		shutdownGrace: orDuration(cfg.Server.ShutdownGrace.D(), 30*time.Second),
		debugHeaders:  cfg.Server.DebugHeaders,
		// 1 MiB: net/http's own default (http.DefaultMaxHeaderBytes).
		maxHeaderBytes: int(orInt64(cfg.Server.MaxHeaderBytes.Int64(), 1<<20)),
		// 10s bounds slow-loris clients that trickle header bytes.
		readHeaderTimeout: orDuration(cfg.Server.ReadHeaderTimeout.D(), 10*time.Second),
		// 120s: above common client keep-alive settings, so clients close first.
		idleTimeout: orDuration(cfg.Server.IdleTimeout.D(), 120*time.Second),
	}
	var err error
	if s.legacy, err = provisionUpstream("upstreams.legacy", cfg.Upstreams.Legacy, true); err != nil {
		errs = append(errs, err)
	}
	if s.newUp, err = provisionUpstream("upstreams.new", cfg.Upstreams.New, false); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

func provisionUpstream(path string, u config.Upstream, required bool) (upstreamSettings, error) {
	s := upstreamSettings{
		// 60s: the SPEC default; long agent calls of the first user fit.
		timeout: orDuration(u.Timeout.D(), 60*time.Second),
		// 128: Go's default of 2 churns connections under load
		// (golang/go#6785); Caddy settled on 32 (caddy#2805) for many
		// upstreams, a proxy with two upstreams can afford more.
		maxIdleConnsPerHost: orInt(u.MaxIdleConnsPerHost, 128),
		// 50s: below the 60s+ keep-alive of most servers (a uvicorn behind
		// a load balancer is usually configured to outlive the balancer).
		idleConnTimeout: orDuration(u.IdleConnTimeout.D(), 50*time.Second),
		// 5s: a healthy upstream on the same network connects in
		// milliseconds; longer only delays the 502.
		dialTimeout: orDuration(u.DialTimeout.D(), 5*time.Second),
	}
	raw := strings.TrimSpace(u.URL)
	if raw == "" {
		if required {
			return s, fmt.Errorf("%s.url: required", path)
		}
		return s, nil
	}
	parsed, err := url.Parse(raw)
	switch {
	case err != nil:
		return s, fmt.Errorf("%s.url: %w", path, err)
	case parsed.Scheme != "http" && parsed.Scheme != "https":
		return s, fmt.Errorf("%s.url: scheme must be http or https, got %q", path, parsed.Scheme)
	case parsed.Host == "":
		return s, fmt.Errorf("%s.url: missing host", path)
	case parsed.User != nil || parsed.RawQuery != "" || parsed.Fragment != "":
		return s, fmt.Errorf("%s.url: must not carry user info, a query or a fragment", path)
	}
	s.url = parsed
	return s, nil
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orInt64(v, def int64) int64 {
	if v <= 0 {
		return def
	}
	return v
}

// Package proxy is the request pipeline of strangler: a reverse proxy that,
// in legacy mode, is indistinguishable from the legacy service it fronts.
//
// # Use
//
//	srv, err := proxy.New(proxy.Options{
//		Config:   cfg,      // *config.Config, defaults applied
//		Logger:   logger,   // *zap.Logger
//		Registry: registry, // nil: a new one, served at /metrics
//		// Optional hooks; nil means anonymous callers, legacy mode, no shadowing.
//		Authenticator: authn,
//		Authorizer:    authz,
//		ModeDecider:   proxy.NewFlagsModeDecider(decider),  // *flags.Decider
//		Shadower:      proxy.NewEngineShadower(engine),     // *shadow.Engine, started
//	})
//	srv.HandlePublic("POST /auth/login", loginHandler) // the proxy's own endpoints
//	srv.HandleAdmin("/admin/api/", adminAPI)
//	srv.AddReadyCheck("store", store.Ping)
//	err = srv.Serve(ctx, publicListener, adminListener) // until ctx is done, then drains
//	err = engine.Shutdown(drainCtx) // after Serve: in-flight requests hand over their copies as they end
//
// The relevant configuration (package config, SPEC §4):
//
//	server:
//	  shutdown_grace: 30s
//	  debug_headers: false      # true: X-Strangler-Backend/-Mode on responses
//	upstreams:
//	  legacy: { url: "http://127.0.0.1:8000", timeout: 60s }   # timeout = wait for response headers
//	  new:    { url: "http://127.0.0.1:8001", timeout: 60s, max_idle_conns_per_host: 128 }
//	routes:                     # first match wins
//	  - name: qa
//	    paths: ["/api/qa", "/api/posts/{id}/publish"]   # segment prefixes, {param} = one segment
//	    methods: [GET, POST]    # empty: any; GET admits HEAD
//	    auth: required
//	    permission: agents.run
//	  - name: default
//	    paths: ["/"]
//
// # The pipeline
//
// For every request on the public listener:
//
//  1. Request id: a single valid inbound X-Request-ID (≤128 bytes of
//     [A-Za-z0-9-_.:+/=@]) is kept, otherwise a new id is made (a random
//     per-process prefix and a counter: no syscall per request). It is in
//     the access log line, in every error body, and in the upstream request;
//     it is not added to proxied responses, which would then differ.
//  2. Public endpoints mounted with HandlePublic are matched first.
//  3. Route match (Route): first route whose path and method match; none →
//     404 not_found. Paths an upstream could read differently ("%2F",
//     "..", "//", ";params") must select the same route under every reading,
//     or the request is refused with 400 bad_request. Nearly all paths have
//     one reading and cost no allocation.
//  4. Authenticator (hook): identifies the caller; nil → anonymous.
//  5. Authorizer (hook): resolves the tenant, checks the permission.
//  6. ModeDecider (hook): legacy, shadow, canary or new; nil → legacy. An
//     invalid mode, a decider that panics, or a new-backend mode without
//     upstreams.new, is served by legacy and counted
//     (strangler_proxy_mode_fallbacks_total).
//  7. Forward to the serving backend (legacy for legacy/shadow, new for
//     canary/new), each with its own httputil.ReverseProxy and transport
//     (modes.go):
//     - shadow and canary: when a Shadower is set and the route allows the
//     method (safe methods; others only with the route's
//     shadow.unsafe_methods), the request body and the serving answer are
//     teed while they stream, and handed to the Shadower once the client
//     has been served — never waited for (shadowing.go);
//     - canary and new: a request whose new-backend attempt fails before
//     anything was written — connection refused, timeout, transport
//     error, 502/503/504 — is served by legacy when retrying is harmless:
//     safe methods on any of these failures, PUT and DELETE only when the
//     connection failed, never other methods; the body is replayed from
//     a bounded buffer, or as is when the new backend read none of it
//     (fallback.go).
//
// Inbound X-Shadow-Request, in any spelling, is removed like X-Tenant-*: a
// client must not be able to make the serving backend skip side effects.
// The shadow copy carries X-Shadow-Request: true and the serving request's
// X-Tenant-* headers, assertion included.
//
// With the flags package: NewFlagsModeDecider(decider) is the ModeDecider
// (route.<name>, kill switch strangler-enabled: off → legacy, so nothing is
// shadowed); NewEngineShadower(engine) is the Shadower over a
// *shadow.Engine.
//
// Hooks report refusals by returning an *Error (or wrapping one, e.g.
// ErrUnauthenticated, ErrForbidden, ErrOrgRequired); other errors become 500
// "internal". Proxy-made errors are JSON:
//
//	{"error":{"code":"upstream_timeout","message":"...","request_id":"..."}}
//
// # Transparency
//
// In legacy mode a response through the proxy equals the legacy response
// (status, body, end-to-end headers; net/http adds Date when the upstream
// sent none, as RFC 9110 §6.6.1 requires of a proxy):
//
//   - every method is forwarded, custom ones included;
//   - the path is forwarded byte for byte from the request line (via
//     URL.Opaque), the query byte for byte from URL.RawQuery;
//   - header names and repeated values are kept both ways; hop-by-hop headers
//     and those named in Connection are removed (httputil.ReverseProxy);
//   - Host is kept; X-Forwarded-For gets the client address appended;
//     X-Forwarded-Proto/-Host and Forwarded are kept when present, set
//     otherwise (appending to them breaks the frameworks reading them,
//     overwriting them breaks a legacy service behind a TLS load balancer);
//   - Accept-Encoding and encoded bodies pass untouched (no transparent gzip);
//     an upstream response without Content-Type gets none (no sniffing);
//   - SSE and chunked responses are flushed as they arrive; WebSocket and
//     other upgrades pass through (the response writer keeps http.Hijacker
//     and http.Flusher); bodies of any size stream through 32 KiB pooled
//     buffers; trailers pass both ways; Expect: 100-continue is forwarded and
//     the upstream's 100 relayed;
//   - a client that goes away cancels the upstream request.
//
// Headers the upstream never sees from a client: X-Tenant-* in any case or
// with '_' for '-' (the proxy sets them from the TenantContext). The client's
// Authorization passes unchanged.
//
// Known limits: requests net/http refuses to parse (a malformed %XX escape in
// the path, invalid header bytes) are answered 400 by net/http, not
// forwarded; a path that starts with "//" and holds bytes net/url would
// escape ('{', raw UTF-8) is forwarded with those bytes escaped; CONNECT is
// not tunnelled (it has no path, so no route matches).
//
// # Errors from upstreams
//
// Connection refused, reset or any dial failure → 502 upstream_unavailable.
// No response headers within the upstream's timeout → 504 upstream_timeout.
// Client gone → nothing written, logged with status 499 and outcome
// client_closed. A failure after the response began aborts the connection.
//
// # Observability
//
// One access log line per request (request_id, method, path without query,
// route, status, bytes, duration, backend, mode, outcome, remote).
// Prometheus metrics with bounded labels only — route, backend, mode, status
// class, outcome; never organization or user:
// strangler_proxy_requests_total, strangler_proxy_request_duration_seconds,
// strangler_proxy_response_bytes_total, strangler_proxy_requests_in_flight,
// strangler_proxy_upgraded_connections, strangler_proxy_mode_fallbacks_total
// (reasons invalid_mode, new_upstream_not_configured, and the fallbacks of
// a failed new backend: connect, timeout, transport, status_502,
// status_503, status_504), strangler_proxy_fallbacks_skipped_total (a
// failure legacy did not take over: method, body_too_large,
// body_unbuffered).
// The admin listener serves /healthz (process up), /readyz (every check
// registered with AddReadyCheck, 503 naming the failing ones, 503 "draining"
// during shutdown) and /metrics.
//
// # Shutdown
//
// When the context given to Serve is done: /readyz answers 503, the listeners
// close (new connections are refused), in-flight requests get up to
// server.shutdown_grace to finish, then upgraded connections (not tracked by
// net/http) are closed, and idle upstream connections released.
//
// # Shared state
//
// A Server shares between requests only immutable configuration (the
// compiled route table, the backends), the transports' connection pools,
// the copy-buffer pool, the metric children cache and the set of upgraded
// connections. Per-request state lives in the request's context and dies
// with the request.
package proxy

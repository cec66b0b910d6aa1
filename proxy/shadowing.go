package proxy

import (
	"context"
	"net/http"
)

// Shadowing (SPEC §10): in shadow and canary modes a sampled request is
// captured on its way to the serving backend and, once the client has been
// served, handed to a Shadower that sends a copy to the other backend and
// compares the answers. The serving path only copies bytes it is moving
// anyway into memory the capture owns; it never waits for the queue, the
// other backend or the results store.

// Shadower sends copies of served requests to the other backend for
// comparison. The proxy calls Begin in shadow and canary modes, for
// requests whose method the route allows (safe methods always; POST, PUT,
// PATCH, DELETE and the rest only with the route's shadow.unsafe_methods),
// before the serving backend is asked. Implementations decide sampling
// (shadow.sample_rate) and must answer without blocking: Begin runs on
// every such request.
//
// NewEngineShadower adapts a *shadow.Engine.
type Shadower interface {
	// Begin starts capturing one exchange and returns its tap, or nil
	// when the request is not to be shadowed (not sampled, shadowing
	// stopped). It may replace r.Body with a reader that copies what the
	// serving backend reads, byte for byte and at the same pace; it must
	// not read the body itself. ctx carries the request id
	// (RequestIDFromContext).
	Begin(ctx context.Context, r *http.Request, req ShadowRequest) ShadowTap
}

// ShadowRequest is what a Shadower learns about a request to shadow.
type ShadowRequest struct {
	// Route is the matched route: its Name selects the comparison rules
	// and sample rate (the route's shadow section).
	Route *Route
	// Tenant is the resolved tenant, nil when none was resolved. The copy
	// is sent with the same X-Tenant-* headers as the serving request
	// (the tap sees them on the serving request, see ShadowTap.Response).
	Tenant *TenantContext
	// Mode is ModeShadow or ModeCanary.
	Mode Mode
	// Serving is the backend answering the client; the copy goes to the
	// other one.
	Serving Backend
}

// ShadowTap is one captured exchange. Its methods are called by the
// request's goroutine, never concurrently with each other; the body
// readers it installs may be read from transport goroutines.
type ShadowTap interface {
	// Response is called with the serving backend's response before it is
	// copied to the client (from httputil.ReverseProxy's ModifyResponse).
	// resp.Request is the request as sent to the serving backend, tenant
	// headers included. The tap may replace resp.Body with a reader that
	// copies what the client is sent; it must not read the body itself.
	Response(resp *http.Response)
	// Fallback reports that the serving backend changed: a canary request
	// whose new-backend attempt failed was served by legacy. Both answers
	// would come from the same backend, so the exchange is not compared.
	Fallback(serving Backend)
	// Done is called once the client has been served, however the
	// exchange ended (a client that went away, a proxy error, a panic in
	// the copy), exactly once. It hands the exchange over without
	// waiting; what cannot be compared is counted, not hidden.
	Done()
}

// Shadows reports whether mode m sends a copy of the request to the
// backend that does not serve it: shadow (to new) and canary (to legacy).
func (m Mode) Shadows() bool { return m == ModeShadow || m == ModeCanary }

// safeMethod reports whether a method is safe (RFC 9110 §9.2.1): it asks
// for no change on the server, so a copy of it is harmless.
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// shadowAllowed reports whether the route lets a request with this method be
// shadowed: safe methods always, the others only where the route sets
// shadow.unsafe_methods — the other backend must then honour
// X-Shadow-Request: true and skip side effects. The Shadower is not trusted
// to enforce this: a copy of a POST to a backend that does not expect it
// would run the POST twice.
func shadowAllowed(route *Route, method string) bool {
	return safeMethod(method) || route.Shadow.UnsafeMethods
}

// mayShadow reports whether a request is to be offered to the Shadower: in
// shadow or canary mode, served by the backend of that mode, with a method
// the route allows. Nothing is shadowed without a new upstream: in shadow
// mode there is nobody to copy to, and a canary request without one is
// served by legacy (counted in decideBackend), with nothing to compare.
func (s *Server) mayShadow(st *requestState, route *Route, method string, serving Backend) bool {
	return s.shadower != nil && st.mode.Shadows() && s.newBE != nil &&
		serving == st.mode.Serving() && shadowAllowed(route, method)
}

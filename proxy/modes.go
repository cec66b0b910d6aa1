package proxy

import (
	"context"
	"net/http"
)

// The mode step (SPEC §8) between the mode decision and the upstream:
//
//	mode    serves the client   copy (shadowing.go)   new backend fails (fallback.go)
//	legacy  legacy              —                     —
//	shadow  legacy              to new                —
//	canary  new                 to legacy             idempotent requests served by legacy
//	new     new                 —                     idempotent requests served by legacy
//
// A legacy request goes straight to the legacy backend and costs nothing
// here. The others get a modeState: the per-request state of this step,
// which rides in the request's context so the ReverseProxy callbacks
// (ModifyResponse, ErrorHandler) reach it.

// modeState is the state of the mode step of one request. It is the request's
// context from this step on: it embeds the requestState (which answers
// stateKey) and answers modeStateKey itself. It belongs to one request and is
// not shared.
type modeState struct {
	context.Context // the requestState

	st    *requestState
	srv   *Server
	route *Route

	// tap captures the exchange for the comparison; nil when the request
	// is not shadowed. tapBackend is the backend whose answer it captures.
	tap        ShadowTap
	tapBackend Backend

	// retry is the fallback state of a request served by the new backend.
	retry retryState
}

// modeStateKey is the context key of the modeState.
type modeStateKey struct{}

// Value returns the modeState for modeStateKey and delegates every other key.
func (x *modeState) Value(key any) any {
	if _, ok := key.(modeStateKey); ok {
		return x
	}
	return x.Context.Value(key)
}

// modeStateFrom returns the modeState of a request past the mode step, or nil
// (legacy mode, or outside the pipeline).
func modeStateFrom(ctx context.Context) *modeState {
	x, _ := ctx.Value(modeStateKey{}).(*modeState)
	return x
}

// forward sends the request to the serving backend be of st.mode: with a
// shadow tap in shadow and canary modes, with the fallback to legacy when the
// new backend serves. It returns when the client has been served; the tap is
// then handed over (Done), without waiting for anything.
func (s *Server) forward(st *requestState, r *http.Request, route *Route, be *backend) {
	shadow := s.mayShadow(st, route, r.Method, be.name)
	if be.name == BackendLegacy && !shadow {
		be.proxy.ServeHTTP(&st.rw, r)
		return
	}
	x := &modeState{Context: st, st: st, srv: s, route: route}
	r = r.WithContext(x)
	if be.name == BackendNew {
		// Before the tap: the tap then copies what the new backend reads
		// of the (possibly buffered) body.
		x.retry.prepare(r, s.fallbackMaxBody)
	}
	if shadow {
		x.tap = s.shadower.Begin(x, r, ShadowRequest{Route: route, Tenant: st.tenant, Mode: st.mode, Serving: be.name})
		x.tapBackend = be.name
	}
	if x.tap != nil {
		// Deferred: httputil.ReverseProxy panics with http.ErrAbortHandler
		// when the client goes away mid-answer, and the exchange must be
		// handed over (and counted) all the same.
		defer x.tap.Done()
	}
	be.proxy.ServeHTTP(&st.rw, r)
	if be.name == BackendNew && x.retry.reason != "" {
		s.fallBack(x, r)
	}
}

// onResponse runs in ModifyResponse of backend b, before the response is
// copied to the client: a failed answer of the new backend may be turned
// into a fallback (the error makes ReverseProxy discard it and call the
// error handler, which then writes nothing); otherwise the shadow tap sees
// the serving answer.
func (x *modeState) onResponse(b *backend, res *http.Response) error {
	if b.name == BackendNew && x.retry.attempt == 0 {
		if err := x.retry.onStatus(x, res.StatusCode); err != nil {
			return err
		}
	}
	if x.tap != nil && b.name == x.tapBackend && !x.retry.fellBack {
		x.tap.Response(res)
	}
	return nil
}

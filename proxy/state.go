package proxy

import (
	"context"

	"go.uber.org/zap"
)

// requestState is everything the pipeline knows about one request. It is
// also the request's context: it embeds the server's request context and
// answers Value for stateKey, so the pipeline, the hooks and the
// ReverseProxy callbacks (Rewrite, ModifyResponse, ErrorHandler) reach it
// through r.Context() with a single allocation per request.
//
// Shared state: none. A requestState belongs to one request; it is not
// pooled, because a context may be retained after the handler returns
// (by the transport's connection goroutines, for instance).
type requestState struct {
	context.Context

	rw      responseWriter
	id      string
	rawPath string
	method  string
	path    string // for the log: the raw path, without the query
	remote  string

	route   *Route
	params  []Param
	tenant  *TenantContext
	mode    Mode
	backend string // "legacy", "new", "proxy" or "" (none)
	label   string // route label for logs and metrics
	slot    *routeMetrics

	outcome outcome
	err     error

	scratch matchScratch

	// One-element backing arrays for the header values the proxy sets on
	// the upstream request, so setting them does not allocate.
	idHdr, fwdFor, fwdHost, fwdProto [1]string
	// logFields backs the access log line.
	logFields [13]zap.Field
}

// stateKey is the context key of the requestState.
type stateKey struct{}

// Value returns the state for stateKey and delegates every other key.
func (st *requestState) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return st
	}
	return st.Context.Value(key)
}

// stateFrom returns the state of a pipeline context, or nil.
func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// RequestIDFromContext returns the request id of a request handled by the
// proxy pipeline (from the context hooks and public endpoints receive), or
// "" outside it.
func RequestIDFromContext(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// RouteFromContext returns the matched route and its path parameters, or
// nil outside the pipeline or before the route match.
func RouteFromContext(ctx context.Context) (*Route, []Param) {
	if st := stateFrom(ctx); st != nil {
		return st.route, st.params
	}
	return nil, nil
}

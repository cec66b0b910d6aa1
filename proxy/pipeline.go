package proxy

import (
	"errors"
	"net/http"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
)

// servePublic is the public pipeline (SPEC §5):
//
//	request id → public endpoints → route match → authenticate →
//	tenant + permission → mode decision → forward to the serving backend
//	(with the shadow tap and the fallback to legacy, modes.go)
//
// Each step either hands on or answers with a JSON error; the access log
// and metrics are written once, when the request ends, however it ends.
func (s *Server) servePublic(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &requestState{
		Context: r.Context(),
		method:  r.Method,
		remote:  r.RemoteAddr,
	}
	st.rw.reset(w, s.onHijack)
	st.rawPath = rawRequestPath(r.RequestURI, r.URL.EscapedPath())
	st.path = st.rawPath
	st.id = s.ids.requestID(r.Header)
	r = r.WithContext(st)
	s.metrics.inflight.Inc()
	defer s.finish(st, start)

	if pe, ok := s.matchPublic(r); ok {
		st.backend = "proxy"
		st.slot = pe.metrics
		st.label = pe.metrics.label
		// Public handlers do not import this package: give them the id
		// in the header they would read anyway.
		r.Header[headerRequestID] = []string{st.id}
		s.public.ServeHTTP(&st.rw, r)
		return
	}

	route, params, err := s.routes.match(r.Method, st.rawPath, &st.scratch)
	if err != nil {
		msg := "the request path is ambiguous"
		if errors.Is(err, errInvalidEscape) {
			msg = "the request path is not validly percent-encoded"
		}
		s.fail(st, newError(http.StatusBadRequest, CodeBadRequest, msg, err))
		return
	}
	if route == nil {
		s.fail(st, ErrNotFound)
		return
	}
	st.route, st.params = route, params
	st.label = route.Name
	st.slot = s.routeMetrics[route.Index]

	if s.authn != nil {
		tenant, err := s.authn.Authenticate(st, r, route)
		if err != nil {
			s.fail(st, hookError(err, "authentication failed"))
			return
		}
		st.tenant = tenant
	}
	if s.authz != nil {
		tenant, err := s.authz.Authorize(st, r, route, st.tenant)
		if err != nil {
			s.fail(st, hookError(err, "authorization failed"))
			return
		}
		st.tenant = tenant
	}

	be := s.decideBackend(st, r, route)
	st.backend = string(be.name)
	st.rw.noSniff = true
	s.forward(st, r, route, be)
}

// decideBackend decides the mode and returns the backend that serves the client.
func (s *Server) decideBackend(st *requestState, r *http.Request, route *Route) *backend {
	st.mode = ModeLegacy
	if s.decider == nil {
		return s.legacy
	}
	mode := s.decide(st, RequestInfo{Route: route, Method: r.Method, Tenant: st.tenant})
	if !mode.Valid() {
		s.metrics.fallback(route.Name, "invalid_mode")
		s.log.Warn("mode decider returned an invalid mode; serving legacy",
			zap.String("request_id", st.id), zap.String("route", route.Name), zap.String("mode", string(mode)))
		return s.legacy
	}
	st.mode = mode
	if mode.Serving() == BackendNew {
		if s.newBE == nil {
			s.metrics.fallback(route.Name, "new_upstream_not_configured")
			return s.legacy
		}
		return s.newBE
	}
	return s.legacy
}

// decide asks the ModeDecider. A decider that panics is treated like any
// flag failure (SPEC §5: any flag error → legacy): the request is served by
// legacy and the panic logged, instead of failing the request.
func (s *Server) decide(st *requestState, info RequestInfo) (mode Mode) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("mode decider panicked; serving legacy", zap.String("request_id", st.id),
				zap.String("route", info.Route.Name), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			mode = "" // invalid: counted as a fallback by the caller
		}
	}()
	return s.decider.Decide(st, info)
}

// fail answers with a proxy-made error.
func (s *Server) fail(st *requestState, e *Error) {
	if st.backend == "" {
		st.backend = "proxy"
	}
	st.outcome = outcomeOf(e.Code)
	st.err = e
	writeError(&st.rw, st.id, e)
}

// hookError turns a hook's error into the error the client sees: an *Error
// anywhere in the chain keeps its status, code and message; anything else is
// an internal failure, reported without its details.
func hookError(err error, what string) *Error {
	var e *Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status <= 599 && e.Code != "" {
		return &Error{Status: e.Status, Code: e.Code, Message: e.Message, Err: err}
	}
	return newError(http.StatusInternalServerError, CodeInternal, what, err)
}

// finish runs when the request ends: it writes the access log and metrics,
// and deals with panics. http.ErrAbortHandler (ReverseProxy aborting a
// response whose copy failed) is re-raised so net/http cuts the connection
// and the client sees a truncated response as an error; any other panic is
// logged with its stack and answered with 500 when nothing was sent yet.
func (s *Server) finish(st *requestState, start time.Time) {
	p := recover()
	if p != nil {
		if p == http.ErrAbortHandler {
			if st.Context.Err() != nil {
				st.outcome = outcomeClientClosed
			} else {
				st.outcome = outcomeUpstreamAborted
			}
		} else {
			s.log.Error("panic in request pipeline", zap.String("request_id", st.id),
				zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			st.outcome = outcomeInternal
			if !st.rw.wroteHeader {
				writeError(&st.rw, st.id, newError(http.StatusInternalServerError, CodeInternal, "internal error", nil))
				p = nil
			} else {
				p = http.ErrAbortHandler
			}
		}
	}
	if st.rw.hijacked != nil {
		s.untrackUpgrade(st.rw.hijacked)
	} else if p == nil {
		st.rw.sendComplete()
	}
	status := st.rw.status
	switch {
	case st.outcome == outcomeClientClosed && !st.rw.wroteHeader:
		status = statusClientClosed
	case status == 0:
		status = http.StatusOK
	}
	d := time.Since(start)
	s.metrics.inflight.Dec()
	slot := st.slot
	if slot == nil {
		slot = s.noneMetrics
	}
	s.metrics.observe(slot, st.backend, st.mode, status, st.outcome, st.rw.bytes, d)
	if st.label == "" {
		st.label = "none"
	}
	s.accessLog(st, status, d)
	if p != nil {
		panic(p)
	}
}

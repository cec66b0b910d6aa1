package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"go.uber.org/zap"
)

// Fallback (SPEC §8): in canary and new modes, a request whose new-backend
// attempt fails before anything was written to the client is served by
// legacy instead — when retrying it cannot do harm:
//
//	method                      connect failed   timeout   other transport error   502/503/504
//	GET HEAD OPTIONS TRACE      legacy           legacy    legacy                  legacy
//	PUT DELETE                  legacy           client    client                  client
//	POST PATCH and the rest     client           client    client                  client
//
// "client": the client gets what the new backend's failure gives (the 502 or
// 504 the proxy makes, or the new backend's own 502/503/504), counted in
// strangler_proxy_fallbacks_skipped_total{route,reason="method"}.
//
// Why PUT and DELETE only when the connection could not be made: RFC 9110
// §9.2.2 makes them idempotent towards one server. A timeout or a 502-504
// from a gateway in front of the new backend does not say whether the new
// backend applied the change; repeating it on legacy — another
// implementation, possibly over another datastore — applies it a second
// time through different code, with its own side effects (audit entries,
// notifications, webhooks) and no promise that the two converge. A refused
// connection proves the new backend never saw the request, so sending it
// to legacy is the same as having routed it there. POST, PATCH and custom
// methods are never retried (SPEC §8: idempotent requests only), not even
// then.
//
// The body: a request without one is always replayable. A safe request's
// body of at most Options.FallbackMaxBodyBytes (default 1 MiB) is read into
// memory before the new backend is asked (bodies on safe requests are rare;
// what is read is what is forwarded, byte for byte, with its original
// framing); a larger one, one of unknown length that runs past the cap, or
// one announced with Expect: 100-continue (the upstream decides whether
// it wants it) is streamed, and replayed only if the new backend read none
// of it — always the case when the connection failed, so PUT and DELETE
// need no buffering at all. A failure that cannot be retried because of
// the body is counted with reason body_too_large or body_unbuffered.
//
// Each fallback is counted in strangler_proxy_mode_fallbacks_total{route,
// reason} (connect, timeout, transport, status_502, status_503,
// status_504) and logged at warn with the request id. A canary exchange
// that fell back is not compared: the shadow tap is told (Fallback) and
// the legacy answer is not captured.

// Options.FallbackMaxBodyBytes default.
const defaultFallbackMaxBody = 1 << 20

// retryPolicy says which failures of the new backend a method may be
// retried on.
type retryPolicy uint8

const (
	retryNever   retryPolicy = iota // POST, PATCH, custom methods
	retryConnect                    // PUT, DELETE: only when the connection failed
	retryAll                        // safe methods: any failure before a response
)

func retryPolicyOf(method string) retryPolicy {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return retryAll
	case http.MethodPut, http.MethodDelete:
		return retryConnect
	}
	return retryNever
}

// failure is what went wrong with the new backend.
type failure uint8

const (
	failConnect   failure = iota // the connection could not be established
	failTimeout                  // no response headers within the upstream timeout
	failTransport                // any other error before a response (reset, EOF, TLS)
	failStatus                   // a 502, 503 or 504 response
)

// Fallback reasons (label values of strangler_proxy_mode_fallbacks_total).
const (
	fallbackConnect   = "connect"
	fallbackTimeout   = "timeout"
	fallbackTransport = "transport"
	fallbackStatus502 = "status_502"
	fallbackStatus503 = "status_503"
	fallbackStatus504 = "status_504"
)

// Reasons a failure was not retried (label values of
// strangler_proxy_fallbacks_skipped_total).
const (
	skipMethod         = "method"
	skipBodyTooLarge   = "body_too_large"
	skipBodyUnbuffered = "body_unbuffered"
)

// errFallback is returned from ModifyResponse to make httputil.ReverseProxy
// discard a 502/503/504 of the new backend (it closes the body and calls
// the error handler, which then writes nothing).
var errFallback = errors.New("new backend answered with a gateway error: serving from legacy")

// How the request body can be sent again.
type replayKind uint8

const (
	replayNoBody   replayKind = iota // nothing to send
	replayBuffered                   // buf holds all of it
	replayGuarded                    // guard knows whether any of it was read
)

// retryState is the fallback state of one request served by the new backend.
type retryState struct {
	policy retryPolicy
	// attempt is 0 for the new backend, 1 for the legacy one.
	attempt uint8
	// fellBack is set when the legacy attempt starts.
	fellBack bool
	// reason is set by the failed new attempt when legacy is to serve.
	reason string
	// cause is the failure, for the log.
	cause error

	body  replayKind
	buf   []byte
	guard *replayGuard
	// note is why a guarded body that was read cannot be replayed.
	note string
}

// prepare decides how the request could be retried and arranges its body:
// buffered up to max for safe methods, guarded otherwise.
func (rs *retryState) prepare(r *http.Request, max int64) {
	rs.policy = retryPolicyOf(r.Method)
	if rs.policy == retryNever || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	body := io.Reader(r.Body)
	if rs.policy == retryAll {
		switch {
		case max <= 0 || r.ContentLength > max:
			rs.note = skipBodyTooLarge
		case r.Header.Get("Expect") != "":
			// Reading the body now would make net/http answer 100
			// Continue on the upstream's behalf.
			rs.note = skipBodyUnbuffered
		default:
			buf, rest, err := bufferBody(r.Body, r.ContentLength, max)
			switch {
			case err != nil:
				// The client's body broke (it went away, or sent less
				// than announced): forward what came and the error, as
				// the body would have given them.
				body = io.MultiReader(bytes.NewReader(buf), errorReader{err})
				rs.note = skipBodyUnbuffered
			case rest:
				// Of unknown length and longer than the cap: stream it,
				// starting with what was read.
				body = io.MultiReader(bytes.NewReader(buf), r.Body)
				rs.note = skipBodyTooLarge
			default:
				rs.body, rs.buf = replayBuffered, buf
				r.Body = io.NopCloser(bytes.NewReader(buf))
				return
			}
		}
	}
	rs.body = replayGuarded
	rs.guard = &replayGuard{r: body}
	r.Body = rs.guard
}

// bufferBody reads a body of contentLength bytes (-1: unknown) of at most
// max bytes. rest reports a body of unknown length longer than max; buf then
// holds its first max+1 bytes. Memory grows with the bytes actually
// received, not with the announced length, so a client announcing a large
// body and sending nothing holds almost nothing.
func bufferBody(r io.Reader, contentLength, max int64) (buf []byte, rest bool, err error) {
	if contentLength > 0 {
		buf, err = io.ReadAll(io.LimitReader(r, contentLength))
		if err == nil && int64(len(buf)) < contentLength {
			err = io.ErrUnexpectedEOF
		}
		return buf, false, err
	}
	buf, err = io.ReadAll(io.LimitReader(r, max+1))
	return buf, int64(len(buf)) > max, err
}

// errorReader fails every read with err.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

// replayGuard passes a request body to the new backend and remembers
// whether any of it was read: a body nobody read can still be sent to
// legacy as it is, whatever its size. Once detached for the retry it
// refuses reads, so a late read by the failed attempt's transport cannot
// take bytes meant for legacy. Close does nothing: the body belongs to the
// request, closed by net/http when the handler returns
// (httputil.ReverseProxy does not close it either).
type replayGuard struct {
	r     io.Reader
	state atomic.Uint32
}

const (
	guardFresh uint32 = iota
	guardRead
	guardDetached
)

var errBodyDetached = errors.New("request body handed to the fallback backend")

// Read implements io.Reader.
func (g *replayGuard) Read(p []byte) (int, error) {
	if !g.state.CompareAndSwap(guardFresh, guardRead) && g.state.Load() == guardDetached {
		return 0, errBodyDetached
	}
	return g.r.Read(p)
}

// Close implements io.Closer; see replayGuard.
func (g *replayGuard) Close() error { return nil }

// detach takes the body for the retry if nothing was read; it reports
// whether it did.
func (g *replayGuard) detach() bool { return g.state.CompareAndSwap(guardFresh, guardDetached) }

// replayable reports whether the request may be retried on legacy after a
// failure of kind f, and commits the body to the retry when it may. skip
// is the reason it may not ("" when not worth counting: the client left).
func (rs *retryState) replayable(ctx context.Context, f failure) (ok bool, skip string) {
	if ctx.Err() != nil {
		return false, ""
	}
	switch rs.policy {
	case retryNever:
		return false, skipMethod
	case retryConnect:
		if f != failConnect {
			return false, skipMethod
		}
	}
	switch rs.body {
	case replayNoBody, replayBuffered:
		return true, ""
	}
	if rs.guard.detach() {
		return true, ""
	}
	if rs.note == "" {
		return false, skipBodyUnbuffered
	}
	return false, rs.note
}

// onStatus runs when the new backend answered: a 502, 503 or 504 of a
// request that may be retried becomes a fallback (errFallback).
func (rs *retryState) onStatus(x *modeState, status int) error {
	var reason string
	switch status {
	case http.StatusBadGateway:
		reason = fallbackStatus502
	case http.StatusServiceUnavailable:
		reason = fallbackStatus503
	case http.StatusGatewayTimeout:
		reason = fallbackStatus504
	default:
		return nil
	}
	ok, skip := rs.replayable(x.st, failStatus)
	if !ok {
		x.srv.skippedFallback(x, skip)
		return nil
	}
	rs.reason = reason
	rs.cause = errFallback
	return errFallback
}

// onError runs in the new backend's error handler: it reports whether the
// failure is to be answered by legacy, in which case nothing is written.
func (rs *retryState) onError(x *modeState, err error) bool {
	if errors.Is(err, errFallback) {
		return true
	}
	if rs.attempt != 0 || x.st.rw.wroteHeader {
		return false
	}
	f, reason := failureOf(err)
	ok, skip := rs.replayable(x.st, f)
	if !ok {
		x.srv.skippedFallback(x, skip)
		return false
	}
	rs.reason, rs.cause = reason, err
	return true
}

// failureOf classifies a transport error as classifyUpstreamError does.
func failureOf(err error) (failure, string) {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return failConnect, fallbackConnect
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return failTimeout, fallbackTimeout
	}
	return failTransport, fallbackTransport
}

// skippedFallback counts a failure of the new backend that legacy could not
// take over.
func (s *Server) skippedFallback(x *modeState, reason string) {
	if reason == "" {
		return
	}
	s.metrics.fallbackSkipped(x.route.Name, reason)
}

// fallBack serves the request from legacy after the new backend failed.
// Nothing has been written to the client.
func (s *Server) fallBack(x *modeState, r *http.Request) {
	rs, st := &x.retry, x.st
	rs.attempt, rs.fellBack = 1, true
	s.metrics.fallback(x.route.Name, rs.reason)
	s.log.Warn("new backend failed: serving from legacy",
		zap.String("request_id", st.id), zap.String("route", x.route.Name), zap.String("mode", string(st.mode)),
		zap.String("method", st.method), zap.String("reason", rs.reason), zap.Error(rs.cause))
	if x.tap != nil {
		x.tap.Fallback(BackendLegacy)
	}
	switch rs.body {
	case replayBuffered:
		r.Body = io.NopCloser(bytes.NewReader(rs.buf))
	case replayGuarded:
		r.Body = io.NopCloser(rs.guard.r)
	}
	st.backend = string(BackendLegacy)
	s.legacy.proxy.ServeHTTP(&st.rw, r)
}

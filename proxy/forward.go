package proxy

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// backend forwards requests to one upstream with its own ReverseProxy and
// transport, so the two upstreams have independent pools and timeouts.
type backend struct {
	name      Backend
	target    string // scheme://host of the upstream
	scheme    string
	host      string
	basePath  string // escaped path prefix of the upstream URL, no trailing slash
	transport *h1transport.Transport
	proxy     *httputil.ReverseProxy
	debug     bool
}

// newBackend builds the forwarder of one configured upstream.
func newBackend(name Backend, up upstreamSettings, pool *BufferPool, debug bool, log *zap.Logger) *backend {
	b := &backend{
		name:      name,
		target:    up.url.Scheme + "://" + up.url.Host,
		scheme:    up.url.Scheme,
		host:      up.url.Host,
		basePath:  strings.TrimSuffix(up.url.EscapedPath(), "/"),
		transport: newTransport(up),
		debug:     debug,
	}
	b.proxy = &httputil.ReverseProxy{
		Rewrite:   b.rewrite,
		Transport: b.transport,
		// Zero: ReverseProxy already flushes every write of a response
		// that is text/event-stream or has no Content-Length (chunked
		// streams, NDJSON, long polls). A response with a known length is
		// not a stream; flushing it per write would only add syscalls, and
		// -1 would also start a timer goroutine per response.
		FlushInterval: 0,
		BufferPool:    pool,
		ErrorHandler:  b.errorHandler,
		ErrorLog:      warnLog(log.Named("reverseproxy")),
	}
	// Always installed: the mode step (modes.go) sees every serving
	// answer there; a legacy request without debug headers leaves at once.
	b.proxy.ModifyResponse = b.modifyResponse
	return b
}

// warnLog bridges a standard-library logger (httputil, net/http) to zap at
// warn level: what they report (body copy failures, TLS handshake errors,
// superfluous WriteHeader calls) is worth seeing but not an error.
func warnLog(l *zap.Logger) *log.Logger {
	std, err := zap.NewStdLogAt(l, zapcore.WarnLevel)
	if err != nil { // only for an invalid level
		return zap.NewStdLog(l)
	}
	return std
}

// rewrite turns the inbound request into the upstream request.
// httputil.ReverseProxy has removed hop-by-hop headers and the inbound
// Forwarded/X-Forwarded-* before this runs.
func (b *backend) rewrite(pr *httputil.ProxyRequest) {
	st := stateFrom(pr.In.Context())
	out := pr.Out
	out.URL.Scheme = b.scheme
	out.URL.Host = b.host
	b.setPath(out, pr.In, st)
	// ReverseProxy drops query parameters it cannot parse (";", bad
	// escapes) before Rewrite: restore the query byte for byte.
	out.URL.RawQuery = pr.In.URL.RawQuery
	// Keep the Host the client sent; the upstream sees the public name.
	out.Host = pr.In.Host
	// Request.Clone copied the trailer map before the body was read, so
	// trailers the client sends after the body would be lost: share the
	// inbound map, which net/http fills when the body reaches EOF, before
	// the transport writes the trailers.
	out.Trailer = pr.In.Trailer
	setForwardedHeaders(pr, st)
	stripReservedHeaders(out.Header)
	stripReservedTrailers(out)
	if st != nil {
		st.idHdr[0] = st.id
		out.Header[headerRequestID] = st.idHdr[:]
		addTenantHeaders(out.Header, st.tenant)
	}
}

// setPath sets the upstream request target from the raw inbound path, byte
// for byte: URL.Opaque is written to the request line as is, where
// URL.EscapedPath would re-escape bytes net/url considers invalid ('{',
// raw UTF-8...). A path starting with "//" cannot be carried in Opaque (it
// would read as a scheme-relative URL), so it falls back to RawPath, which
// keeps it exact unless it also holds such bytes.
func (b *backend) setPath(out, in *http.Request, st *requestState) {
	raw := ""
	if st != nil {
		raw = st.rawPath
	} else {
		raw = rawRequestPath(in.RequestURI, in.URL.EscapedPath())
	}
	full := b.basePath + raw
	if !strings.HasPrefix(full, "/") {
		// "*" of OPTIONS * with no base path.
		out.URL.Opaque = full
		return
	}
	if strings.HasPrefix(full, "//") {
		// Only reachable with an empty base path.
		out.URL.Opaque = ""
		out.URL.Path = in.URL.Path
		out.URL.RawPath = full
		return
	}
	out.URL.Opaque = full
}

// modifyResponse runs before a response is copied to the client: the mode
// step may turn a failed new-backend answer into a fallback to legacy
// (returning an error makes ReverseProxy discard the answer and call
// errorHandler) or tee it for the shadow comparison; then the debug headers
// are added when debug_headers is on.
func (b *backend) modifyResponse(res *http.Response) error {
	ctx := res.Request.Context()
	st := stateFrom(ctx)
	if st == nil {
		return nil
	}
	if st.mode != ModeLegacy {
		if x := modeStateFrom(ctx); x != nil {
			if err := x.onResponse(b, res); err != nil {
				return err
			}
		}
	}
	if b.debug {
		res.Header[headerDebugBackend] = []string{string(b.name)}
		res.Header[headerDebugMode] = []string{string(st.mode)}
	}
	return nil
}

// errorHandler answers a failed upstream exchange:
//   - client gone (its context canceled): nothing is written — nobody is
//     listening — and the request is logged as client_closed with 499;
//   - upstream slower than its timeout: 504 upstream_timeout;
//   - anything else (refused, reset, DNS, TLS, dial timeout): 502
//     upstream_unavailable.
func (b *backend) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st := stateFrom(r.Context())
	if st == nil {
		// Not reached through the pipeline: answer without bookkeeping.
		writeError(w, "", classifyUpstreamError(r.Context(), err))
		return
	}
	if b.name == BackendNew && st.mode != ModeLegacy {
		if x := modeStateFrom(r.Context()); x != nil && x.retry.onError(x, err) {
			// Legacy serves instead (modes.go): nothing is written.
			return
		}
	}
	if st.rw.wroteHeader {
		// A failure after the response began (a failed upgrade copy):
		// nothing more can be sent.
		st.outcome = outcomeUpstreamAborted
		st.err = err
		return
	}
	e := classifyUpstreamError(r.Context(), err)
	st.err = e
	if e.Code == "client_closed" {
		st.outcome = outcomeClientClosed
		return
	}
	st.outcome = outcomeOf(e.Code)
	if b.debug {
		// writeError starts from an empty header map: add them as the
		// status is written.
		w = debugErrorWriter{ResponseWriter: w, backend: b.name, mode: st.mode}
	}
	writeError(w, st.id, e)
}

// debugErrorWriter adds the debug headers to a proxy-made error response.
type debugErrorWriter struct {
	http.ResponseWriter
	backend Backend
	mode    Mode
}

// WriteHeader sets the debug headers, then writes the status.
func (d debugErrorWriter) WriteHeader(code int) {
	h := d.Header()
	h[headerDebugBackend] = []string{string(d.backend)}
	h[headerDebugMode] = []string{string(d.mode)}
	d.ResponseWriter.WriteHeader(code)
}

// classifyUpstreamError maps a transport error to the error the client sees.
// A pseudo-code "client_closed" marks a request its client abandoned.
func classifyUpstreamError(ctx context.Context, err error) *Error {
	if ctx.Err() != nil {
		return newError(statusClientClosed, "client_closed", "client closed the request", err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return newError(http.StatusBadGateway, CodeUpstreamUnavailable, "the upstream service is unavailable",
			fmt.Errorf("connect upstream: %w", err))
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return newError(http.StatusGatewayTimeout, CodeUpstreamTimeout, "the upstream service did not answer in time",
			fmt.Errorf("await upstream: %w", err))
	}
	return newError(http.StatusBadGateway, CodeUpstreamUnavailable, "the upstream service is unavailable",
		fmt.Errorf("upstream exchange: %w", err))
}

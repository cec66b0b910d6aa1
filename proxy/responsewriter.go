package proxy

import (
	"bufio"
	"net"
	"net/http"
)

// responseWriter records the status and size of a response for the access
// log and metrics, without hiding what the underlying writer can do:
//   - Flush/FlushError and Hijack are implemented explicitly, so
//     http.Flusher and http.Hijacker type assertions keep working (SSE
//     flushing, WebSocket upgrades through httputil.ReverseProxy);
//   - Unwrap exposes the underlying writer to http.ResponseController
//     (deadlines, full duplex).
//
// It is embedded in requestState and lives for one request.
type responseWriter struct {
	w           http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	// noSniff stops net/http from inventing a Content-Type (by sniffing
	// the body) for an upstream response that has none.
	noSniff bool
	// hijacked is the connection taken over by a protocol upgrade.
	hijacked net.Conn
	// onHijack registers a hijacked connection for shutdown.
	onHijack func(net.Conn)
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ http.Hijacker       = (*responseWriter)(nil)
	_ interface {
		FlushError() error
		Unwrap() http.ResponseWriter
	} = (*responseWriter)(nil)
)

func (rw *responseWriter) reset(w http.ResponseWriter, onHijack func(net.Conn)) {
	*rw = responseWriter{w: w, onHijack: onHijack}
}

// Header returns the underlying header map.
func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader records the final status. Informational (1xx) responses, which
// httputil.ReverseProxy relays from the upstream (100 Continue, 103 Early
// Hints), pass through without counting as the final status.
func (rw *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.w.WriteHeader(code)
		return
	}
	if rw.wroteHeader {
		return
	}
	rw.wroteHeader = true
	rw.status = code
	if rw.noSniff {
		h := rw.w.Header()
		if _, ok := h["Content-Type"]; !ok {
			// A nil value suppresses net/http's content sniffing.
			h["Content-Type"] = nil
		}
	}
	rw.w.WriteHeader(code)
}

// Write writes body bytes, sending a 200 header first if none was written.
func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.w.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher.
func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// FlushError flushes buffered data to the client; http.ResponseController
// prefers it to Flush because it reports the error.
func (rw *responseWriter) FlushError() error {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(rw.w).Flush()
}

// sendComplete sends a finished answer of declared length to the client
// now, rather than when the handler returns, so the client does not wait
// for the access log and metrics. Only a declared length: net/http frames
// a response that has none by what is buffered when the handler returns
// (Content-Length if it all fits, chunked otherwise), and an early flush
// would turn the former into the latter.
func (rw *responseWriter) sendComplete() {
	if !rw.wroteHeader || rw.w.Header()["Content-Length"] == nil {
		return
	}
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker for protocol upgrades and registers the
// connection so that a shutdown can close it.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	rw.hijacked = conn
	if !rw.wroteHeader {
		// httputil.ReverseProxy writes the 101 itself on the connection.
		rw.wroteHeader = true
		rw.status = http.StatusSwitchingProtocols
	}
	if rw.onHijack != nil {
		rw.onHijack(conn)
	}
	return conn, brw, nil
}

// Unwrap returns the underlying writer for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

package proxy

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// statusClientClosed is logged (never sent) when the client went away before
// a response could be written, following nginx's convention.
const statusClientClosed = 499

// accessLog writes one line per request on the public listener:
//
//	{"msg":"request","request_id":"...","method":"GET","path":"/api/qa","route":"qa",
//	 "status":200,"bytes":1024,"duration":0.0012,"backend":"legacy","mode":"legacy",
//	 "outcome":"ok","remote":"10.0.0.7:51234"}
//
// Upstream failures are logged at warn, internal failures at error, with the
// cause in "error". The path is logged without its query, which may carry
// secrets. Level checks come first so a disabled level costs nothing.
func (s *Server) accessLog(st *requestState, status int, d time.Duration) {
	lvl := zapcore.InfoLevel
	switch st.outcome {
	case outcomeUpstreamUnavailable, outcomeUpstreamTimeout, outcomeUpstreamAborted:
		lvl = zapcore.WarnLevel
	case outcomeInternal:
		lvl = zapcore.ErrorLevel
	}
	ce := s.access.Check(lvl, "request")
	if ce == nil {
		return
	}
	fields := &st.logFields
	*fields = [13]zap.Field{
		zap.String("request_id", st.id),
		zap.String("method", st.method),
		zap.String("path", st.path),
		zap.String("route", st.label),
		zap.Int("status", status),
		zap.Int64("bytes", st.rw.bytes),
		zap.Duration("duration", d),
		zap.String("backend", st.backend),
		zap.String("mode", string(st.mode)),
		zap.String("outcome", st.outcome.String()),
	}
	n := 10
	if st.remote != "" {
		fields[n] = zap.String("remote", st.remote)
		n++
	}
	if st.err != nil {
		fields[n] = zap.Error(st.err)
		n++
	}
	ce.Write(fields[:n]...)
}

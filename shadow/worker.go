package shadow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// worker takes comparisons off the queue until Shutdown, then finishes
// what is queued (fast, as dropped, once the base context is cancelled).
func (e *Engine) worker() {
	defer e.workers.Done()
	for {
		select {
		case c := <-e.queue:
			e.process(&c)
		case <-e.quit:
			for {
				select {
				case c := <-e.queue:
					e.process(&c)
				default:
					return
				}
			}
		}
	}
}

// fetched is one answer read by a worker.
type fetched struct {
	ans     Answer
	buf     *[]byte
	latency time.Duration
}

// process replays, compares, classifies and records one comparison.
func (e *Engine) process(c *Comparison) {
	size := c.size()
	start := time.Now()
	var wait time.Duration // waiting for backends: not CPU
	defer func() {
		c.release()
		e.queued.Add(-size)
		e.guard.spent(time.Since(start) - wait)
	}()
	rs := e.route(c.Route)
	if e.baseCtx.Err() != nil {
		e.drop(rs, c, ReasonShutdown)
		return
	}
	if e.opts.Halted != nil && e.opts.Halted(e.baseCtx) {
		e.drop(rs, c, ReasonKillSwitch)
		return
	}
	if f := e.guard.admit(); f < c.admit && e.rand() >= f/c.admit {
		// Queued before the CPU guard lowered the factor: shed now as it
		// would have been then (not a result, like any shed request).
		rs.shed.Inc()
		return
	}
	shadowBackend := c.Serving.Other()
	base := e.backends[shadowBackend]
	if base == nil || c.URL == nil {
		reason := ReasonNoBackend
		if c.URL == nil {
			reason = ReasonInvalid
		}
		e.drop(rs, c, reason)
		return
	}

	res := Result{At: c.At, OrgID: c.OrgID, Route: c.Route, Serving: c.Serving}
	res.setLatency(c.Serving, c.Latency)

	got, reason, err := e.fetch(c, shadowBackend, &wait)
	if err != nil {
		if e.baseCtx.Err() != nil {
			// Aborted by Shutdown: not the candidate's fault.
			e.drop(rs, c, ReasonShutdown)
			return
		}
		if reason == ReasonInvalid {
			e.drop(rs, c, reason)
			return
		}
		res.Outcome, res.Reason = OutcomeCandidateError, reason
		e.record(rs, &res)
		return
	}
	defer e.pool.put(got.buf)
	res.setLatency(shadowBackend, got.latency)
	if got.ans.Status >= 500 && c.Response.Status < 500 {
		res.Outcome, res.Reason = OutcomeCandidateError, ReasonStatus5xx
		e.record(rs, &res)
		return
	}

	if e.opts.Shadow.NoiseProbe && safeMethod(c.Method) {
		e.probe(rs, c, &res, &wait)
	}

	legacy, newer := c.Response, got.ans
	legacyLat, newLat := c.Latency, got.latency
	if c.Serving == BackendNew {
		legacy, newer = got.ans, c.Response
		legacyLat, newLat = got.latency, c.Latency
	}
	rep, err := rs.rules.Compare(legacy, newer, CompareOptions{
		Noise:        e.noise.set(c.Route),
		DecodedLimit: e.decoded,
		Redact:       e.redact,
	})
	if err != nil {
		var be *BodyError
		errors.As(err, &be)
		side := BackendLegacy
		if be != nil && be.Side == SideCandidate {
			side = BackendNew
		}
		if side == c.Serving {
			res.Outcome, res.Reason = OutcomeDropped, ReasonTooLarge
		} else {
			res.Outcome, res.Reason = OutcomeCandidateError, ReasonTooLarge
		}
		e.record(rs, &res)
		return
	}
	res.NoiseSuppressed = rep.NoiseSuppressed
	if rep.NoiseSuppressed > 0 {
		e.metrics.noiseSuppressed.WithLabelValues(rs.label).Add(float64(rep.NoiseSuppressed))
	}
	if rep.Match() {
		res.Outcome = OutcomeMatch
		e.record(rs, &res)
		return
	}
	res.Outcome = OutcomeDiff
	res.Fingerprint = Fingerprint(c.Route, rep.Pattern)
	res.Pattern = rep.Pattern
	if len(res.Pattern) > MaxPattern {
		res.Pattern = res.Pattern[:MaxPattern]
	}
	if e.exemplars.take(res.Fingerprint, c.At) {
		res.Exemplar = e.exemplar(c, &rep, res.Fingerprint, legacy, newer, legacyLat, newLat)
	}
	e.record(rs, &res)
}

// record counts and hands a result to the recorder.
func (e *Engine) record(rs *routeState, res *Result) {
	rs.metrics.count(res.Outcome, res.Reason)
	if !e.rec.Add(*res) {
		e.metrics.recorderDropped.Inc()
	}
}

// probe asks the serving backend a second time and learns the paths in
// which its two answers differ as noise for the route. Only safe methods
// are probed: the serving backend may not honour X-Shadow-Request.
func (e *Engine) probe(rs *routeState, c *Comparison, res *Result, wait *time.Duration) {
	got, _, err := e.fetch(c, c.Serving, wait)
	if err != nil {
		e.metrics.probeErrors.WithLabelValues(rs.label).Inc()
		return
	}
	defer e.pool.put(got.buf)
	rep, err := rs.rules.Compare(c.Response, got.ans, CompareOptions{DecodedLimit: e.decoded})
	if err != nil || rep.Match() {
		return
	}
	paths := make([]string, 0, len(rep.Pattern))
	for _, pk := range rep.Pattern {
		if pk.Path != "status" {
			paths = append(paths, pk.Path)
		}
	}
	if added := e.noise.learn(c.Route, paths); len(added) > 0 {
		e.metrics.noiseLearned.WithLabelValues(rs.label).Add(float64(len(added)))
		e.log.Info("shadow: learned noise", zap.String("route", c.Route), zap.Strings("paths", added))
	}
	res.Noise = paths
}

// fetch replays the comparison's request on a backend and reads at most
// max_body_bytes of the answer. The context is detached from the client's
// request (long gone) and bounded by shadow.timeout. The time from the
// request written to the answer's first byte is added to wait: the CPU
// guard does not count it as shadow work.
func (e *Engine) fetch(c *Comparison, b Backend, wait *time.Duration) (fetched, Reason, error) {
	ctx, cancel := context.WithTimeout(e.baseCtx, e.timeout)
	defer cancel()
	// Offsets from t0 (monotonic), atomic: http.Transport calls the hooks
	// from its connection goroutines, possibly after RoundTrip returned.
	t0 := time.Now()
	var wrote, first atomic.Int64
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest:         func(httptrace.WroteRequestInfo) { wrote.Store(int64(time.Since(t0)) + 1) },
		GotFirstResponseByte: func() { first.Store(int64(time.Since(t0)) + 1) },
	})
	defer func() {
		w, f := wrote.Load(), first.Load()
		switch {
		case w == 0:
		case f == 0: // failed or timed out waiting
			*wait += time.Since(t0) - time.Duration(w-1)
		case f > w:
			*wait += time.Duration(f - w)
		}
	}()
	req, err := http.NewRequestWithContext(ctx, c.Method, "http://shadow.invalid/", bytes.NewReader(c.Body))
	if err != nil {
		return fetched{}, ReasonInvalid, err
	}
	req.URL = targetURL(e.backends[b], c.URL)
	req.Host = c.Host
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	req.Header = replayHeader(c.Header)
	if e.opts.ReplayHeaders != nil {
		if err := e.opts.ReplayHeaders(ctx, req.Header, e.now().Sub(c.At)); err != nil {
			return fetched{}, ReasonInvalid, fmt.Errorf("replay headers: %w", err)
		}
	}
	if len(c.Body) == 0 {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	}
	start := time.Now()
	resp, err := e.transport.RoundTrip(req)
	if err != nil {
		return fetched{}, classify(ctx, err), err
	}
	defer resp.Body.Close()
	buf, tooLarge, err := readBounded(e.pool, resp.Body, resp.ContentLength)
	if err != nil {
		return fetched{}, classify(ctx, err), err
	}
	if tooLarge {
		return fetched{}, ReasonTooLarge, errTooLarge
	}
	lat := time.Since(start)
	e.metrics.shadowDuration.WithLabelValues(e.route(c.Route).label, string(b)).Observe(lat.Seconds())
	return fetched{
		ans:     Answer{Status: resp.StatusCode, Header: resp.Header, Body: bufBytes(buf)},
		buf:     buf,
		latency: lat,
	}, "", nil
}

var errTooLarge = errors.New("answer larger than max_body_bytes")

func bufBytes(b *[]byte) []byte {
	if b == nil {
		return nil
	}
	return *b
}

// classify names a transport error.
func classify(ctx context.Context, err error) Reason {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded,
		errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &op) && op.Op == "dial":
		return ReasonConnect
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ReasonReset
	}
	return ReasonTransport
}

// exemplar builds the redacted evidence of one diff.
func (e *Engine) exemplar(c *Comparison, rep *Report, fp string, legacy, newer Answer, legacyLat, newLat time.Duration) *Exemplar {
	ex := &Exemplar{
		Fingerprint: fp,
		At:          c.At,
		OrgID:       c.OrgID,
		Route:       c.Route,
		Serving:     c.Serving,
		Request: ExemplarRequest{
			Method: c.Method,
			Path:   c.URL.EscapedPath(),
			Query:  e.redact.Query(c.URL.RawQuery),
			Header: e.redact.Header(c.Header),
			Body:   e.redact.Body(c.Body, c.Header.Get("Content-Type"), ExemplarBodyLimit),
		},
		Primary: ExemplarAnswer{
			Status:    legacy.Status,
			Header:    e.redact.Header(legacy.Header),
			Body:      e.redact.Body(rep.primaryBody, legacy.Header.Get("Content-Type"), ExemplarBodyLimit),
			LatencyMS: float64(legacyLat.Microseconds()) / 1000,
		},
		Candidate: ExemplarAnswer{
			Status:    newer.Status,
			Header:    e.redact.Header(newer.Header),
			Body:      e.redact.Body(rep.candidateBody, newer.Header.Get("Content-Type"), ExemplarBodyLimit),
			LatencyMS: float64(newLat.Microseconds()) / 1000,
		},
		Differences: rep.Differences,
	}
	return ex
}

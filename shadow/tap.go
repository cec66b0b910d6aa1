package shadow

import (
	"net/http"
	"net/url"
	"time"

	"github.com/7cycles-ai/strangler/internal/requri"
)

// Tap captures one sampled exchange on the serving path. The proxy creates
// it before forwarding (it wraps the request body), hands the serving
// response to CaptureResponse (from ReverseProxy.ModifyResponse: it wraps the
// response body and keeps the status and headers), and calls Finish once the
// client has been served. Nothing in it waits for anything.
//
//	if engine.Wants(route, r.Method) {
//		tap := engine.Tap(r, route, orgID, shadow.BackendLegacy) // wraps r.Body
//		defer tap.Finish() // after the client got its last byte
//		r = r.WithContext(context.WithValue(r.Context(), tapKey{}, tap))
//	}
//	rp.ServeHTTP(w, r) // ModifyResponse: tap from resp.Request.Context(), tap.CaptureResponse(resp)
//
// Finish must be deferred: httputil.ReverseProxy panics with
// http.ErrAbortHandler when the client goes away mid-answer, and the
// exchange must still be counted (as dropped, incomplete).
//
// A Tap is used by one request; CaptureResponse and Finish are not called
// concurrently with each other, but the body wrappers may be read from
// transport goroutines.
type Tap struct {
	eng     *Engine
	at      time.Time
	start   time.Time
	route   string
	org     string
	serving Backend
	method  string
	url     url.URL
	host    string
	skip    Reason

	req  Capture
	resp Capture

	responded  bool
	status     int
	respHeader http.Header
	reqHeader  http.Header
	done       bool
}

// Tap starts capturing a request that Wants said to shadow. It replaces
// r.Body with a tee (unless the request has no body); the serving backend
// reads exactly the same bytes, at the same pace.
func (e *Engine) Tap(r *http.Request, route, orgID string, serving Backend) *Tap {
	t := &Tap{
		eng:     e,
		at:      e.now(),
		start:   time.Now(),
		route:   route,
		org:     orgID,
		serving: serving,
		method:  r.Method,
		host:    r.Host,
	}
	if r.Header.Get("Upgrade") != "" {
		t.skip = ReasonUpgrade
	}
	if r.URL != nil {
		// RawPath is the path exactly as the client sent it: the copy
		// replays it byte for byte, as the serving request was forwarded.
		t.url = url.URL{Path: r.URL.Path, RawPath: requri.Path(r.RequestURI, r.URL.EscapedPath()), RawQuery: r.URL.RawQuery}
	}
	cl := r.ContentLength
	if r.Body == nil || r.Body == http.NoBody {
		cl = 0
	}
	t.req.init(e.pool, cl)
	if r.Body != nil && r.Body != http.NoBody && t.skip == "" {
		r.Body = &teeBody{rc: r.Body, c: &t.req}
	} else {
		t.req.markEOF()
	}
	return t
}

// SetServing changes the backend recorded as serving (a canary request that
// fell back to legacy). The comparison is then skipped: both answers would
// come from the same backend.
func (t *Tap) SetServing(b Backend) {
	if b != t.serving {
		t.serving = b
		t.skip = ReasonFallback
	}
}

// CaptureResponse records the serving answer's status and headers, and the
// headers the serving backend was sent (resp.Request, after the proxy's
// rewrite: tenant headers included), then tees resp.Body. Call it from
// ReverseProxy.ModifyResponse.
func (t *Tap) CaptureResponse(resp *http.Response) {
	if t.responded {
		return
	}
	t.responded = true
	t.status = resp.StatusCode
	t.respHeader = resp.Header.Clone()
	if resp.Request != nil {
		t.reqHeader = resp.Request.Header.Clone()
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		t.skip = ReasonUpgrade
		return
	}
	cl := resp.ContentLength
	if resp.Body == nil || resp.Body == http.NoBody {
		cl = 0
	}
	t.resp.init(t.eng.pool, cl)
	if t.req.tooLarge() {
		// Not comparable anyway: spare the copy.
		t.resp.overflow = true
		return
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		t.resp.markEOF()
		return
	}
	resp.Body = &teeBody{rc: resp.Body, c: &t.resp}
}

// Finish seals the captures and submits the comparison; call it after the
// client has been served. It returns whether the comparison was queued (an
// exchange that cannot be compared is recorded as dropped and returns
// false). Calling it twice does nothing.
func (t *Tap) Finish() bool {
	if t.done {
		return false
	}
	t.done = true
	return t.eng.Submit(t.Comparison())
}

// Discard seals the captures without recording anything (the exchange turned
// out not to be one to compare).
func (t *Tap) Discard() {
	if t.done {
		return
	}
	t.done = true
	c := t.Comparison()
	c.release()
}

// Comparison seals the captures into a Comparison that owns the pooled
// buffers (Engine.Submit gives them back).
func (t *Tap) Comparison() Comparison {
	c := Comparison{
		At:      t.at,
		Route:   t.route,
		OrgID:   t.org,
		Serving: t.serving,
		Method:  t.method,
		URL:     &t.url,
		Host:    t.host,
		Header:  t.reqHeader,
		pool:    t.eng.pool,
	}
	reqBuf, reqBody, reqReason := t.req.seal()
	respBuf, respBody, respReason := t.resp.seal()
	c.bufs = [2]*[]byte{reqBuf, respBuf}
	c.Body = reqBody
	c.Response = Answer{Status: t.status, Header: t.respHeader, Body: respBody}
	t.resp.mu.Lock()
	end := t.resp.eofAt
	t.resp.mu.Unlock()
	if end.IsZero() {
		end = time.Now()
	}
	c.Latency = end.Sub(t.start)
	switch {
	case t.skip != "":
		c.Skip = t.skip
	case !t.responded:
		c.Skip = ReasonNotServed
	case reqReason != "":
		c.Skip = reqReason
	case respReason != "":
		c.Skip = respReason
	}
	if c.Skip != "" {
		c.release()
	}
	return c
}

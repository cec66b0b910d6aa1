// Package h1transport is an http.RoundTripper that sends the common
// proxied request — HTTP/1.1 to a plain-http upstream, no body, no upgrade,
// no trailers — over its own keep-alive pools, entirely in the calling
// goroutine, and hands every other request to a wrapped http.Transport.
//
// Why: http.Transport moves each exchange between three goroutines (the
// caller, the connection's writer and its reader), and each hand-off may
// wake an idle thread. On the small machines the proxy is sized for, those
// hand-offs and wake-ups cost more CPU than the proxy's own work and most of
// the latency it adds at low load (BENCHMARKS.md). Writing the request and
// reading the answer in the caller leaves one wake-up: the network poller's.
//
// What stays with http.Transport: bodies (it writes a body while it reads an
// early answer, so an upstream that rejects an upload before reading it is
// heard), upgrades, trailers, TLS and HTTP/2. The wire format is net/http's
// own on both paths: Request.Write writes the request and http.ReadResponse
// parses the answer. Behaviour a caller can see is http.Transport's: dial
// errors are *net.OpError with Op "dial", a slow upstream fails with a
// net.Error whose Timeout() is true, a canceled request returns its
// context's error, informational answers reach httptrace's Got1xxResponse,
// a request a stale keep-alive connection failed before any byte of an
// answer is sent again on a new connection when it is replayable.
package h1transport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"
)

// Options configure a Transport. Zero values take the defaults named.
type Options struct {
	// DialContext dials upstream connections (default: a net.Dialer with
	// a 5 s timeout and 30 s TCP keep-alive).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ResponseHeaderTimeout bounds writing a request and waiting for the
	// answer's head (0: no bound). Bodies are not bounded.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes connections idle this long (default 50 s).
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerHost caps the idle connections kept per host
	// (default 128).
	MaxIdleConnsPerHost int
}

// Transport is the fast path in front of an http.Transport.
type Transport struct {
	std  *http.Transport
	opts Options
	// maxHead bounds an answer's head, 1xx answers included: std's
	// MaxResponseHeaderBytes, or http.Transport's default of 10 MiB.
	maxHead int64

	mu      sync.Mutex
	pools   map[string]*pool // by request URL host
	janitor *time.Timer      // closes connections idle longer than IdleConnTimeout
	armed   bool
}

// pool is the idle connections to one host, most recently used last.
type pool struct {
	addr string
	idle []*conn
}

// At most this many informational (1xx) answers before the final one, as
// in net/http.
const max1xx = 5

// New returns a Transport that sends what the fast path cannot take
// through std. The fast path bounds the answer's head as std does (its
// MaxResponseHeaderBytes, 10 MiB when zero).
func New(std *http.Transport, opts Options) *Transport {
	if opts.DialContext == nil {
		opts.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if opts.IdleConnTimeout <= 0 {
		opts.IdleConnTimeout = 50 * time.Second
	}
	if opts.MaxIdleConnsPerHost <= 0 {
		opts.MaxIdleConnsPerHost = 128
	}
	maxHead := std.MaxResponseHeaderBytes
	if maxHead <= 0 {
		maxHead = 10 << 20 // http.Transport's default
	}
	return &Transport{std: std, opts: opts, maxHead: maxHead, pools: map[string]*pool{}}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Eligible(req) {
		return t.std.RoundTrip(req)
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		// Canceled before it is sent: it does not spend (and close) a
		// pooled connection, as in http.Transport.
		return nil, err
	}
	p := t.pool(req.URL.Host)
	for attempt := 0; ; attempt++ {
		c, reused, err := t.getConn(ctx, p, attempt > 0)
		if err != nil {
			return nil, err
		}
		res, err := t.exchange(ctx, c, req)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A reused connection the upstream closed while it was idle fails
		// before any byte of an answer; a replayable request is sent once
		// more on a new connection, as http.Transport does.
		var nr *nothingReadError
		if !reused || attempt > 0 || !errors.As(err, &nr) || !replayable(req) {
			return nil, err
		}
	}
}

// CloseIdleConnections closes the idle connections of both paths.
func (t *Transport) CloseIdleConnections() {
	var idle []*conn
	t.mu.Lock()
	for _, p := range t.pools {
		idle = append(idle, p.idle...)
		clear(p.idle)
		p.idle = p.idle[:0]
	}
	t.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
	t.std.CloseIdleConnections()
}

// Eligible reports whether req takes the fast path. CONNECT stays with
// http.Transport, which gives it its own request line and tunnel.
func Eligible(req *http.Request) bool {
	return (req.Body == nil || req.Body == http.NoBody) && req.URL != nil && req.URL.Scheme == "http" && req.URL.Host != "" &&
		len(req.Trailer) == 0 && req.Header["Upgrade"] == nil && req.Header["Connection"] == nil &&
		req.Method != http.MethodConnect && validMethod(req.Method)
}

// replayable reports whether a request may be sent a second time after a
// stale connection failed it: idempotent methods, or a client-supplied
// idempotency key (the rule of http.Transport).
func replayable(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header["Idempotency-Key"] != nil || req.Header["X-Idempotency-Key"] != nil
}

// pool returns the pool of host, made on first use.
func (t *Transport) pool(host string) *pool {
	t.mu.Lock()
	p := t.pools[host]
	if p == nil {
		p = &pool{addr: dialAddr(host)}
		t.pools[host] = p
	}
	t.mu.Unlock()
	return p
}

// dialAddr adds the default http port to a host without one.
func dialAddr(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	h := host
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return net.JoinHostPort(h, "80")
}

// getConn returns an idle connection (reused true) or dials a new one.
func (t *Transport) getConn(ctx context.Context, p *pool, forceDial bool) (*conn, bool, error) {
	if !forceDial {
		if c := t.takeIdle(p); c != nil {
			return c, true, nil
		}
	}
	nc, err := t.opts.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	return newConn(nc, p), false, nil
}

// takeIdle pops the most recently used idle connection that is still
// usable, closing the ones that are not.
func (t *Transport) takeIdle(p *pool) *conn {
	for {
		t.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			t.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		t.mu.Unlock()
		idleFor := time.Since(c.idleSince)
		if idleFor >= t.opts.IdleConnTimeout {
			c.close()
			continue
		}
		// Every connection is looked at before reuse (one non-blocking
		// peek): a request that may not be replayed is only sent on one
		// known to be open, and bytes that arrived while it was idle (an
		// upstream out of step) would be read as the next request's
		// answer, handing one client of the proxy an answer meant for
		// nobody, or for another. http.Transport's background reader
		// catches both; the fast path has no reader between exchanges.
		if !c.alive() {
			c.close()
			continue
		}
		return c
	}
}

// put returns a connection to its pool.
func (t *Transport) put(c *conn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	p := c.pool
	if len(p.idle) >= t.opts.MaxIdleConnsPerHost {
		t.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	if !t.armed {
		t.armed = true
		if t.janitor == nil {
			t.janitor = time.AfterFunc(t.opts.IdleConnTimeout, t.prune)
		} else {
			t.janitor.Reset(t.opts.IdleConnTimeout)
		}
	}
	t.mu.Unlock()
}

// prune closes the connections idle longer than IdleConnTimeout and re-arms
// itself while any connection is idle.
func (t *Transport) prune() {
	now := time.Now()
	var expired []*conn
	next := time.Duration(-1)
	t.mu.Lock()
	for _, p := range t.pools {
		keep := p.idle[:0]
		for _, c := range p.idle {
			age := now.Sub(c.idleSince)
			if age >= t.opts.IdleConnTimeout {
				expired = append(expired, c)
				continue
			}
			keep = append(keep, c)
			if left := t.opts.IdleConnTimeout - age; next < 0 || left < next {
				next = left
			}
		}
		clear(p.idle[len(keep):])
		p.idle = keep
	}
	t.armed = next >= 0
	if t.armed {
		t.janitor.Reset(next)
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.close()
	}
}

// exchange writes req on c and reads the answer's head. On error c is
// closed. On success the connection goes back to the pool when the body has
// been read to its end (or at once for an answer without a body).
func (t *Transport) exchange(ctx context.Context, c *conn, req *http.Request) (*http.Response, error) {
	c.canceled.Store(false)
	if t.opts.ResponseHeaderTimeout > 0 {
		// Bounds the write and the wait for the answer's head, as
		// http.Transport's ResponseHeaderTimeout does (bodies are not
		// bounded: streams take as long as they need). Set before the
		// abort is armed, so that it never undoes the abort's deadline.
		_ = c.nc.SetDeadline(time.Now().Add(t.opts.ResponseHeaderTimeout))
	}
	stop := context.AfterFunc(ctx, c.abortFn)
	read := c.cr.n
	if err := req.Write(c.bw); err != nil {
		return c.fail(stop, read, fmt.Errorf("write request: %w", err))
	}
	if err := c.bw.Flush(); err != nil {
		return c.fail(stop, read, fmt.Errorf("write request: %w", err))
	}
	// The head's bound starts here, before any byte of it is buffered
	// (release pooled the connection with nothing buffered).
	c.cr.limit = c.cr.n + t.maxHead
	if trace := httptrace.ContextClientTrace(ctx); trace != nil {
		traceWait(trace, c)
	}
	res, err := readHead(ctx, c, req)
	if err != nil {
		if c.cr.n >= c.cr.limit {
			err = fmt.Errorf("read response: upstream response headers exceeded %d bytes", t.maxHead)
		}
		return c.fail(stop, read, err)
	}
	c.cr.limit = math.MaxInt64 // bodies are not bounded
	_ = c.nc.SetDeadline(time.Time{})
	if c.canceled.Load() {
		// Canceled while the deadline was being cleared: the abort's
		// deadline may have been undone, so nothing more is read here.
		return c.fail(stop, read, context.Cause(ctx))
	}
	reuse := !res.Close && !req.Close
	if res.Body == http.NoBody {
		t.release(c, stop, reuse)
		return res, nil
	}
	res.Body = &body{rc: res.Body, ctx: ctx, c: c, t: t, stop: stop, reuse: reuse}
	return res, nil
}

// traceWait reports the answer's first byte to a client trace, as
// http.Transport does. The peek reads nothing more than http.ReadResponse
// would read next. (WroteRequest is Request.Write's to report.)
func traceWait(trace *httptrace.ClientTrace, c *conn) {
	if trace.GotFirstResponseByte != nil {
		if _, err := c.br.Peek(1); err == nil {
			trace.GotFirstResponseByte()
		}
	}
}

// readHead reads answers until the final one, passing informational ones
// (103 Early Hints...) to the client trace (httputil.ReverseProxy installs
// one to relay them).
func readHead(ctx context.Context, c *conn, req *http.Request) (*http.Response, error) {
	for n1xx := 0; ; n1xx++ {
		res, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, fmt.Errorf("read response: %w", err)
		}
		code := res.StatusCode
		if code < 100 || code >= 200 {
			return res, nil
		}
		if code == http.StatusSwitchingProtocols {
			return nil, errors.New("read response: 101 Switching Protocols to a request that asked for no upgrade")
		}
		if n1xx >= max1xx {
			return nil, errors.New("read response: too many 1xx informational responses")
		}
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(res.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// release ends an exchange: the connection is pooled when the answer was
// read to its end, keep-alive was agreed and the exchange was not canceled.
func (t *Transport) release(c *conn, stop func() bool, reuse bool) {
	if !stop() || !reuse || c.br.Buffered() > 0 {
		// stop false: the cancel func ran and poisoned the deadline.
		// Buffered bytes past the answer: the upstream is out of step.
		c.close()
		return
	}
	t.put(c)
}

// nothingReadError marks a failure before any byte of an answer arrived.
type nothingReadError struct{ err error }

func (e *nothingReadError) Error() string { return e.err.Error() }
func (e *nothingReadError) Unwrap() error { return e.err }

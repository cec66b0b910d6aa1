package proxy

import (
	"net"
	"net/http"
	"time"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// newTransport returns the transport to one upstream: the fast path of
// package h1transport in front of an http.Transport tuned for proxying, which
// serves every request the fast path does not take.
func newTransport(up upstreamSettings) *h1transport.Transport {
	dialer := newDialer(up)
	return h1transport.New(newStdTransport(up, dialer), h1transport.Options{
		DialContext:           dialer.DialContext,
		ResponseHeaderTimeout: up.timeout,
		IdleConnTimeout:       up.idleConnTimeout,
		MaxIdleConnsPerHost:   up.maxIdleConnsPerHost,
	})
}

// newDialer returns the dialer both paths use.
func newDialer(up upstreamSettings) *net.Dialer {
	return &net.Dialer{
		Timeout: up.dialTimeout,
		// TCP keep-alive probes find dead idle upstream sockets.
		KeepAlive: 30 * time.Second,
	}
}

// newStdTransport returns an http.Transport tuned for proxying to one
// upstream. Every field that differs from http.DefaultTransport says why.
func newStdTransport(up upstreamSettings, dialer *net.Dialer) *http.Transport {
	return &http.Transport{
		// Never send upstream traffic through HTTP_PROXY/HTTPS_PROXY from
		// the environment: the upstream addresses are configured explicitly.
		Proxy:       nil,
		DialContext: dialer.DialContext,
		// A custom DialContext turns HTTP/2 off unless forced (FIELD-NOTES).
		ForceAttemptHTTP2: true,
		// One transport serves one host, so the global and per-host idle
		// caps are the same. Go's default of 2 per host churns connections
		// and exhausts ports in TIME_WAIT under load (golang/go#6785).
		MaxIdleConns:        up.maxIdleConnsPerHost,
		MaxIdleConnsPerHost: up.maxIdleConnsPerHost,
		// Below the upstream's keep-alive timeout, so the proxy closes an
		// idle socket before the upstream does and never reuses a reset one.
		IdleConnTimeout:     up.idleConnTimeout,
		TLSHandshakeTimeout: up.dialTimeout + 5*time.Second,
		// A client's "Expect: 100-continue" is forwarded; wait this long
		// for the upstream's 100 before sending the body anyway
		// (RFC 9110 §10.1.1). Zero would send every body at once and lose
		// the early rejection the client asked for.
		ExpectContinueTimeout: time.Second,
		// The upstream timeout bounds the wait for response headers only:
		// uploads and streamed response bodies may take as long as they need.
		ResponseHeaderTimeout: up.timeout,
		// No transparent gzip: the client's Accept-Encoding goes through
		// untouched and the upstream's encoded bytes come back as they are.
		DisableCompression: true,
	}
}

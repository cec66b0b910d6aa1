package proxy

import (
	"net"
	"net/http"
	"time"
)

// newTransport returns an http.Transport tuned for proxying to one upstream.
// Every field that differs from http.DefaultTransport says why.
func newTransport(up upstreamSettings) *http.Transport {
	dialer := &net.Dialer{
		Timeout: up.dialTimeout,
		// TCP keep-alive probes find dead idle upstream sockets.
		KeepAlive: 30 * time.Second,
	}
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

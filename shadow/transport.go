package shadow

import (
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// newTransport builds the transport of shadow copies: its own connection
// pools (a slow candidate never competes with serving traffic for
// connections), sized for the workers, with dial and header timeouts.
// Body-less copies take the same in-goroutine fast path as the serving
// path (package h1transport): a copy costs the proxy's CPU, and on a busy
// machine that CPU is taken from serving. It does not ask for compression
// on its own (DisableCompression): the copy carries the client's
// Accept-Encoding, and the comparison decodes what comes back, as the
// client would.
func newTransport(workers int, timeout time.Duration) *h1transport.Transport {
	dialer := &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
	}
	std := &http.Transport{
		Proxy:                  nil, // shadow copies go straight to the backends
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           4 * workers,
		MaxIdleConnsPerHost:    2 * workers, // a copy and a probe per worker
		IdleConnTimeout:        50 * time.Second,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		DisableCompression:     true,
	}
	return h1transport.New(std, h1transport.Options{
		DialContext:           dialer.DialContext,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       50 * time.Second,
		MaxIdleConnsPerHost:   2 * workers,
	})
}

// hopHeaders are removed before a replay (RFC 9110 §7.6.1).
var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// replayHeader copies the serving request's headers for the copy: without
// hop-by-hop headers (and those Connection names), with X-Shadow-Request.
func replayHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = make(http.Header)
	}
	for _, v := range out["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				out.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		out.Del(k)
	}
	out.Set("X-Shadow-Request", "true")
	return out
}

// targetURL joins a backend's base URL and the request's path and query.
// The request's RawPath, the path as the client sent it, goes to the
// request line byte for byte (URL.Opaque), as the proxy forwards the
// serving request: URL.EscapedPath would re-escape bytes net/url deems
// invalid ('{', raw UTF-8). A path starting with "//" cannot be carried in
// Opaque (it would read as a scheme-relative URL) and is joined as
// httputil.ReverseProxy joins paths.
func targetURL(base *url.URL, req *url.URL) *url.URL {
	u := *base
	if req.RawPath != "" {
		full := strings.TrimSuffix(base.EscapedPath(), "/") + req.RawPath
		if strings.HasPrefix(full, "/") && !strings.HasPrefix(full, "//") {
			u.Opaque, u.Path, u.RawPath = full, "", ""
			u.RawQuery = req.RawQuery
			u.Fragment, u.RawFragment = "", ""
			return &u
		}
	}
	u.Path, u.RawPath = joinURLPath(base, req)
	u.RawQuery = req.RawQuery
	u.Fragment, u.RawFragment = "", ""
	return &u
}

func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath := a.EscapedPath()
	bpath := b.EscapedPath()
	aslash := strings.HasSuffix(apath, "/")
	bslash := strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash := strings.HasSuffix(a, "/")
	bslash := strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}

package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// The conformance test (issue 2, point 5): every request of the corpus is
// sent once directly to the upstream and once through the proxy, as raw
// bytes on a fresh connection; status, informational responses, body,
// end-to-end headers and trailers must be identical. Date is set by each
// server on its own; hop-by-hop headers (RFC 9110 §7.6.1), including those
// named in Connection, belong to each connection and are left out.
//
// The upstream echoes what it received (method, target, Host, headers, body
// digest, trailers), minus what the proxy is documented to add or remove on
// the way in: hop-by-hop headers and the ones named in Connection,
// X-Forwarded-For/-Host/-Proto, X-Request-Id and X-Tenant-*. Those have
// their own tests.

// rawCase is one request of the corpus.
type rawCase struct {
	name    string
	method  string
	target  string
	proto   string   // default HTTP/1.1
	headers []string // "Name: value" lines, in order
	body    string
	noHost  bool
	// keepAlive leaves out "Connection: close", for responses whose own
	// Connection header net/http would replace with "close".
	keepAlive bool
}

// bytes renders the request. Requests ask for Connection: close unless
// keepAlive is set; responses are read by their framing either way.
func (c rawCase) bytes() string {
	proto := c.proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", c.method, c.target, proto)
	if !c.noHost {
		b.WriteString("Host: conformance.test\r\n")
	}
	chunked := false
	for _, h := range c.headers {
		b.WriteString(h + "\r\n")
		if strings.HasPrefix(strings.ToLower(h), "transfer-encoding:") {
			chunked = true
		}
	}
	if c.body != "" && !chunked {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(c.body))
	}
	if !c.keepAlive {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(c.body)
	return b.String()
}

// conformanceCorpus is the corpus: methods, raw paths and queries, header
// shapes, encodings, statuses, streaming, trailers, 1xx, framing, and
// requests net/http itself refuses.
func conformanceCorpus() []rawCase {
	c := []rawCase{
		{name: "get root", method: "GET", target: "/"},
		{name: "get api", method: "GET", target: "/api/items"},
		{name: "head api", method: "HEAD", target: "/api/items"},
		{name: "post json", method: "POST", target: "/api/items", headers: []string{"Content-Type: application/json"}, body: `{"title":"a","tags":["x","y"]}`},
		{name: "post unicode json", method: "POST", target: "/api/items", headers: []string{"Content-Type: application/json; charset=utf-8"}, body: `{"title":"Zoë ✓ 日本"}`},
		{name: "put", method: "PUT", target: "/api/items/1", headers: []string{"Content-Type: text/plain"}, body: "replacement"},
		{name: "patch", method: "PATCH", target: "/api/items/1", headers: []string{"Content-Type: application/merge-patch+json"}, body: `{"title":null}`},
		{name: "delete", method: "DELETE", target: "/api/items/1"},
		{name: "delete with body", method: "DELETE", target: "/api/items", body: `{"ids":[1,2]}`},
		{name: "options preflight", method: "OPTIONS", target: "/api/items", headers: []string{"Origin: https://app.example", "Access-Control-Request-Method: PATCH", "Access-Control-Request-Headers: content-type, authorization"}},
		{name: "propfind", method: "PROPFIND", target: "/dav/", headers: []string{"Depth: 1", "Content-Type: application/xml"}, body: `<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>`},
		{name: "custom method", method: "PURGE", target: "/cache/item"},
		{name: "trace", method: "TRACE", target: "/api/trace"},
		{name: "multipart upload", method: "POST", target: "/api/upload", headers: []string{"Content-Type: multipart/form-data; boundary=XyZ"}, body: "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XyZ--\r\n"},
		{name: "post empty", method: "POST", target: "/api/items", headers: []string{"Content-Length: 0"}},

		{name: "encoded slash", method: "GET", target: "/api/files/a%2Fb"},
		{name: "lower encoded slash", method: "GET", target: "/api/files/a%2fb%2F%2Fc"},
		{name: "path params", method: "GET", target: "/api/items;v=1;x=2"},
		{name: "repeated query keys", method: "GET", target: "/api/q?a=1&a=2&a=3"},
		{name: "semicolon query", method: "GET", target: "/api/q?a=1;b=2"},
		{name: "bad query escapes", method: "GET", target: "/api/q?x=%zz&y=%&z=%4"},
		{name: "plus and space", method: "GET", target: "/api/q?q=a+b%20c%2B"},
		{name: "empty query", method: "GET", target: "/api/q?"},
		{name: "unicode query", method: "GET", target: "/api/q?n=%E2%82%AC&raw=\xe2\x82\xac"},
		{name: "raw utf8 path", method: "GET", target: "/caf\xc3\xa9/na\xc3\xafve"},
		{name: "braces path", method: "GET", target: "/api/{id}/|x|"},
		{name: "double slash inside", method: "GET", target: "/static//img.png"},
		{name: "dot segments", method: "GET", target: "/static/./a/../b"},
		{name: "encoded dots", method: "GET", target: "/static/%2e%2e/x"},
		{name: "over-encoded unreserved", method: "GET", target: "/static/%61%7E"},
		{name: "long path", method: "GET", target: "/static/" + strings.Repeat("a", 2000)},
		{name: "long query", method: "GET", target: "/api/q?" + strings.Repeat("k=v&", 1500)},
		{name: "absolute form", method: "GET", target: "http://conformance.test/api/items?x=1"},
		{name: "http/1.0", method: "GET", target: "/api/items", proto: "HTTP/1.0"},

		{name: "repeated header lines", method: "GET", target: "/api/h", headers: []string{"X-Multi: a", "X-Multi: b", "x-multi: c"}},
		{name: "odd header case", method: "GET", target: "/api/h", headers: []string{"x-ODD-case: v", "ACCEPT: */*"}},
		{name: "empty header value", method: "GET", target: "/api/h", headers: []string{"X-Empty:", "X-Spaces:    padded   "}},
		{name: "non-ascii header value", method: "GET", target: "/api/h", headers: []string{"X-Name: Zo\xc3\xab"}},
		{name: "authorization kept", method: "GET", target: "/api/me", headers: []string{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "X-API-Key: sk_live_abc"}},
		{name: "cookies", method: "GET", target: "/api/me", headers: []string{"Cookie: a=1", "Cookie: b=2; c=3"}},
		{name: "forwarded chain", method: "GET", target: "/api/h", headers: []string{"X-Forwarded-For: 203.0.113.1", "X-Forwarded-Proto: https", "Forwarded: for=203.0.113.1"}},
		{name: "hop-by-hop request headers", method: "GET", target: "/api/h", headers: []string{"Connection: X-Hop", "X-Hop: secret", "Keep-Alive: timeout=5", "Proxy-Authorization: Basic eDp5", "TE: trailers"}},
		{name: "spoofed tenant headers", method: "GET", target: "/api/h", headers: []string{"X-Tenant-Org-ID: evil", "x-tenant-role: owner"}},
		{name: "inbound request id", method: "GET", target: "/api/h", headers: []string{"X-Request-ID: abc-123"}},

		{name: "gzip accepted", method: "GET", target: "/gzip", headers: []string{"Accept-Encoding: gzip, deflate, br"}},
		{name: "gzip not accepted", method: "GET", target: "/gzip"},
		{name: "identity only", method: "GET", target: "/gzip", headers: []string{"Accept-Encoding: identity"}},
		{name: "set-cookie multi", method: "GET", target: "/cookies"},
		{name: "response header shapes", method: "GET", target: "/headers"},
		{name: "no content type", method: "GET", target: "/nocontenttype"},
		{name: "hop-by-hop response headers", method: "GET", target: "/hop", keepAlive: true},

		{name: "chunked response", method: "GET", target: "/chunked"},
		{name: "response trailers", method: "GET", target: "/trailers", headers: []string{"TE: trailers"}},
		{name: "server-sent events", method: "GET", target: "/sse", headers: []string{"Accept: text/event-stream"}},
		{name: "1 MiB body", method: "GET", target: "/big"},
		{name: "head of 1 MiB body", method: "HEAD", target: "/big"},
		{name: "256 KiB chunked", method: "GET", target: "/bigchunked"},
		{name: "read until close", method: "GET", target: "/raw-close"},
		{name: "early hints", method: "GET", target: "/early-hints"},
		{name: "range", method: "GET", target: "/range", headers: []string{"Range: bytes=5-14"}},
		{name: "suffix range", method: "GET", target: "/range", headers: []string{"Range: bytes=-5"}},
		{name: "unsatisfiable range", method: "GET", target: "/range", headers: []string{"Range: bytes=999-"}},
		{name: "if-none-match", method: "GET", target: "/range", headers: []string{`If-None-Match: "v1"`}},
		{name: "if-modified-since", method: "GET", target: "/range", headers: []string{"If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"}},

		{name: "chunked request with trailer", method: "POST", target: "/api/upload", headers: []string{"Transfer-Encoding: chunked", "Trailer: X-Checksum"},
			body: "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"},
		{name: "expect continue", method: "PUT", target: "/api/upload", headers: []string{"Expect: 100-continue"}, body: "sent right away"},

		{name: "malformed path escape", method: "GET", target: "/bad%zzpath"},
		{name: "invalid header name", method: "GET", target: "/api/h", headers: []string{"Bad Header: x"}},
		{name: "missing host on 1.1", method: "GET", target: "/api/h", noHost: true},
	}
	for _, code := range []int{200, 201, 202, 204, 206, 299, 301, 302, 304, 307, 400, 401, 403, 404, 409, 418, 422, 429, 500, 502, 503, 504, 599} {
		c = append(c, rawCase{name: fmt.Sprintf("status %d", code), method: "GET", target: fmt.Sprintf("/status/%d", code)})
	}
	return c
}

// Fixed content for the upstream.
var (
	bigBody     = bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	rangeBody   = []byte("the quick brown fox jumps over the lazy dog")
	rangeTime   = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	gzippedBody = func() []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(bytes.Repeat([]byte("compress me "), 100))
		_ = zw.Close()
		return b.Bytes()
	}()
)

// echoSkip are request headers the proxy adds, removes or rewrites by
// design (each has its own test).
var echoSkip = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Request-Id": true,
}

// connectionTokens returns the header names listed in Connection.
func connectionTokens(h http.Header) []string {
	var out []string
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				out = append(out, http.CanonicalHeaderKey(tok))
			}
		}
	}
	return out
}

// conformanceUpstream answers each corpus path.
func conformanceUpstream(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/status/"):
		code, _ := strconv.Atoi(strings.TrimPrefix(p, "/status/"))
		switch code {
		case 301, 302, 307:
			h.Set("Location", "/moved/here?x=1")
		case 304:
			h.Set("ETag", `"v1"`)
		case 401:
			h.Set("WWW-Authenticate", `Bearer realm="legacy"`)
		case 429, 503:
			h.Set("Retry-After", "30")
		}
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "status body")
	case p == "/gzip":
		h.Set("Vary", "Accept-Encoding")
		h.Set("Content-Type", "text/plain")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			_, _ = w.Write(gzippedBody)
			return
		}
		_, _ = io.WriteString(w, strings.Repeat("compress me ", 100))
	case p == "/cookies":
		h.Add("Set-Cookie", "session=abc; Path=/; HttpOnly; Secure; SameSite=Lax")
		h.Add("Set-Cookie", "theme=dark; Path=/; Max-Age=3600")
		h.Add("Set-Cookie", "empty=; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
	case p == "/headers":
		h.Add("X-Multi", "one")
		h.Add("X-Multi", "two")
		h.Add("X-Comma", "a, b, c")
		h["x-lower-raw"] = []string{"lower"}
		h.Set("X-Empty", "")
		h.Set("X-Utf8", "Zo\xc3\xab")
		h.Set("Cache-Control", "private, max-age=0")
		h.Set("Link", `</a.css>; rel=preload; as=style, </b.js>; rel=preload; as=script`)
		h.Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	case p == "/nocontenttype":
		h["Content-Type"] = nil
		_, _ = io.WriteString(w, "<!DOCTYPE html><html>sniffable</html>")
	case p == "/hop":
		h.Set("Connection", "X-Hop-Resp")
		h.Set("X-Hop-Resp", "1")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("X-Kept", "yes")
	case p == "/chunked":
		h.Set("Content-Type", "text/plain")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
		}
	case p == "/trailers":
		h.Set("Trailer", "X-Sum, X-Count")
		_, _ = io.WriteString(w, "body with trailers")
		h.Set("X-Sum", "abc")
		h.Set("X-Count", "3")
		h.Set(http.TrailerPrefix+"X-Undeclared", "late")
	case p == "/sse":
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "id: %d\nevent: tick\ndata: {\"n\":%d}\n\n", i, i)
			w.(http.Flusher).Flush()
		}
	case p == "/big":
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.Itoa(len(bigBody)))
		_, _ = w.Write(bigBody)
	case p == "/bigchunked":
		for i := 0; i < 8; i++ {
			_, _ = w.Write(bigBody[:32<<10])
			w.(http.Flusher).Flush()
		}
	case p == "/raw-close":
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 Fine Thanks\r\nContent-Type: text/plain\r\nx-weird-CASE: v\r\n\r\nbody delimited by close")
		_ = brw.Flush()
	case p == "/early-hints":
		h.Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		h.Del("Link")
		h.Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html></html>")
	case p == "/range":
		h.Set("ETag", `"v1"`)
		http.ServeContent(w, r, "fox.txt", rangeTime, bytes.NewReader(rangeBody))
	default:
		echo(w, r)
	}
}

// echoBody is what the echo handler reports.
type echoBody struct {
	Method   string              `json:"method"`
	URI      string              `json:"uri"`
	Host     string              `json:"host"`
	Headers  map[string][]string `json:"headers"`
	BodyLen  int                 `json:"body_len"`
	BodySHA  string              `json:"body_sha256"`
	Trailers map[string][]string `json:"trailers"`
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sum := sha256.Sum256(body)
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		// An absolute-form target reaches the upstream in origin form:
		// RFC 9112 §3.2.1 requires it of any client talking to an origin
		// server, and §3.2.2 makes origin servers treat both alike.
		if i := strings.Index(uri, "://"); i >= 0 {
			if j := strings.IndexByte(uri[i+3:], '/'); j >= 0 {
				uri = uri[i+3+j:]
			}
		}
	}
	e := echoBody{
		Method: r.Method, URI: uri, Host: r.Host,
		Headers: map[string][]string{}, BodyLen: len(body), BodySHA: hex.EncodeToString(sum[:]),
		Trailers: r.Trailer,
	}
	named := map[string]bool{}
	for _, k := range connectionTokens(r.Header) {
		named[k] = true
	}
	for k, v := range r.Header {
		if echoSkip[k] || named[k] || isTenantHeader(k) {
			continue
		}
		e.Headers[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Echo", "1")
	_ = json.NewEncoder(w).Encode(e)
}

// wireResponse is a response as read from the wire.
type wireResponse struct {
	status        int
	informational []string // "103 Link=..." lines
	header        http.Header
	trailer       http.Header
	body          []byte
}

// exchange sends raw on a fresh connection and reads the whole answer.
func exchange(t *testing.T, addr string, c rawCase) wireResponse {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(guard)))
	_, err = io.WriteString(conn, c.bytes())
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	var out wireResponse
	for {
		res, err := http.ReadResponse(br, &http.Request{Method: c.method})
		require.NoError(t, err)
		if res.StatusCode >= 100 && res.StatusCode < 200 && res.StatusCode != http.StatusSwitchingProtocols {
			out.informational = append(out.informational, fmt.Sprintf("%d %v", res.StatusCode, comparableHeader(res.Header)))
			continue
		}
		out.status = res.StatusCode
		out.body, err = io.ReadAll(res.Body)
		require.NoError(t, err)
		out.header = comparableHeader(res.Header)
		out.trailer = res.Trailer
		return out
	}
}

// comparableHeader drops Date and the hop-by-hop headers of a response.
func comparableHeader(h http.Header) http.Header {
	out := h.Clone()
	for k := range echoSkip {
		out.Del(k)
	}
	for _, k := range connectionTokens(h) {
		out.Del(k)
	}
	out.Del("Date")
	out.Del("Proxy-Authenticate")
	return out
}

func TestConformanceCorpus(t *testing.T) {
	corpus := conformanceCorpus()
	require.GreaterOrEqual(t, len(corpus), 50)

	up := upstream(t, conformanceUpstream)
	upAddr := strings.TrimPrefix(up.URL, "http://")
	p := startProxy(t, testConfig(up.URL,
		config.Route{Name: "api", Paths: []string{"/api"}},
		config.Route{Name: "default", Paths: []string{"/"}},
	))

	names := map[string]bool{}
	for _, c := range corpus {
		require.False(t, names[c.name], "duplicate case %q", c.name)
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			direct := exchange(t, upAddr, c)
			proxied := exchange(t, p.Addr, c)
			assert.Equal(t, direct.status, proxied.status, "status")
			assert.Equal(t, direct.informational, proxied.informational, "1xx responses")
			assert.Equal(t, direct.header, proxied.header, "end-to-end headers")
			assert.Equal(t, direct.trailer, proxied.trailer, "trailers")
			if !assert.True(t, bytes.Equal(direct.body, proxied.body), "body") && len(direct.body) < 4096 {
				t.Logf("direct:  %q\nproxied: %q", direct.body, proxied.body)
			}
		})
	}
}

package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One test per transparency promise of SPEC §5, each against a real
// upstream server and a real client.

func TestForwardsEveryMethod(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Body", string(body))
		_, _ = io.WriteString(w, "method="+r.Method)
	})
	p := startProxy(t, testConfig(up.URL))

	methods := []string{
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
		"REPORT", "SEARCH", "PURGE", "X-CUSTOM_METHOD.1",
	}
	for _, m := range methods {
		t.Run(m, func(t *testing.T) {
			req, err := http.NewRequest(m, p.URL+"/api/thing", strings.NewReader("payload-"+m))
			require.NoError(t, err)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, m, res.Header.Get("X-Method"))
			assert.Equal(t, "payload-"+m, res.Header.Get("X-Body"))
			if m != http.MethodHead {
				assert.Equal(t, "method="+m, string(body))
			}
		})
	}
}

func TestRawPathAndQueryUnchanged(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RequestURI)
	})
	p := startProxy(t, testConfig(up.URL))

	targets := []string{
		"/api/files/a%2Fb",
		"/api/files/a%2fb/c%2F%2Fd",
		"/api/items;v=1;x=2/more;y",
		"/api/qa?a=1&a=2&a=3",
		"/api/qa?a=1;b=2;c",
		"/api/qa?q=%zz&x=%&y=%2",
		"/api/qa?q=a+b%20c%2Bd",
		"/api/qa?",
		"/api/qa?&&=&a==b",
		"/api/qa?%E2%82%AC=%e2%82%ac",
		"/api/caf\xc3\xa9/na\xc3\xafve",
		"/api/{x}/|pipe|/^caret^/`tick`",
		"/api/a%41b%7e~",
		"/api/%25252F",
		"/api/x?json={\"a\":[1,2],\"b\":\"c\"}",
		"/a//b///c",
		"//leading/double",
		"/x/./y/../z",
		"/%2e%2e/%2E/x",
		"/api/qa?redirect=http://example.com/a?b=c#frag",
		"/" + strings.Repeat("segment/", 400),
		"/q?" + strings.Repeat("k=v&", 2000),
	}
	for _, target := range targets {
		name := target
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			res, body := rawExchange(t, p.Addr, "GET "+target+" HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
			require.Equal(t, http.StatusOK, res.StatusCode, "body: %s", body)
			assert.Equal(t, target, string(body), "the upstream must see the request target byte for byte")
		})
	}
}

func TestRawPathUnderUpstreamBasePath(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RequestURI)
	})
	p := startProxy(t, testConfig(up.URL+"/base/"))
	res, body := rawExchange(t, p.Addr, "GET /a%2Fb/{c}?x=1;y HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "/base/a%2Fb/{c}?x=1;y", string(body))
}

func TestHeaderNamesAndMultipleValuesKept(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Set-Cookie", "a=1; Path=/")
		h.Add("Set-Cookie", "b=2; Path=/; HttpOnly")
		h.Add("X-Resp-Multi", "one")
		h.Add("X-Resp-Multi", "two")
		h.Add("X-Resp-Multi", "three, four")
		h["x-raw-case-name"] = []string{"kept"}
		h.Set("X-Empty", "")
		echoHeaders(w, r)
	})
	p := startProxy(t, testConfig(up.URL))

	raw := "GET /api/h HTTP/1.1\r\nHost: example.test\r\n" +
		"X-Multi: a\r\nX-Multi: b\r\nx-multi: c\r\n" +
		"X-Comma: a, b\r\n" +
		"x-lower-name: lower\r\n" +
		"X-Empty-Value:\r\n" +
		"Authorization: Bearer secret-token\r\n" +
		"Cookie: c1=1\r\nCookie: c2=2\r\n" +
		"Accept-Encoding: gzip, br;q=0.5\r\n" +
		"Connection: close\r\n\r\n"
	res, body := rawExchange(t, p.Addr, raw)
	require.Equal(t, http.StatusOK, res.StatusCode)

	seen := decodeHeaders(t, body)
	assert.Equal(t, []string{"a", "b", "c"}, seen["X-Multi"], "repeated request headers keep every value, in order")
	assert.Equal(t, []string{"a, b"}, seen["X-Comma"])
	assert.Equal(t, []string{"lower"}, seen["X-Lower-Name"])
	assert.Equal(t, []string{""}, seen["X-Empty-Value"])
	assert.Equal(t, []string{"Bearer secret-token"}, seen["Authorization"], "Authorization passes unchanged")
	assert.Equal(t, []string{"c1=1", "c2=2"}, seen["Cookie"])
	assert.Equal(t, []string{"gzip, br;q=0.5"}, seen["Accept-Encoding"], "Accept-Encoding passes untouched")

	assert.Equal(t, []string{"a=1; Path=/", "b=2; Path=/; HttpOnly"}, res.Header["Set-Cookie"])
	assert.Equal(t, []string{"one", "two", "three, four"}, res.Header["X-Resp-Multi"])
	assert.Equal(t, []string{"kept"}, res.Header["X-Raw-Case-Name"])
	assert.Equal(t, []string{""}, res.Header["X-Empty"])
}

func TestHopByHopHeadersRemoved(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Connection", "X-Hop-Resp, X-Hop-Resp-2")
		h.Set("X-Hop-Resp", "1")
		h.Set("X-Hop-Resp-2", "2")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic realm=x")
		h.Set("Proxy-Connection", "keep-alive")
		h.Set("X-End-To-End", "kept")
		echoHeaders(w, r)
	})
	p := startProxy(t, testConfig(up.URL))

	raw := "GET /api/h HTTP/1.1\r\nHost: example.test\r\n" +
		"Connection: keep-alive, X-Hop-Req\r\nConnection: x-hop-req-2\r\n" +
		"X-Hop-Req: 1\r\nX-Hop-Req-2: 2\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Proxy-Authorization: Basic eDp5\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"TE: gzip\r\n" +
		"Upgrade: something\r\n" +
		"X-End-To-End: kept\r\n\r\n"
	res, body := rawExchange(t, p.Addr, raw)
	require.Equal(t, http.StatusOK, res.StatusCode)

	seen := decodeHeaders(t, body)
	for _, k := range []string{"X-Hop-Req", "X-Hop-Req-2", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Upgrade"} {
		assert.NotContains(t, seen, k, "hop-by-hop request header %s must not reach the upstream", k)
	}
	assert.Equal(t, []string{"kept"}, seen["X-End-To-End"])

	for _, k := range []string{"X-Hop-Resp", "X-Hop-Resp-2", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection"} {
		assert.NotContains(t, res.Header, k, "hop-by-hop response header %s must not reach the client", k)
	}
	assert.Equal(t, "kept", res.Header.Get("X-End-To-End"))
}

func TestForwardedHeadersAppended(t *testing.T) {
	up := upstream(t, echoHeaders)
	p := startProxy(t, testConfig(up.URL))

	t.Run("set when absent", func(t *testing.T) {
		res, body := rawExchange(t, p.Addr, "GET /x HTTP/1.1\r\nHost: public.example:8443\r\nConnection: close\r\n\r\n")
		require.Equal(t, http.StatusOK, res.StatusCode)
		seen := decodeHeaders(t, body)
		assert.Equal(t, []string{"127.0.0.1"}, seen["X-Forwarded-For"])
		assert.Equal(t, []string{"public.example:8443"}, seen["X-Forwarded-Host"])
		assert.Equal(t, []string{"http"}, seen["X-Forwarded-Proto"])
	})
	t.Run("appended to and kept when present", func(t *testing.T) {
		raw := "GET /x HTTP/1.1\r\nHost: public.example\r\n" +
			"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-For: 198.51.100.7, 192.0.2.1\r\n" +
			"X-Forwarded-Proto: https\r\nX-Forwarded-Host: www.example.com\r\n" +
			"Forwarded: for=203.0.113.9;proto=https\r\nConnection: close\r\n\r\n"
		res, body := rawExchange(t, p.Addr, raw)
		require.Equal(t, http.StatusOK, res.StatusCode)
		seen := decodeHeaders(t, body)
		assert.Equal(t, []string{"203.0.113.9, 198.51.100.7, 192.0.2.1, 127.0.0.1"}, seen["X-Forwarded-For"])
		assert.Equal(t, []string{"https"}, seen["X-Forwarded-Proto"], "the scheme the load balancer saw is kept")
		assert.Equal(t, []string{"www.example.com"}, seen["X-Forwarded-Host"])
		assert.Equal(t, []string{"for=203.0.113.9;proto=https"}, seen["Forwarded"])
	})
}

func TestHostKept(t *testing.T) {
	hosts := make(chan string, 1)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) { hosts <- r.Host })
	p := startProxy(t, testConfig(up.URL))

	req, err := http.NewRequest(http.MethodGet, p.URL+"/api/x", nil)
	require.NoError(t, err)
	req.Host = "legacy.example.com:8443"
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "legacy.example.com:8443", recv(t, hosts))
}

func TestSSEFirstEventArrivesWhileStreamOpen(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(finished)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = io.WriteString(w, "id: 1\ndata: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "id: 2\ndata: second\n\n")
	})
	p := startProxy(t, testConfig(up.URL))

	res, err := http.Get(p.URL + "/api/qa/stream")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))

	first := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		n, _ := io.ReadAtLeast(res.Body, buf, len("id: 1\ndata: first\n\n"))
		first <- string(buf[:n])
	}()
	select {
	case ev := <-first:
		assert.Equal(t, "id: 1\ndata: first\n\n", ev)
	case <-time.After(guard):
		t.Fatal("the first event did not reach the client while the upstream held the stream open")
	}
	select {
	case <-finished:
		t.Fatal("the upstream finished before the first event was read: the order proves nothing")
	default:
	}
	close(release)
	rest, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "id: 2\ndata: second\n\n", string(rest))
}

func TestChunkedStreamFlushedAsItArrives(t *testing.T) {
	next := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "{\"n\":%d}\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	p := startProxy(t, testConfig(up.URL))

	res, err := http.Get(p.URL + "/api/stream")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, []string{"chunked"}, res.TransferEncoding)
	buf := make([]byte, 8)
	for i := 0; i < 3; i++ {
		_, err := io.ReadFull(res.Body, buf) // each line is 8 bytes
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("{\"n\":%d}\n", i), string(buf), "line %d arrives before the upstream writes the next", i)
		next <- struct{}{}
	}
}

func TestTrailersBothWays(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Echo-Trailer, X-Resp-Trailer")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		w.Header().Set("X-Echo-Trailer", r.Trailer.Get("X-Req-Trailer"))
		w.Header().Set("X-Resp-Trailer", "resp-value")
		// An undeclared trailer, announced only after the body.
		w.Header().Set(http.TrailerPrefix+"X-Late-Trailer", "late")
	})
	p := startProxy(t, testConfig(up.URL))

	req, err := http.NewRequest(http.MethodPost, p.URL+"/api/upload", io.MultiReader(strings.NewReader("chunked body")))
	require.NoError(t, err)
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Req-Trailer": {"req-value"}}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "chunked body", string(body))
	assert.Equal(t, "req-value", res.Trailer.Get("X-Echo-Trailer"), "the request trailer reached the upstream")
	assert.Equal(t, "resp-value", res.Trailer.Get("X-Resp-Trailer"))
	assert.Equal(t, "late", res.Trailer.Get("X-Late-Trailer"))
}

func TestExpectContinue(t *testing.T) {
	bodies := make(chan string, 1)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			// Refuse before reading: the client must not have to send it.
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
		_, _ = w.Write(b)
	})
	p := startProxy(t, testConfig(up.URL))
	// A client that really waits for 100 Continue before sending the body.
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("100 relayed then body sent", func(t *testing.T) {
		got100 := make(chan struct{}, 1)
		trace := &httptrace.ClientTrace{Got100Continue: func() { got100 <- struct{}{} }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			http.MethodPut, p.URL+"/accept", strings.NewReader("the body"))
		require.NoError(t, err)
		req.Header.Set("Expect", "100-continue")
		res, err := client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "the body", string(body))
		assert.Equal(t, "the body", recv(t, bodies))
		select {
		case <-got100:
		default:
			t.Fatal("the client never received 100 Continue")
		}
	})
	t.Run("early rejection spares the body", func(t *testing.T) {
		read := make(chan struct{}, 1)
		body := readFunc(func(p []byte) (int, error) {
			select {
			case read <- struct{}{}:
			default:
			}
			return copy(p, "never wanted"), io.EOF
		})
		req, err := http.NewRequest(http.MethodPut, p.URL+"/reject", body)
		require.NoError(t, err)
		req.ContentLength = int64(len("never wanted"))
		req.Header.Set("Expect", "100-continue")
		res, err := client.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
		select {
		case <-read:
			t.Fatal("the client sent its body although the upstream refused it first")
		default:
		}
	})
}

// readFunc adapts a function to io.Reader.
type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

func TestInboundTenantHeadersNeverReachUpstream(t *testing.T) {
	up := upstream(t, echoHeaders)
	p := startProxy(t, testConfig(up.URL))

	raw := "GET /api/x HTTP/1.1\r\nHost: example.test\r\n" +
		"X-Tenant-Org-ID: evil-org\r\n" +
		"x-tenant-org-id: evil-org-2\r\n" +
		"X-TENANT-ROLE: owner\r\n" +
		"X-Tenant-Role: owner\r\n" +
		"X_Tenant_User_Id: someone\r\n" +
		"x_tenant-assertion: forged.jwt.value\r\n" +
		"X-Tenant-Anything-New: x\r\n" +
		"X-Tenantish: kept\r\n" +
		"Connection: close\r\n\r\n"
	res, body := rawExchange(t, p.Addr, raw)
	require.Equal(t, http.StatusOK, res.StatusCode)
	seen := decodeHeaders(t, body)
	for k := range seen {
		assert.False(t, isTenantHeader(k), "spoofed %s reached the upstream", k)
	}
	assert.Equal(t, []string{"kept"}, seen["X-Tenantish"], "only the X-Tenant-* family is removed")
}

func TestTenantHeadersSetFromResolvedContext(t *testing.T) {
	up := upstream(t, echoHeaders)
	authn := authenticatorFunc(func(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error) {
		return &TenantContext{OrgID: "org-1", OrgSlug: "acme", UserID: "user-1", Role: "member", Assertion: "signed.jwt"}, nil
	})
	p := startProxy(t, testConfig(up.URL), func(o *Options) { o.Authenticator = authn })

	raw := "GET /api/x HTTP/1.1\r\nHost: example.test\r\nX-Tenant-Org-ID: evil\r\nx-tenant-role: owner\r\n" +
		"Authorization: Bearer abc\r\nConnection: close\r\n\r\n"
	res, body := rawExchange(t, p.Addr, raw)
	require.Equal(t, http.StatusOK, res.StatusCode)
	seen := decodeHeaders(t, body)
	assert.Equal(t, []string{"org-1"}, seen["X-Tenant-Org-Id"])
	assert.Equal(t, []string{"acme"}, seen["X-Tenant-Org-Slug"])
	assert.Equal(t, []string{"user-1"}, seen["X-Tenant-User-Id"])
	assert.Equal(t, []string{"member"}, seen["X-Tenant-Role"])
	assert.Equal(t, []string{"signed.jwt"}, seen["X-Tenant-Assertion"])
	assert.NotContains(t, seen, "X-Tenant-Project-Id", "empty fields are not sent")
	assert.Equal(t, []string{"Bearer abc"}, seen["Authorization"])
}

// authenticatorFunc adapts a function to Authenticator.
type authenticatorFunc func(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error)

func (f authenticatorFunc) Authenticate(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error) {
	return f(ctx, r, route)
}

func TestRequestIDKeptOrGenerated(t *testing.T) {
	ids := make(chan string, 1)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		ids <- strings.Join(r.Header.Values("X-Request-Id"), "|")
	})
	p := startProxy(t, testConfig(up.URL))

	t.Run("valid inbound id kept", func(t *testing.T) {
		res, _ := get(t, p.URL+"/x", "X-Request-ID", "req-123_abc.DEF:9")
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "req-123_abc.DEF:9", recv(t, ids))
		waitAccessLine(t, p.Logs, func(l map[string]any) bool { return l["request_id"] == "req-123_abc.DEF:9" })
	})
	generated := map[string]bool{}
	for _, tc := range []struct{ name, value string }{
		{"absent", ""},
		{"too long", strings.Repeat("a", maxRequestIDLen+1)},
		{"space", "a b"},
		{"quote", `a"b`},
		{"newline escape attempt", "a%0Ab"},
		{"non-ascii", "ид"},
	} {
		t.Run("replaced when "+tc.name, func(t *testing.T) {
			var hdr []string
			if tc.value != "" {
				hdr = []string{"X-Request-ID", tc.value}
			}
			res, _ := get(t, p.URL+"/x", hdr...)
			require.Equal(t, http.StatusOK, res.StatusCode)
			id := recv(t, ids)
			assert.NotEqual(t, tc.value, id)
			assert.True(t, validRequestID(id), "generated id %q", id)
			assert.False(t, generated[id], "ids are unique")
			generated[id] = true
		})
	}
	t.Run("two inbound values are ambiguous", func(t *testing.T) {
		res, _ := get(t, p.URL+"/x", "X-Request-ID", "one", "X-Request-ID", "two")
		require.Equal(t, http.StatusOK, res.StatusCode)
		id := recv(t, ids)
		assert.NotContains(t, id, "|", "exactly one id reaches the upstream")
		assert.NotEqual(t, "one", id)
	})
	t.Run("in error bodies", func(t *testing.T) {
		p2 := startProxy(t, testConfig(up.URL, config404Routes()...))
		res, body := get(t, p2.URL+"/nowhere", "X-Request-ID", "trace-me")
		require.Equal(t, http.StatusNotFound, res.StatusCode)
		assert.Equal(t, "trace-me", decodeError(t, body).Error.RequestID)
		assert.Equal(t, "trace-me", res.Header.Get("X-Request-Id"))
	})
}

func TestNoContentTypeInvented(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // the upstream sends none
		_, _ = io.WriteString(w, "<html>looks like html</html>")
	})
	p := startProxy(t, testConfig(up.URL))
	res, body := get(t, p.URL+"/x")
	assert.Equal(t, "<html>looks like html</html>", string(body))
	assert.NotContains(t, res.Header, "Content-Type", "the proxy must not sniff a Content-Type the upstream did not send")
}

func TestDebugHeaders(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {})
	cfg := testConfig(up.URL)
	cfg.Server.DebugHeaders = true
	p := startProxy(t, cfg)
	res, _ := get(t, p.URL+"/x")
	assert.Equal(t, "legacy", res.Header.Get("X-Strangler-Backend"))
	assert.Equal(t, "legacy", res.Header.Get("X-Strangler-Mode"))

	plain := startProxy(t, testConfig(up.URL))
	res, _ = get(t, plain.URL+"/x")
	assert.NotContains(t, res.Header, "X-Strangler-Backend", "off by default: it would break transparency")
}

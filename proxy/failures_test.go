package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// config404Routes has no catch-all, so unknown paths are 404.
func config404Routes() []config.Route {
	return []config.Route{{Name: "qa", Paths: []string{"/api/qa"}}}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	arrived := make(chan struct{})
	canceled := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
		close(canceled)
	})
	p := startProxy(t, testConfig(up.URL))

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/slow", nil)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	select {
	case <-arrived:
	case <-time.After(guard):
		t.Fatal("the request never reached the upstream")
	}
	cancel()
	require.ErrorIs(t, recv(t, errc), context.Canceled)
	select {
	case <-canceled:
	case <-time.After(guard):
		t.Fatal("the upstream request was not canceled when the client went away")
	}
	line := waitAccessLine(t, p.Logs, func(l map[string]any) bool { return l["path"] == "/api/slow" })
	assert.Equal(t, "client_closed", line["outcome"])
	assert.EqualValues(t, statusClientClosed, line["status"])
}

func TestUpstreamRefusingConnectionsIs502(t *testing.T) {
	// A port nobody listens on: bind, note, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	p := startProxy(t, testConfig("http://"+addr))
	res, body := get(t, p.URL+"/api/qa", "X-Request-ID", "refused-1")
	assert.Equal(t, http.StatusBadGateway, res.StatusCode)
	assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
	e := decodeError(t, body)
	assert.Equal(t, CodeUpstreamUnavailable, e.Error.Code)
	assert.Equal(t, "refused-1", e.Error.RequestID)
	assert.NotEmpty(t, e.Error.Message)
	assert.NotContains(t, string(body), addr, "internal addresses are not revealed")

	line := waitAccessLine(t, p.Logs, func(l map[string]any) bool { return l["request_id"] == "refused-1" })
	assert.Equal(t, CodeUpstreamUnavailable, line["outcome"])
	assert.Contains(t, line["error"], "connection refused")
}

func TestUpstreamSlowerThanTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	cfg := testConfig(up.URL)
	cfg.Upstreams.Legacy.Timeout = config.Duration(50 * time.Millisecond)
	p := startProxy(t, cfg)

	res, body := get(t, p.URL+"/api/qa")
	assert.Equal(t, http.StatusGatewayTimeout, res.StatusCode)
	e := decodeError(t, body)
	assert.Equal(t, CodeUpstreamTimeout, e.Error.Code)
	assert.Equal(t, res.Header.Get("X-Request-Id"), e.Error.RequestID)
	assert.NotEmpty(t, e.Error.RequestID)
}

func TestSlowStreamingBodyIsNotATimeout(t *testing.T) {
	// The upstream timeout bounds the wait for headers, not a stream.
	step := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-step // longer than the timeout, ordered by the test
		_, _ = io.WriteString(w, "late but fine")
	})
	cfg := testConfig(up.URL)
	cfg.Upstreams.Legacy.Timeout = config.Duration(20 * time.Millisecond)
	p := startProxy(t, cfg)

	res, err := http.Get(p.URL + "/api/stream")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	time.Sleep(60 * time.Millisecond) // let the header timeout pass, were it still armed
	close(step)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "late but fine", string(body))
}

func TestUpstreamResetMidBodyAbortsClientConnection(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, "only part")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the upstream dies mid-body
	})
	p := startProxy(t, testConfig(up.URL))
	res, err := http.Get(p.URL + "/api/broken")
	if err == nil {
		// The headers made it out before the failure: the body must break.
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	require.Error(t, err, "a truncated response must be an error for the client, never a short success")
	line := waitAccessLine(t, p.Logs, func(l map[string]any) bool { return l["path"] == "/api/broken" })
	assert.Equal(t, "upstream_aborted", line["outcome"])
}

func TestNotFoundWhenNoRouteMatches(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unrouted request reached the upstream: %s", r.URL)
	})
	p := startProxy(t, testConfig(up.URL, config404Routes()...))
	res, body := get(t, p.URL+"/api/qab")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	e := decodeError(t, body)
	assert.Equal(t, CodeNotFound, e.Error.Code)
	assert.NotEmpty(t, e.Error.RequestID)
}

func TestAmbiguousPathsRefused(t *testing.T) {
	reached := make(chan string, 16)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) { reached <- r.RequestURI })
	p := startProxy(t, testConfig(up.URL,
		config.Route{Name: "admin", Paths: []string{"/api/admin"}, Auth: "required"},
		config.Route{Name: "public", Paths: []string{"/"}, Auth: "none"},
	))
	for _, target := range []string{
		"/api%2Fadmin/users",                  // decoding upstreams read /api/admin
		"/api/admin%2F..%2F..%2Fpublic",       // non-decoding ones read admin
		"/api/public/..%2Fadmin",              // decoded then cleaned: /api/admin
		"/api/public/../admin",                // cleaned: /api/admin
		"//api/admin",                         // merged: /api/admin
		"/api/./admin",                        // cleaned: /api/admin
		"/api;x=1/admin",                      // Tomcat-style params stripped: /api/admin
		"/api/admin;jsessionid=1/../../other", // admin with params stripped, unresolved
		"/api/admin;v=2",                      // admin only with params stripped
		"/%61pi/%2e%2e/api/admin",
	} {
		t.Run(target, func(t *testing.T) {
			res, body := rawExchange(t, p.Addr, "GET "+target+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			assert.Equal(t, http.StatusBadRequest, res.StatusCode, "body: %s", body)
			assert.Equal(t, CodeBadRequest, decodeError(t, body).Error.Code)
		})
	}
	for _, target := range []string{
		"/api/admin/a%2Fb",       // every reading is admin
		"/api/admin/x/../y",      // still admin
		"/static//img.png",       // every reading is public
		"/api/admin/x;v=2",       // admin either way
		"/api/%61dmin",           // decoded in every reading: admin
		"/files/a%2F..%2F..%2Fb", // public under every reading
	} {
		t.Run("unambiguous "+target, func(t *testing.T) {
			res, body := rawExchange(t, p.Addr, "GET "+target+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			assert.Equal(t, http.StatusOK, res.StatusCode, "body: %s", body)
			assert.Equal(t, target, recv(t, reached))
		})
	}
}

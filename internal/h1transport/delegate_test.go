package h1transport_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// echo answers with the method, the body and the Upgrade header it got.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_, _ = io.WriteString(w, r.Method+" "+string(b)+" "+r.Header.Get("Upgrade"))
}

// What the fast path does not take goes to the wrapped http.Transport, and
// works there.
func TestDelegatesToStdTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	t.Cleanup(srv.Close)

	cases := []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"body", func() *http.Request {
			req := newRequest(t, http.MethodPost, srv.URL)
			req.Body = io.NopCloser(strings.NewReader("payload"))
			req.ContentLength = int64(len("payload"))
			return req
		}, "POST payload "},
		{"upgrade", func() *http.Request {
			req := newRequest(t, http.MethodGet, srv.URL)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "example")
			return req
		}, "GET  example"},
		{"connection header", func() *http.Request {
			req := newRequest(t, http.MethodGet, srv.URL)
			req.Header.Set("Connection", "keep-alive")
			return req
		}, "GET  "},
		{"trailers", func() *http.Request {
			req := newRequest(t, http.MethodGet, srv.URL)
			req.Trailer = http.Header{"X-Sum": {"1"}}
			return req
		}, "GET  "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var fast, std dialCounter
			tr := newTransport(t, h1transport.Options{}, &fast, &std)
			req := tc.req()
			assert.False(t, h1transport.Eligible(req))
			res, body := roundTrip(t, tr, req)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, tc.want, body)
			assert.Equal(t, 0, fast.count(), "fast path dialed")
			assert.Equal(t, 1, std.count(), "std transport did not dial")
		})
	}
}

// https goes to the wrapped transport, with its TLS settings.
func TestConnectIsNotEligible(t *testing.T) {
	req := newRequest(t, http.MethodConnect, "http://upstream.test:443")
	assert.False(t, h1transport.Eligible(req), "CONNECT has its own request line: http.Transport's")
	assert.True(t, h1transport.Eligible(newRequest(t, http.MethodGet, "http://upstream.test/")))
}

func TestDelegatesHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(echo))
	t.Cleanup(srv.Close)
	var fast, std dialCounter
	st := &http.Transport{
		DialContext:     std.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
	}
	tr := h1transport.New(st, h1transport.Options{DialContext: fast.DialContext})
	t.Cleanup(tr.CloseIdleConnections)

	req := newRequest(t, http.MethodGet, srv.URL)
	require.False(t, h1transport.Eligible(req))
	res, body := roundTrip(t, tr, req)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "GET  ", body)
	assert.Equal(t, 0, fast.count())
	assert.Equal(t, 1, std.count())
}

// The common body-less request takes the fast path.
func TestBodylessGetTakesFastPath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	t.Cleanup(srv.Close)
	var fast, std dialCounter
	tr := newTransport(t, h1transport.Options{}, &fast, &std)

	req := newRequest(t, http.MethodGet, srv.URL)
	require.True(t, h1transport.Eligible(req))
	_, body := roundTrip(t, tr, req)
	assert.Equal(t, "GET  ", body)
	// A POST without a body is eligible too, and sends Content-Length: 0.
	_, body = roundTrip(t, tr, newRequest(t, http.MethodPost, srv.URL))
	assert.Equal(t, "POST  ", body)
	// http.NoBody is no body.
	req = newRequest(t, http.MethodPut, srv.URL)
	req.Body = http.NoBody
	require.True(t, h1transport.Eligible(req))
	_, body = roundTrip(t, tr, req)
	assert.Equal(t, "PUT  ", body)
	assert.Equal(t, 1, fast.count())
	assert.Equal(t, 0, std.count())
}

package adminapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthenticated","message":"no","request_id":"r1"}}`))
		case r.URL.Path == "/admin/api/echo":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"q":"` + r.URL.Query().Get("q") + `","ct":"` + r.Header.Get("Content-Type") + `"}`))
		case r.URL.Path == "/admin/api/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 1000)))
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("upstream <html> " + strings.Repeat("é", 300)))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := Client{BaseURL: srv.URL + "/", Token: "tok"}

	var out struct{ Q, CT string }
	require.NoError(t, c.Do(ctx, "POST", "/admin/api/echo", url.Values{"q": {"a b"}}, map[string]int{"x": 1}, &out))
	assert.Equal(t, "a b", out.Q)
	assert.Equal(t, "application/json", out.CT)

	err := Client{BaseURL: srv.URL}.Do(ctx, "GET", "/admin/api/echo", nil, nil, nil)
	assert.True(t, IsUnauthorized(err))
	assert.Contains(t, err.Error(), "request id r1")

	err = c.Do(ctx, "GET", "/other", nil, nil, nil)
	var ae *Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "http_error", ae.Code)
	assert.LessOrEqual(t, len(ae.Message), 204, "a non-JSON error body is cut")

	err = Client{BaseURL: srv.URL, Token: "tok", MaxAnswerBytes: 10}.Do(ctx, "GET", "/admin/api/big", nil, nil, &out)
	assert.Error(t, err, "a cut answer does not decode")

	for _, bad := range []string{"", "ftp://x", "http://", "::"} {
		assert.Error(t, Client{BaseURL: bad}.Do(ctx, "GET", "/x", nil, nil, nil), bad)
	}
	assert.ErrorContains(t, Client{BaseURL: "http://127.0.0.1:1"}.Do(ctx, "GET", "/x", nil, nil, nil), "cannot reach the admin API")
}

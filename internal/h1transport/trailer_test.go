package h1transport_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// A chunked answer's trailers are in res.Trailer once the body is read to
// its end, and the connection is reused after them.
func TestChunkedAnswerWithTrailers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		_, _ = io.WriteString(w, "part one, ")
		w.(http.Flusher).Flush() // chunked: no length known
		_, _ = io.WriteString(w, "part two")
		w.Header().Set("X-Checksum", "abc123")
	}))
	t.Cleanup(srv.Close)
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{}, &dials, nil)

	for i := 0; i < 3; i++ {
		res, err := tr.RoundTrip(newRequest(t, http.MethodGet, srv.URL))
		require.NoError(t, err)
		assert.Equal(t, []string{"chunked"}, res.TransferEncoding)
		assert.Contains(t, res.Trailer, "X-Checksum")
		assert.Empty(t, res.Trailer.Get("X-Checksum"), "trailer before the body's end")
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		assert.Equal(t, "part one, part two", string(b))
		assert.Equal(t, "abc123", res.Trailer.Get("X-Checksum"))
	}
	assert.Equal(t, 1, dials.count())
}

// Answers without a body (to HEAD, 204, 304) come with http.NoBody and
// give their connection back at once.
func TestAnswersWithoutBody(t *testing.T) {
	cases := []struct {
		name, method, answer string
		status               int
	}{
		{"HEAD", http.MethodHead, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", http.StatusOK},
		{"204", http.MethodGet, "HTTP/1.1 204 No Content\r\n\r\n", http.StatusNoContent},
		{"304", http.MethodGet, "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n", http.StatusNotModified},
		{"zero length", http.MethodGet, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, keepAlive(func(*http.Request) string { return tc.answer }, nil))
			var dials dialCounter
			tr := newTransport(t, h1transport.Options{}, &dials, nil)
			for i := 0; i < 3; i++ {
				res, err := tr.RoundTrip(newRequest(t, tc.method, up.url()))
				require.NoError(t, err)
				assert.Equal(t, tc.status, res.StatusCode)
				assert.Equal(t, http.NoBody, res.Body)
				// The body need not even be closed for the connection to
				// be reused.
			}
			assert.Equal(t, 1, dials.count())
		})
	}
}

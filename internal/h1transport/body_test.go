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

// A body read to its end keeps answering io.EOF, as net/http's bodies do
// (bufio.Reader and json.Decoder read again after an EOF), and a read after
// Close fails. Both paths behave alike.
func TestBodyReadAfterEOF(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)
	std := &http.Transport{}
	t.Cleanup(std.CloseIdleConnections)
	for name, rt := range map[string]http.RoundTripper{
		"fast": newTransport(t, h1transport.Options{}, nil, nil),
		"std":  std,
	} {
		t.Run(name, func(t *testing.T) {
			for i := 0; i < 2; i++ { // a new, then a reused connection
				res, err := rt.RoundTrip(newRequest(t, http.MethodGet, srv.URL))
				require.NoError(t, err)
				b, err := io.ReadAll(res.Body)
				require.NoError(t, err)
				assert.Equal(t, "hello", string(b))
				n, err := res.Body.Read(make([]byte, 8))
				assert.Equal(t, 0, n)
				assert.Equal(t, io.EOF, err, "read after EOF")
				require.NoError(t, res.Body.Close())
				_, err = res.Body.Read(make([]byte, 8))
				assert.ErrorContains(t, err, "closed", "read after Close")
			}
		})
	}
}

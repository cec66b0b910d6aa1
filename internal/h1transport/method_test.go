package h1transport_test

import (
	"bufio"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// A method that is not an HTTP token is refused, as http.Transport refuses
// it, and not written to the upstream: Request.Write copies the method
// as it is, so a method with a CRLF would smuggle a request of its own.
func TestInvalidMethodIsRefused(t *testing.T) {
	var seen atomic.Int32
	up := newUpstream(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			seen.Add(1)
			if _, err := c.Write([]byte(ok("x"))); err != nil {
				return
			}
		}
	})
	var fast, std dialCounter
	tr := newTransport(t, h1transport.Options{}, &fast, &std)

	for _, method := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\nX-Smuggled: 1\r\n\r\nGET",
		"GET /",
		"G\x00T",
	} {
		req := newRequest(t, http.MethodGet, up.url())
		req.Method = method
		assert.False(t, h1transport.Eligible(req), "%q", method)
		res, err := tr.RoundTrip(req)
		require.Error(t, err, "%q", method)
		assert.Nil(t, res)
		assert.Contains(t, err.Error(), "invalid method")
	}
	assert.Zero(t, seen.Load(), "the upstream got a request")
	assert.Zero(t, fast.count()+std.count())

	req := newRequest(t, "PROPFIND", up.url())
	assert.True(t, h1transport.Eligible(req), "an extension method is a token")
}

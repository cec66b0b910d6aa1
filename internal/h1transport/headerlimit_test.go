package h1transport_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// An upstream that streams a header without end is cut off at the wrapped
// transport's default MaxResponseHeaderBytes (10 MiB), as http.Transport
// does, rather than being buffered until the request's deadline.
func TestEndlessHeaderIsCutOff(t *testing.T) {
	const streamed = 16 << 20 // more than the limit; then the upstream stalls
	closed := make(chan int, 1)
	up := newUpstream(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		line := []byte("X-Endless: " + strings.Repeat("a", 64<<10))
		if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\n")); err != nil {
			return
		}
		for sent := 0; sent < streamed; sent += len(line) {
			if _, err := c.Write(line); err != nil {
				closed <- n
				return
			}
		}
		_, _ = br.ReadByte() // stall until the client goes
		closed <- n
	})
	tr := h1transport.New(&http.Transport{}, h1transport.Options{})
	t.Cleanup(tr.CloseIdleConnections)

	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, up.url(), nil)
	require.NoError(t, err)
	res, err := tr.RoundTrip(req)
	require.Error(t, err)
	assert.Nil(t, res)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the head was read until the deadline")
	assert.Contains(t, err.Error(), "10485760")
	recv(t, closed, "upstream to see the connection closed")
}

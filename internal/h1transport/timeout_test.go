package h1transport_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// A slow upstream fails with a net.Error whose Timeout() is true, the
// error the proxy maps to 504.
func TestResponseHeaderTimeout(t *testing.T) {
	got, closed := make(chan int, 1), make(chan int, 1)
	up := newUpstream(t, silent(got, closed))
	tr := newTransport(t, h1transport.Options{ResponseHeaderTimeout: 50 * time.Millisecond}, nil, nil)

	res, err := tr.RoundTrip(newRequest(t, http.MethodGet, up.url()))
	require.Error(t, err)
	assert.Nil(t, res)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "not a timeout: %v", err)
	recv(t, closed, "upstream to see the connection closed")
}

// A header timeout on a reused connection is the upstream being slow, not
// a stale connection: the request is not sent a second time (http.Transport
// does not either), which would double the wait and the upstream's load.
func TestHeaderTimeoutOnReusedConnectionIsNotRetried(t *testing.T) {
	var seen atomic.Int32
	up := newUpstream(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			seen.Add(1)
			if n > 1 || i > 0 {
				_, _ = io.Copy(io.Discard, br) // slow: never answers
				return
			}
			if _, err := io.WriteString(c, ok("first")); err != nil {
				return
			}
		}
	})
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{ResponseHeaderTimeout: 50 * time.Millisecond}, &dials, nil)
	assert.Equal(t, "first", get(t, tr, up.url()))

	_, err := tr.RoundTrip(newRequest(t, http.MethodGet, up.url()))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "not a timeout: %v", err)
	assert.Equal(t, 1, dials.count(), "the timed-out request was sent again on a new connection")
	assert.Equal(t, 2, int(seen.Load()))
}

// A refused connection fails with a *net.OpError whose Op is "dial", the
// error the proxy maps to 502 and to fallback.
func TestDialErrorIsOpError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	tr := newTransport(t, h1transport.Options{}, nil, nil)
	res, err := tr.RoundTrip(newRequest(t, http.MethodGet, "http://"+addr+"/"))
	require.Error(t, err)
	assert.Nil(t, res)
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	assert.Equal(t, "dial", op.Op)
}

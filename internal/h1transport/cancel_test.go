package h1transport_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// silent reads one request, reports it on got and then waits for the
// client to close, reporting that on closed.
func silent(got, closed chan<- int) func(int, net.Conn) {
	return func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		got <- n
		_, _ = io.Copy(io.Discard, br)
		closed <- n
	}
}

// Canceling a request while it waits for the answer's head returns the
// context's error at once and closes the connection.
func TestCancelWhileWaitingForHead(t *testing.T) {
	got, closed := make(chan int, 1), make(chan int, 1)
	up := newUpstream(t, silent(got, closed))
	tr := newTransport(t, h1transport.Options{}, nil, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, up.url(), nil)
	require.NoError(t, err)
	errc := roundTripAsync(tr, req)
	recv(t, got, "request at the upstream")
	cancel()
	err = recv(t, errc, "RoundTrip to return")
	assert.ErrorIs(t, err, context.Canceled)
	recv(t, closed, "upstream to see the connection closed")
}

// Canceling a request while its body is read fails the read with the
// context's error (as http.Transport does) and closes the connection.
func TestCancelWhileReadingBody(t *testing.T) {
	got, closed := make(chan int, 1), make(chan int, 1)
	up := newUpstream(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part"); err != nil {
			return
		}
		got <- n
		_, _ = io.Copy(io.Discard, br)
		closed <- n
	})
	std := &http.Transport{}
	t.Cleanup(std.CloseIdleConnections)
	for name, rt := range map[string]http.RoundTripper{
		"fast": newTransport(t, h1transport.Options{}, nil, nil),
		"std":  std,
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, up.url(), nil)
			require.NoError(t, err)
			res, err := rt.RoundTrip(req)
			require.NoError(t, err)
			defer res.Body.Close()
			recv(t, got, "answer head")
			buf := make([]byte, 10)
			_, err = io.ReadFull(res.Body, buf)
			require.NoError(t, err)

			errc := make(chan error, 1)
			go func() {
				_, err := res.Body.Read(buf) // blocks: 90 bytes never come
				errc <- err
			}()
			cancel()
			err = recv(t, errc, "body read to fail")
			assert.ErrorIs(t, err, context.Canceled)
			recv(t, closed, "upstream to see the connection closed")
		})
	}
}

// A request canceled before it is sent fails with the context's error and
// leaves the pooled connection for the next request.
func TestCanceledBeforeSendKeepsPooledConnection(t *testing.T) {
	up := newUpstream(t, keepAlive(okAnswer("x"), nil))
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{}, &dials, nil)
	assert.Equal(t, "x", get(t, tr, up.url()))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, up.url(), nil)
	require.NoError(t, err)
	res, err := tr.RoundTrip(req)
	assert.Nil(t, res)
	assert.ErrorIs(t, err, context.Canceled)

	assert.Equal(t, "x", get(t, tr, up.url()))
	assert.Equal(t, 1, dials.count(), "a canceled request spent the pooled connection")
}

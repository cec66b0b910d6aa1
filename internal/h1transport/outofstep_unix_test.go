//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1transport_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// pending reports whether bytes wait in c's receive queue (a peek).
func pending(t *testing.T, c net.Conn) bool {
	raw, err := c.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	var n int
	require.NoError(t, raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}))
	return n > 0
}

// Bytes an upstream sends on a connection after its answer was read and
// the connection pooled (an unsolicited answer) are not taken as the answer
// to the next request, however soon it comes: a pooled connection is shared
// by every client of the proxy, so this would hand one client's answer to
// another.
func TestUnsolicitedAnswerOnIdleConnection(t *testing.T) {
	pooled := make(chan struct{})
	stray := make(chan struct{})
	up := newUpstream(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		reply := ok("second")
		if n == 1 {
			reply = ok("first")
		}
		if _, err := io.WriteString(c, reply); err != nil || n > 1 {
			return
		}
		select {
		case <-pooled:
		case <-time.After(guard):
			return
		}
		_, _ = io.WriteString(c, ok("evil"))
		close(stray)
		_, _ = io.Copy(io.Discard, br)
	})
	conns := make(chan net.Conn, 4)
	var d net.Dialer
	tr := newTransport(t, h1transport.Options{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				conns <- c
			}
			return c, err
		},
	}, nil, nil)

	assert.Equal(t, "first", get(t, tr, up.url()))
	close(pooled)
	recv(t, stray, "stray answer written")
	first := recv(t, conns, "first connection")
	deadline := time.Now().Add(guard)
	for !pending(t, first) {
		require.True(t, time.Now().Before(deadline), "stray bytes never arrived")
		time.Sleep(time.Millisecond)
	}

	assert.Equal(t, "second", get(t, tr, up.url()))
	assert.Len(t, conns, 1, "the request did not take a new connection")
}

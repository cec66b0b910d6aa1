package h1transport_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// answerOnceThenClose answers the first request of each connection and
// closes it, as an upstream closing an idle keep-alive connection does;
// closed gets the connection's number once it is closed.
func answerOnceThenClose(closed chan<- int) func(int, net.Conn) {
	return func(n int, c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, ok("fresh"))
		_ = c.Close()
		closed <- n
	}
}

// A keep-alive connection the upstream closed while idle is not used for
// the next request, whatever its method.
func TestUpstreamClosedIdleConnection(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			closed := make(chan int, 4)
			up := newUpstream(t, answerOnceThenClose(closed))
			var dials dialCounter
			tr := newTransport(t, h1transport.Options{}, &dials, nil)

			assert.Equal(t, "fresh", get(t, tr, up.url()))
			recv(t, closed, "upstream to close the connection")
			_, body := roundTrip(t, tr, newRequest(t, method, up.url()))
			assert.Equal(t, "fresh", body)
			assert.Equal(t, 2, dials.count())
		})
	}
}

// staleAfterFirst answers the first request of the first connection, then
// reads the second request on it and closes without answering: the race
// where an upstream closes an idle connection as a request arrives. Later
// connections answer every request. seen counts the requests read.
func staleAfterFirst(seen *atomic.Int32) func(int, net.Conn) {
	return func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			seen.Add(1)
			if n == 1 && i == 1 {
				return // read it, closed without a byte of answer
			}
			if _, err := io.WriteString(c, okFor(req, "answer")); err != nil {
				return
			}
		}
	}
}

// A replayable request a reused connection failed before any byte of an
// answer is sent once more on a new connection; a request that may not be
// replayed is not, since the upstream may have acted on it.
func TestStaleConnectionRetry(t *testing.T) {
	cases := []struct {
		name   string
		method string
		header http.Header
		retry  bool
	}{
		{"GET is replayed", http.MethodGet, nil, true},
		{"HEAD is replayed", http.MethodHead, nil, true},
		{"POST is not replayed", http.MethodPost, nil, false},
		{"PATCH is not replayed", http.MethodPatch, nil, false},
		{"POST with Idempotency-Key is replayed", http.MethodPost, http.Header{"Idempotency-Key": {"k1"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var seen atomic.Int32
			up := newUpstream(t, staleAfterFirst(&seen))
			var dials dialCounter
			tr := newTransport(t, h1transport.Options{}, &dials, nil)
			assert.Equal(t, "answer", get(t, tr, up.url()))

			req := newRequest(t, tc.method, up.url())
			for k, v := range tc.header {
				req.Header[k] = v
			}
			res, err := tr.RoundTrip(req)
			if !tc.retry {
				require.Error(t, err)
				assert.Nil(t, res)
				assert.Equal(t, 1, dials.count(), "a non-replayable request was sent again")
				assert.Equal(t, 2, int(seen.Load()))
				return
			}
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			require.NoError(t, res.Body.Close())
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, 2, dials.count())
			assert.Equal(t, 3, int(seen.Load()))
		})
	}
}

// A request that failed on a new connection is never retried.
func TestNoRetryOnFreshConnection(t *testing.T) {
	var seen atomic.Int32
	up := newUpstream(t, func(_ int, c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			seen.Add(1)
		}
	})
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{}, &dials, nil)
	_, err := tr.RoundTrip(newRequest(t, http.MethodGet, up.url()))
	require.Error(t, err)
	assert.Equal(t, 1, dials.count())
	assert.Equal(t, 1, int(seen.Load()))
}

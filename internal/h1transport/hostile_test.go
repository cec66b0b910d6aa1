package h1transport_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// Outcomes of a hostile answer.
const (
	fails    = "fails"    // RoundTrip or the body read returns an error
	succeeds = "succeeds" // a well-formed answer, read to its end
	either   = "either"   // no claim beyond "no panic, no hang"
)

// hostileHeaderLimit is the wrapped transport's MaxResponseHeaderBytes in
// the hostile tests: the fast path takes the same limit.
const hostileHeaderLimit = 64 << 10

// hostileAnswer is what a broken or hostile upstream writes; closes: it
// then closes its side of the connection (the only end of some answers).
type hostileAnswer struct {
	name, answer string
	closes       bool
	want         string
}

// hostileAnswers is the table of the hostile test and the fuzz seeds.
func hostileAnswers() []hostileAnswer {
	return []hostileAnswer{
		{"huge header line", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 4*hostileHeaderLimit) + "\r\nContent-Length: 2\r\n\r\nok", false, fails},
		{"many headers", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Many: aaaaaaaaaaaaaaaaaaaa\r\n", hostileHeaderLimit/16) + "Content-Length: 2\r\n\r\nok", false, fails},
		{"negative content-length", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nok", false, fails},
		{"two content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", false, fails},
		{"overflowing content-length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nok", false, fails},
		{"invalid chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", false, fails},
		{"huge chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", false, fails},
		{"unsupported transfer-encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, fails},
		{"NUL in header", "HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 2\r\n\r\nok", false, fails},
		{"status 999", "HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok", false, succeeds},
		{"two-digit status", "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok", false, fails},
		{"status without reason", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", false, succeeds},
		{"missing CR", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, succeeds},
		{"folded header", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok", false, either},
		{"chunked and content-length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, either},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true, fails},
		{"truncated chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true, fails},
		{"truncated head", "HTTP/1.1 200 OK\r\nContent-Le", true, fails},
		{"nothing", "", true, fails},
		{"not http", "SSH-2.0-OpenSSH_9.6\r\n", true, fails},
		{"1xx then close", "HTTP/1.1 103 Early Hints\r\n\r\n", true, fails},
		{"endless 1xx", strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 100), false, fails},
		{"101 switch", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false, fails},
	}
}

// hostileUpstream writes answer to the first request of the first
// connection (then closes its side if closes) and counts in reused the
// requests that still arrive on that connection; every other request gets
// ok("good").
func hostileUpstream(tb testing.TB, answer string, closes bool, reused *atomic.Int32) *upstream {
	return newUpstream(tb, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			reply := ok("good")
			if n == 1 && i == 0 {
				reply = answer
			} else if n == 1 {
				reused.Add(1)
			}
			if _, err := io.WriteString(c, reply); err != nil {
				return
			}
			if n == 1 && i == 0 && closes {
				_ = c.(*net.TCPConn).CloseWrite()
			}
		}
	})
}

// hostileTransport is a Transport whose wrapped http.Transport limits
// answer heads to hostileHeaderLimit.
func hostileTransport(tb testing.TB) *h1transport.Transport {
	std := &http.Transport{MaxResponseHeaderBytes: hostileHeaderLimit}
	tr := h1transport.New(std, h1transport.Options{})
	tb.Cleanup(tr.CloseIdleConnections)
	return tr
}

// exchangeOnce sends a GET and reads the answer to its end within ctx.
func exchangeOnce(ctx context.Context, rt http.RoundTripper, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	res, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return string(b), err
}

// A broken or hostile upstream answer gives an error or a well-formed
// answer, never a hang or a panic, and a connection that failed is never
// used again.
func TestHostileAnswers(t *testing.T) {
	for _, tc := range hostileAnswers() {
		t.Run(tc.name, func(t *testing.T) {
			var reused atomic.Int32
			up := hostileUpstream(t, tc.answer, tc.closes, &reused)
			tr := hostileTransport(t)
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()

			body, err := exchangeOnce(ctx, tr, up.url())
			require.NotErrorIs(t, err, context.DeadlineExceeded, "hung")
			switch tc.want {
			case fails:
				assert.Error(t, err)
			case succeeds:
				assert.NoError(t, err)
				assert.Equal(t, "ok", body)
			}

			// The next request gets a good answer, and not on a connection
			// that failed.
			body, err = exchangeOnce(ctx, tr, up.url())
			require.NoError(t, err)
			assert.Equal(t, "good", body)
			if tc.want == fails {
				assert.Zero(t, reused.Load(), "a failed connection was used again")
			}
		})
	}
}

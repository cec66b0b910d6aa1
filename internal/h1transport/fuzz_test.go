package h1transport_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzUpstreamAnswer has a raw upstream write the input as its answer (and
// close its side): a GET or HEAD and the read of its body must end, with
// an answer or an error, without a panic and well before the bound.
//
//	go test -run '^$' -fuzz FuzzUpstreamAnswer -fuzztime 30s ./internal/h1transport/
func FuzzUpstreamAnswer(f *testing.F) {
	for _, tc := range hostileAnswers() {
		f.Add(false, []byte(tc.answer))
	}
	f.Add(true, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
	f.Add(false, []byte(earlyHints+ok("final")))
	f.Add(false, []byte(ok("first")+ok("second")))
	f.Add(false, []byte("HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: v\r\n\r\n"))

	// Each request's path names its answer: /n answers answers[n].
	var answers sync.Map
	var next atomic.Int64
	up := newUpstream(f, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		answer, _ := answers.LoadAndDelete(strings.TrimPrefix(req.URL.Path, "/"))
		if answer != nil {
			_, _ = c.Write(answer.([]byte))
		}
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, br) // until the client closes
	})
	tr := hostileTransport(f)

	f.Fuzz(func(t *testing.T, head bool, answer []byte) {
		id := strconv.FormatInt(next.Add(1), 10)
		answers.Store(id, answer)
		defer answers.Delete(id)
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		req, err := http.NewRequestWithContext(ctx, method, up.url()+id, nil)
		require.NoError(t, err)

		start := time.Now()
		res, err := tr.RoundTrip(req)
		if err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
			require.NoError(t, res.Body.Close())
		}
		require.NotErrorIs(t, err, context.DeadlineExceeded, "hung for %v", time.Since(start))
		// Every connection is closed by the upstream: none may stay pooled
		// for the next input.
		tr.CloseIdleConnections()
	})
}

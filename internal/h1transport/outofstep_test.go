package h1transport_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// firstConnAnswers writes answer to the first request of the first
// connection and counts, in reused, the requests that arrive on it after
// that; other connections answer ok("second").
func firstConnAnswers(answer string, reused *atomic.Int32) func(int, net.Conn) {
	return func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			reply := ok("second")
			if n == 1 {
				if i > 0 {
					reused.Add(1)
				}
				reply = answer
			}
			if _, err := io.WriteString(c, reply); err != nil {
				return
			}
		}
	}
}

// Bytes that are not an HTTP answer fail the exchange and end the
// connection.
func TestGarbageAnswer(t *testing.T) {
	var reused atomic.Int32
	up := newUpstream(t, firstConnAnswers("SSH-2.0-OpenSSH_9.6\r\n\r\n", &reused))
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{}, &dials, nil)

	res, err := tr.RoundTrip(newRequest(t, http.MethodGet, up.url()))
	assert.Error(t, err)
	assert.Nil(t, res)
	assert.Equal(t, "second", get(t, tr, up.url()))
	assert.Equal(t, 2, dials.count())
	assert.Zero(t, reused.Load())
}

// Bytes after a complete answer mean the upstream is out of step with its
// requests: the connection is not reused, or the next request would get
// them as its answer.
func TestBytesAfterCompleteAnswer(t *testing.T) {
	var reused atomic.Int32
	up := newUpstream(t, firstConnAnswers(ok("first")+ok("evil"), &reused))
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{}, &dials, nil)

	assert.Equal(t, "first", get(t, tr, up.url()))
	assert.Equal(t, "second", get(t, tr, up.url()))
	assert.Equal(t, 2, dials.count())
	assert.Zero(t, reused.Load())
}

package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The wrapper must not hide what the real ResponseWriter can do.
func TestResponseWriterKeepsCapabilities(t *testing.T) {
	type seen struct {
		deadlineErr, duplexErr, flushErr error
		status                           int
		bytes                            int64
	}
	results := make(chan seen, 1)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		var rw responseWriter
		rw.reset(w, nil)
		rc := http.NewResponseController(&rw)
		var s seen
		s.deadlineErr = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		s.duplexErr = rc.EnableFullDuplex()
		rw.Header().Set("Link", "</a>; rel=preload")
		rw.WriteHeader(http.StatusEarlyHints) // informational: not the final status
		rw.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(&rw, "hello")
		s.flushErr = rc.Flush()
		s.status, s.bytes = rw.status, rw.bytes
		results <- s
	})
	res, err := http.Get(up.URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusAccepted, res.StatusCode)
	assert.Equal(t, "hello", string(body))

	s := recv(t, results)
	assert.NoError(t, s.deadlineErr, "SetWriteDeadline reaches the connection through Unwrap")
	assert.NoError(t, s.duplexErr)
	assert.NoError(t, s.flushErr)
	assert.Equal(t, http.StatusAccepted, s.status)
	assert.EqualValues(t, 5, s.bytes)
}

func TestResponseWriterHijackIsTracked(t *testing.T) {
	tracked := make(chan net.Conn, 1)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		var rw responseWriter
		rw.reset(w, func(c net.Conn) { tracked <- c })
		var _ http.Hijacker = &rw
		conn, brw, err := rw.Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		assert.Equal(t, http.StatusSwitchingProtocols, rw.status)
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nraw")
		_ = brw.Flush()
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(up.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	assert.NotNil(t, recv(t, tracked), "the hijacked connection is registered for shutdown")
}

func TestBufferPoolRecycles(t *testing.T) {
	p := NewBufferPool()
	b := p.Get()
	require.Len(t, b, CopyBufferSize)
	p.Put(b)
	p.Put(make([]byte, 10)) // wrong size: dropped, not stored
	assert.Len(t, p.Get(), CopyBufferSize)
	assert.Zero(t, testing.AllocsPerRun(100, func() { p.Put(p.Get()) }))
}

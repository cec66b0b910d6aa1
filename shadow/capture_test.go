package shadow

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

func TestBufferPoolClasses(t *testing.T) {
	p := newBufferPool(1 << 20)
	assert.Equal(t, []int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}, p.classes)
	b := p.get(5000)
	assert.Equal(t, 16<<10, cap(*b))
	assert.Empty(t, *b)
	*b = append(*b, "abc"...)
	p.put(b)
	b2 := p.get(1)
	assert.Equal(t, 4<<10, cap(*b2))
	assert.Equal(t, 1<<20, cap(*p.get(1 << 20)))
	// A buffer of another capacity is not pooled (and does not panic).
	odd := make([]byte, 0, 1000)
	p.put(&odd)
	p.put(nil)

	small := newBufferPool(100)
	assert.Equal(t, []int{100}, small.classes)
	assert.Equal(t, 100, cap(*small.get(5000)))
}

func TestCaptureTeesExactlyAndStopsAtTheCap(t *testing.T) {
	pool := newBufferPool(64 << 10)
	for _, size := range []int{0, 1, 4095, 4096, 4097, 20000, 64 << 10, 64<<10 + 1, 300000} {
		src := bytes.Repeat([]byte("abcdefghij"), size/10+1)[:size]
		var c Capture
		c.init(pool, -1)
		tee := &teeBody{rc: io.NopCloser(iotest.HalfReader(bytes.NewReader(src))), c: &c}
		got, err := io.ReadAll(tee)
		require.NoError(t, err)
		assert.Equal(t, src, got, "the reader sees the same bytes (size %d)", size)
		buf, body, reason := c.seal()
		if size > 64<<10 {
			assert.Equal(t, ReasonTooLarge, reason, "size %d", size)
			assert.Nil(t, buf)
			continue
		}
		require.Empty(t, reason, "size %d", size)
		assert.Equal(t, src, append([]byte{}, body...), "size %d", size)
		pool.put(buf)
	}
}

func TestCaptureCompleteness(t *testing.T) {
	pool := newBufferPool(1 << 10)
	// Read to EOF: complete.
	var c Capture
	c.init(pool, -1)
	_, _ = io.ReadAll(&teeBody{rc: io.NopCloser(strings.NewReader("hello")), c: &c})
	_, body, reason := c.seal()
	assert.Empty(t, reason)
	assert.Equal(t, "hello", string(body))

	// Exactly Content-Length bytes without EOF: complete.
	c = Capture{}
	c.init(pool, 5)
	buf := make([]byte, 5)
	_, err := io.ReadFull(&teeBody{rc: io.NopCloser(strings.NewReader("hello")), c: &c}, buf)
	require.NoError(t, err)
	_, body, reason = c.seal()
	assert.Empty(t, reason)
	assert.Equal(t, "hello", string(body))

	// Partly read: incomplete.
	c = Capture{}
	c.init(pool, -1)
	_, err = io.ReadFull(&teeBody{rc: io.NopCloser(strings.NewReader("hello")), c: &c}, buf[:3])
	require.NoError(t, err)
	_, _, reason = c.seal()
	assert.Equal(t, ReasonIncomplete, reason)

	// Known length over the cap: too large before any byte.
	c = Capture{}
	c.init(pool, 5000)
	_, _, reason = c.seal()
	assert.Equal(t, ReasonTooLarge, reason)

	// Reads after sealing pass through and copy nothing.
	c = Capture{}
	c.init(pool, -1)
	tee := &teeBody{rc: io.NopCloser(strings.NewReader("late bytes")), c: &c}
	c.seal()
	got, err := io.ReadAll(tee)
	require.NoError(t, err)
	assert.Equal(t, "late bytes", string(got))
	assert.Nil(t, c.buf)
}

func TestReadBounded(t *testing.T) {
	pool := newBufferPool(64 << 10)
	for _, tc := range []struct {
		size   int
		cl     int64
		tooBig bool
	}{
		{0, -1, false}, {10, -1, false}, {64 << 10, -1, false}, {64<<10 + 1, -1, true}, {1 << 20, -1, true},
		{10, 10, false}, {64 << 10, 64 << 10, false}, {100, 1 << 20, true},
	} {
		src := bytes.Repeat([]byte{'q'}, tc.size)
		buf, tooLarge, err := readBounded(pool, iotest.OneByteReader(bytes.NewReader(src)), tc.cl)
		require.NoError(t, err)
		assert.Equal(t, tc.tooBig, tooLarge, "size %d", tc.size)
		if !tc.tooBig {
			assert.Equal(t, src, append([]byte{}, bufBytes(buf)...))
		}
		pool.put(buf)
	}
	_, _, err := readBounded(pool, iotest.ErrReader(io.ErrUnexpectedEOF), -1)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// TestTeeKeepsStreaming proves both tees stream: the serving backend gets
// the first part of the request body before the client sends the rest, and
// the client gets the first part of the answer before the backend writes
// the rest. A tee that buffered either body would deadlock here.
func TestTeeKeepsStreaming(t *testing.T) {
	gotFirst := make(chan struct{})
	clientGotFirst := make(chan struct{})
	// A plain server: the recording one reads the whole body first.
	primary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "part1" {
			http.Error(w, "bad first part", 400)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-clientGotFirst:
		case <-time.After(30 * time.Second):
			return
		}
		io.WriteString(w, "data: "+string(rest)+"\n\n")
	}))
	t.Cleanup(primary.Close)
	candidate := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\ndata: part2\n\n")
	})
	e, mem, _ := newTestEngine(t, engineConfig{legacy: primary.URL, newURL: candidate.URL,
		routes: []config.Route{{Name: "qa", Shadow: config.RouteShadow{UnsafeMethods: true}}}})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, primary.URL), "qa", "org-1", BackendLegacy)

	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("part1"))
		select {
		case <-gotFirst:
		case <-time.After(30 * time.Second):
		}
		pw.Write([]byte("part2"))
		pw.Close()
	}()
	req, err := http.NewRequest("POST", front.URL+"/stream", pr)
	require.NoError(t, err)
	resp, err := front.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	first := make([]byte, len("data: one\n\n"))
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err)
	assert.Equal(t, "data: one\n\n", string(first))
	close(clientGotFirst)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "data: part2\n\n", string(rest))
	resp.Body.Close()

	sum := waitSummary(t, mem, "qa", 1)
	shutdown(t, e)
	assert.Equal(t, Counts{Match: 1}, sum.Counts, "the streamed exchange was captured whole and matched")
	require.Len(t, candidate.requests(), 1)
	assert.Equal(t, "part1part2", string(candidate.requests()[0].Body))
}

// TestClientGoneIsIncomplete: a client that hangs up mid-answer leaves an
// answer that was never seen whole; it is dropped as incomplete.
func TestClientGoneIsIncomplete(t *testing.T) {
	primary := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("a", 1000))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	candidate := newBackend(t, jsonHandler(`x`))
	e, mem, _ := newTestEngine(t, engineConfig{legacy: primary.URL, newURL: candidate.URL})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, primary.URL), "qa", "org-1", BackendLegacy)
	resp, err := front.Client().Get(front.URL + "/x")
	require.NoError(t, err)
	_, err = io.ReadFull(resp.Body, make([]byte, 1000))
	require.NoError(t, err)
	resp.Body.Close() // hang up before the end
	sum := waitSummary(t, mem, "qa", 1)
	shutdown(t, e)
	assert.Equal(t, Counts{Dropped: 1}, sum.Counts)
	assert.Equal(t, 1.0, counterValue(t, e.metrics.reasons.WithLabelValues("qa", "dropped", "incomplete")))
	assert.Empty(t, candidate.requests())
}

func TestTapSkips(t *testing.T) {
	e, mem, _ := newTestEngine(t, engineConfig{})
	require.NoError(t, e.Start(context.Background()))
	// A WebSocket upgrade is not replayable.
	r, _ := http.NewRequest("GET", "http://x/ws", nil)
	r.Header.Set("Upgrade", "websocket")
	tap := e.Tap(r, "qa", "o", BackendLegacy)
	tap.CaptureResponse(&http.Response{StatusCode: 101, Header: http.Header{}, Request: r})
	assert.False(t, tap.Finish())
	assert.False(t, tap.Finish(), "finishing twice does nothing")
	// The proxy failed before any answer.
	r, _ = http.NewRequest("GET", "http://x/y", nil)
	assert.False(t, e.Tap(r, "qa", "o", BackendLegacy).Finish())
	// A canary request that fell back to legacy.
	r, _ = http.NewRequest("GET", "http://x/y", nil)
	tap = e.Tap(r, "qa", "o", BackendNew)
	tap.SetServing(BackendLegacy)
	tap.CaptureResponse(&http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r})
	assert.False(t, tap.Finish())
	// Discard records nothing.
	r, _ = http.NewRequest("GET", "http://x/y", nil)
	e.Tap(r, "qa", "o", BackendLegacy).Discard()

	sum := waitSummary(t, mem, "qa", 3)
	shutdown(t, e)
	assert.Equal(t, Counts{Dropped: 3}, sum.Counts)
	for _, reason := range []Reason{ReasonUpgrade, ReasonNotServed, ReasonFallback} {
		assert.Equal(t, 1.0, counterValue(t, e.metrics.reasons.WithLabelValues("qa", "dropped", string(reason))), reason)
	}
}

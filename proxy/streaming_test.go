package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebSocketEchoBothWays(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(2 << 20)
		// The server speaks first, then echoes.
		if err := c.Write(r.Context(), websocket.MessageText, []byte("hello from upstream")); err != nil {
			return
		}
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
	p := startProxy(t, testConfig(up.URL))

	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws"+p.URL[len("http"):]+"/api/ws", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	c.SetReadLimit(2 << 20)
	assert.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)

	typ, msg, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, websocket.MessageText, typ)
	assert.Equal(t, "hello from upstream", string(msg), "upstream → client")

	for i := 0; i < 20; i++ {
		out := fmt.Sprintf("message %d", i)
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(out)))
		_, msg, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, "echo:"+out, string(msg), "client → upstream → client")
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, big))
	typ, msg, err = c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, websocket.MessageBinary, typ)
	assert.Equal(t, append([]byte("echo:"), big...), msg)

	require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))
	line := waitAccessLine(t, p.Logs, func(l map[string]any) bool { return l["path"] == "/api/ws" })
	assert.EqualValues(t, http.StatusSwitchingProtocols, line["status"])
}

// patternReader produces n bytes of a fixed pattern without allocating.
type patternReader struct {
	left int64
}

var pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}()

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		n += copy(p[n:], pattern)
	}
	r.left -= int64(n)
	return n, nil
}

// heapSampler records the largest HeapInuse seen while running.
type heapSampler struct {
	max  atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	runtime.GC()
	go func() {
		defer close(h.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.max.Load() {
				h.max.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) finish() uint64 {
	close(h.stop)
	<-h.done
	return h.max.Load()
}

const (
	oneGiB       = int64(1) << 30
	heapCeiling  = 64 << 20
	bytesCounted = "X-Bytes-Counted"
)

// The heap is measured for the whole test process — client, proxy and
// upstream — so the bound holds for the proxy a fortiori.

func TestOneGiBUploadStreams(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set(bytesCounted, strconv.FormatInt(n, 10))
	})
	p := startProxy(t, testConfig(up.URL))

	heap := sampleHeap()
	req, err := http.NewRequest(http.MethodPost, p.URL+"/api/upload", &patternReader{left: oneGiB})
	require.NoError(t, err)
	req.ContentLength = oneGiB
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	peak := heap.finish()

	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, strconv.FormatInt(oneGiB, 10), res.Header.Get(bytesCounted), "the upstream received every byte")
	t.Logf("1 GiB upload: peak HeapInuse %.1f MiB", float64(peak)/(1<<20))
	assert.Less(t, peak, uint64(heapCeiling), "the body must stream, not be held in memory")
}

func TestOneGiBDownloadStreams(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(oneGiB, 10))
		_, _ = io.Copy(w, &patternReader{left: oneGiB})
	})
	p := startProxy(t, testConfig(up.URL))

	heap := sampleHeap()
	res, err := http.Get(p.URL + "/api/download")
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	peak := heap.finish()

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, oneGiB, n, "the client received every byte")
	t.Logf("1 GiB download: peak HeapInuse %.1f MiB", float64(peak)/(1<<20))
	assert.Less(t, peak, uint64(heapCeiling), "the body must stream, not be held in memory")
}

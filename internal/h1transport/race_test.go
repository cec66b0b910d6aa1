package h1transport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// bodyFor is the answer to /n: sizes from a few bytes to 64 KiB, so some
// answers are abandoned with most of their body still unread.
func bodyFor(n int) string {
	return strings.Repeat(fmt.Sprintf("<%d>", n), 1+(n%7)*(n%7)*330)
}

// Many goroutines share the pools while requests are canceled before they
// are sent, canceled while their body is read and abandoned half read:
// every answer read to its end is the exact body of its own request, and
// no goroutine is left behind. Run with -race.
func TestConcurrentMixedRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		_, _ = io.WriteString(w, bodyFor(n))
	}))
	t.Cleanup(srv.Close)
	tr := newTransport(t, h1transport.Options{MaxIdleConnsPerHost: 8}, nil, nil)
	before := runtime.NumGoroutine()

	const workers, perWorker = 16, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if !oneMixedRequest(t, tr, srv.URL, w*perWorker+i) {
					return
				}
			}
		}()
	}
	wg.Wait()

	tr.CloseIdleConnections()
	deadline := time.Now().Add(guard)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left behind")
}

// oneMixedRequest sends request n in the way n picks; false on a failure.
func oneMixedRequest(t *testing.T, tr *h1transport.Transport, base string, n int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/"+strconv.Itoa(n), nil)
	require.NoError(t, err)
	want := bodyFor(n)
	if n%10 == 3 {
		cancel() // canceled before it is sent
	}
	res, err := tr.RoundTrip(req)
	if n%10 == 3 {
		return assert.ErrorIs(t, err, context.Canceled)
	}
	if !assert.NoError(t, err) {
		return false
	}
	defer res.Body.Close()
	switch n % 10 {
	case 5: // canceled while the body is read: an error or the whole body
		cancel()
		b, err := io.ReadAll(res.Body)
		return err != nil || assert.Equal(t, want, string(b))
	case 7: // abandoned after a few bytes
		buf := make([]byte, 3)
		_, err := io.ReadFull(res.Body, buf)
		return assert.NoError(t, err) && assert.Equal(t, want[:3], string(buf))
	}
	b, err := io.ReadAll(res.Body)
	return assert.NoError(t, err) && assert.Equal(t, want, string(b))
}

package shadow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// refusingURL returns the URL of a port nobody listens on any more.
func refusingURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

// resettingURL returns the URL of a server that reads the request and then
// resets the connection (SO_LINGER 0 makes Close send RST).
func resettingURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_ = c.(*net.TCPConn).SetLinger(0)
				_ = c.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// hugeHandler streams 100 MiB without ever holding it.
func hugeHandler(w http.ResponseWriter, r *http.Request) {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	for i := 0; i < (100<<20)/len(chunk); i++ {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// TestServingDoesNotWaitForTheCandidate drives real requests through the
// serving path while the candidate misbehaves; the client is served in
// every case, and each misbehaviour is recorded as what it is.
func TestServingDoesNotWaitForTheCandidate(t *testing.T) {
	primary := newBackend(t, jsonHandler(`{"ok":true}`))
	for _, tc := range []struct {
		name      string
		candidate func(t *testing.T) (url string, blocked func() bool, release func())
		reason    Reason
	}{
		{"refusing connections", func(t *testing.T) (string, func() bool, func()) {
			return refusingURL(t), nil, func() {}
		}, ReasonConnect},
		{"resetting connections", func(t *testing.T) (string, func() bool, func()) {
			return resettingURL(t), nil, func() {}
		}, ReasonReset},
		{"sleeping 10s", func(t *testing.T) (string, func() bool, func()) {
			var entered, returned atomic.Int64
			release := make(chan struct{})
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				entered.Add(1)
				defer returned.Add(1)
				select {
				case <-time.After(10 * time.Second):
				case <-release:
				case <-r.Context().Done():
				}
			})
			blocked := func() bool { return entered.Load() > 0 && returned.Load() == 0 }
			return b.URL, blocked, func() { close(release) }
		}, ReasonTimeout},
		{"answering 100 MiB", func(t *testing.T) (string, func() bool, func()) {
			return newBackend(t, hugeHandler).URL, nil, func() {}
		}, ReasonTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			candURL, blocked, release := tc.candidate(t)
			timeout := 10 * time.Second
			if blocked != nil {
				// The handler would sleep 10 s; the copy gives up earlier so
				// that the test can check the outcome without waiting.
				timeout = 500 * time.Millisecond
			}
			e, mem, _ := newTestEngine(t, engineConfig{legacy: primary.URL, newURL: candURL,
				shadow: config.Shadow{Workers: 5, QueueSize: 64, Timeout: config.Duration(timeout)}})
			require.NoError(t, e.Start(context.Background()))
			front := servingPath(t, e, mustURL(t, primary.URL), "qa", "org-1", BackendLegacy)

			const n = 10
			done := make(chan error, 1)
			go func() {
				for i := 0; i < n; i++ {
					resp, err := front.Client().Get(front.URL + "/x")
					if err != nil {
						done <- err
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || string(body) != `{"ok":true}` {
						done <- fmt.Errorf("body %q: %v", body, err)
						return
					}
				}
				done <- nil
			}()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(60 * time.Second):
				t.Fatal("the client was not served: the serving path waits on the candidate")
			}
			if blocked != nil {
				// Ordering: every client response is complete, and the
				// candidate handler has the first copy and is still blocked.
				require.Eventually(t, blocked, 10*time.Second, time.Millisecond, "the copy reached the candidate")
				assert.True(t, blocked(), "the candidate is still blocked after the client was served")
			}
			sum := waitSummary(t, mem, "qa", n)
			release()
			shutdown(t, e)
			assert.Equal(t, int64(n), sum.CandidateError)
			assert.Equal(t, float64(n), counterValue(t, e.metrics.reasons.WithLabelValues("qa", "candidate_error", string(tc.reason))))
			assert.Equal(t, int64(n), sum.LegacyLatency.Count(), "the serving latency is recorded")
		})
	}
}

// TestMemoryStaysBoundedWhenTheQueueIsFull: the candidate never answers, the
// workers are stuck, requests with large bodies keep coming. The queue's
// byte budget keeps the heap bounded; everything beyond is dropped and
// counted.
func TestMemoryStaysBoundedWhenTheQueueIsFull(t *testing.T) {
	body := strings.Repeat("x", 256<<10)
	primary := newBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	release := make(chan struct{})
	candidate := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	const budget = 16 << 20
	e, mem, _ := newTestEngine(t, engineConfig{legacy: primary.URL, newURL: candidate.URL, budget: budget,
		shadow: config.Shadow{Workers: 2, QueueSize: 100000, Timeout: config.Duration(time.Minute)}})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, primary.URL), "qa", "org-1", BackendLegacy)

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heap()
	const n = 400 // 100 MiB of bodies: without a budget all of it would be queued
	client := front.Client()
	var peak uint64
	for i := 0; i < n; i++ {
		resp, b := do(t, client, "GET", front.URL+"/x", nil)
		require.Equal(t, 200, resp.StatusCode)
		require.Len(t, b, len(body))
		if i%50 == 49 {
			peak = max(peak, heap())
		}
	}
	peak = max(peak, heap())
	queued := e.queued.Load()
	assert.LessOrEqual(t, queued, int64(budget), "queued bytes stay within the budget")
	growth := int64(peak) - int64(before)
	t.Logf("heap in use: before %d MiB, peak %d MiB, queued %d MiB", before>>20, peak>>20, queued>>20)
	assert.Less(t, growth, int64(budget+24<<20), "heap growth is bounded by the budget, not by the traffic (%d MiB)", growth>>20)
	dropped := counterValue(t, e.metrics.reasons.WithLabelValues("qa", "dropped", "memory"))
	assert.Greater(t, dropped, float64(n/2), "most comparisons were dropped and counted")

	close(release)
	sum := waitSummary(t, mem, "qa", n)
	shutdown(t, e)
	assert.Equal(t, int64(dropped), sum.Dropped)
	assert.Equal(t, int64(n), sum.Comparisons())
}

// TestNoGoroutineLeaks runs every kind of traffic, shuts down and checks
// that the goroutine count comes back to where it was.
func TestNoGoroutineLeaks(t *testing.T) {
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	before := settle()
	func() {
		primary := newBackend(t, jsonHandler(`{"a":1}`))
		release := make(chan struct{})
		var once sync.Once
		candidate := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/block":
				select {
				case <-release:
				case <-r.Context().Done():
				}
			case "/huge":
				hugeHandler(w, r)
			default:
				jsonHandler(`{"a":2}`)(w, r)
			}
		})
		e, _, _ := newTestEngine(t, engineConfig{legacy: primary.URL, newURL: candidate.URL,
			shadow: config.Shadow{Workers: 4, QueueSize: 16, NoiseProbe: true}})
		require.NoError(t, e.Start(context.Background()))
		front := servingPath(t, e, mustURL(t, primary.URL), "qa", "org-1", BackendLegacy)
		client := &http.Client{Transport: &http.Transport{}}
		for i := 0; i < 40; i++ {
			path := []string{"/ok", "/block", "/huge", "/ok"}[i%4]
			do(t, client, "GET", front.URL+path, nil)
		}
		// Blocked copies are aborted by the shutdown deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := e.Shutdown(ctx)
		cancel()
		if err != nil {
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		}
		once.Do(func() { close(release) })
		client.CloseIdleConnections()
		front.Close()
		candidate.Close()
		primary.Close()
	}()
	after := settle()
	for deadline := time.Now().Add(10 * time.Second); after > before && time.Now().Before(deadline); after = settle() {
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after shutdown:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/shadow"
)

// shadowClient is a client of its own, so its connections can be closed
// before goroutines are counted.
func shadowClient(t testing.TB) *http.Client {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// fetch makes a request with an org and a request id and reads the whole
// answer.
func fetch(t testing.TB, c *http.Client, method, url, id, org string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", id)
	req.Header.Set("X-Test-Org", org)
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, b
}

// hugeAnswer streams 100 MiB without holding it.
func hugeAnswer(w http.ResponseWriter, r *http.Request) {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	for range (100 << 20) / len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// heapInuse returns the bytes in in-use heap spans.
func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestShadowNeverHoldsTheClient runs the real proxy in shadow mode against a
// candidate (the new backend) that misbehaves. Every client request
// completes while the candidate is still stuck — shown by ordering: the
// candidate has been entered and not let go when the clients finish —
// memory stays bounded with the queue full, and what happened to each copy
// is counted.
func TestShadowNeverHoldsTheClient(t *testing.T) {
	const requests = 24
	for _, tc := range []struct {
		name string
		// candidate returns the new upstream's URL; entered (may be nil) is
		// signalled when a copy reached it and is blocked; held reports
		// that the candidate is still stuck.
		candidate func(t *testing.T, release <-chan struct{}) (url string, entered <-chan struct{}, held func() bool)
		outcome   shadow.Outcome
		reason    shadow.Reason
	}{
		{
			name: "refusing connections",
			candidate: func(t *testing.T, _ <-chan struct{}) (string, <-chan struct{}, func() bool) {
				return refusedURL(t), nil, nil
			},
			outcome: shadow.OutcomeCandidateError, reason: shadow.ReasonConnect,
		},
		{
			name: "sleeping 10s",
			candidate: func(t *testing.T, release <-chan struct{}) (string, <-chan struct{}, func() bool) {
				entered := make(chan struct{}, requests)
				var inside atomic.Int32
				up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
					inside.Add(1)
					defer inside.Add(-1)
					entered <- struct{}{}
					select {
					case <-release:
					case <-time.After(10 * time.Second):
					case <-r.Context().Done():
					}
					_, _ = io.WriteString(w, `{"ok":true}`)
				})
				return up.URL, entered, func() bool { return inside.Load() > 0 }
			},
			outcome: shadow.OutcomeDropped, reason: shadow.ReasonQueueFull,
		},
		{
			name: "answering 100 MiB",
			candidate: func(t *testing.T, _ <-chan struct{}) (string, <-chan struct{}, func() bool) {
				return upstream(t, hugeAnswer).URL, nil, nil
			},
			outcome: shadow.OutcomeCandidateError, reason: shadow.ReasonTooLarge,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			released := false
			defer func() {
				if !released {
					close(release)
				}
			}()
			newURL, entered, held := tc.candidate(t, release)
			legacy := newRecording(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true}`)
			})
			routes := modeRoutes()
			engine := startEngine(t, legacy.URL, newURL, routes, config.Shadow{
				Workers: 1, QueueSize: 2, MaxBodyBytes: 64 << 10, Timeout: config.Duration(30 * time.Second)})
			cfg := testConfig(legacy.URL, routes...)
			cfg.Upstreams.New.URL = newURL
			p := startProxy(t, cfg, func(o *Options) {
				o.Authorizer, o.ModeDecider, o.Shadower = orgAuthorizer, modeFromSlug, NewEngineShadower(engine.Engine)
			})
			client := shadowClient(t)

			runtime.GC()
			base, peak := heapInuse(), uint64(0)
			status, body := fetch(t, client, http.MethodGet, p.URL+"/safe/s", "safety-0", "shadow", nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, `{"ok":true}`, string(body))
			if entered != nil {
				// The first copy reached the candidate, which now holds it.
				recv(t, entered)
			}
			for i := 1; i < requests; i++ {
				status, body := fetch(t, client, http.MethodGet, p.URL+"/safe/s", fmt.Sprintf("safety-%d", i), "shadow", nil)
				require.Equal(t, http.StatusOK, status)
				require.Equal(t, `{"ok":true}`, string(body))
				peak = max(peak, heapInuse())
			}
			if held != nil {
				assert.True(t, held(), "every client was served while the candidate was still holding a copy")
			}
			// 100 MiB never lands in memory: the engine reads at most
			// max_body_bytes+1 of an answer, and the queue is bounded.
			assert.Less(t, int64(peak)-int64(base), int64(48<<20), "heap grew by %d bytes", int64(peak)-int64(base))

			close(release)
			released = true
			engine.shutdown(t)
			assert.Len(t, legacy.withID("safety-5"), 1, "legacy served every request once")
			assert.GreaterOrEqual(t, engine.outcomes(t, "safe", tc.outcome, tc.reason), 1.0,
				"the candidate's behaviour is counted as %s/%s", tc.outcome, tc.reason)
			total := 0.0
			for _, o := range shadow.Outcomes {
				total += engine.outcomes(t, "safe", o, "")
			}
			assert.Equal(t, float64(requests), total, "every sampled exchange ends as exactly one outcome")
		})
	}
}

// TestShadowLeavesNoGoroutines: after the engine is shut down and the proxy
// stopped, no goroutine started for shadowing is left — not for the copies
// held by a stuck candidate, nor for the body tees.
func TestShadowLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		release := make(chan struct{})
		entered := make(chan struct{}, 64)
		candidate := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		legacy := newRecording(t, "legacy", nil)
		routes := modeRoutes()
		engine := startEngine(t, legacy.URL, candidate.URL, routes, config.Shadow{Workers: 2, QueueSize: 4})
		cfg := testConfig(legacy.URL, routes...)
		cfg.Upstreams.New.URL = candidate.URL
		p := startProxy(t, cfg, func(o *Options) {
			o.Authorizer, o.ModeDecider, o.Shadower = orgAuthorizer, modeFromSlug, NewEngineShadower(engine.Engine)
		})
		client := shadowClient(t)
		for i := range 10 {
			status, _ := fetch(t, client, http.MethodPost, p.URL+"/unsafe/g", fmt.Sprintf("leak-%d", i), "shadow",
				bytes.Repeat([]byte("b"), 10000))
			require.Equal(t, http.StatusOK, status)
		}
		recv(t, entered)
		// Shut down while copies are stuck in the candidate: the engine
		// aborts them once its drain deadline passes.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := engine.Shutdown(ctx)
		cancel()
		assert.Error(t, err, "the drain ran out of time with copies stuck")
		close(release)
		require.NoError(t, p.stop(t))
		client.CloseIdleConnections()
		candidate.Close()
		legacy.Close()
	}()
	// A plain loop: require.Eventually runs goroutines of its own.
	deadline := time.Now().Add(guard)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines: %d before, %d after\n%s", before, n, goroutineDump)
	}
}

// goroutineDump prints the stacks of all goroutines when formatted.
var goroutineDump = stacksStringer{}

type stacksStringer struct{}

func (stacksStringer) String() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// TestShadowBodiesOverTheCapAreCounted: a request body or a serving answer
// over shadow.max_body_bytes is served untouched, not copied, and counted as
// dropped (too_large).
func TestShadowBodiesOverTheCapAreCounted(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 500) // 5000 bytes
	rig := startModeRig(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("big") != "" {
			_, _ = w.Write(big)
			return
		}
		_, _ = io.WriteString(w, "small")
	}, nil, nil, config.Shadow{MaxBodyBytes: 1024})

	client := shadowClient(t)
	status, body := fetch(t, client, http.MethodPost, rig.proxy.URL+"/unsafe/u", "cap-req", "shadow", big)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "small", string(body))
	status, body = fetch(t, client, http.MethodGet, rig.proxy.URL+"/unsafe/u?big=1", "cap-resp", "shadow", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, big, body, "the client gets the whole answer")
	status, _ = fetch(t, client, http.MethodPost, rig.proxy.URL+"/unsafe/u", "cap-ok", "shadow", big[:1000])
	assert.Equal(t, http.StatusOK, status)
	rig.engine.shutdown(t)

	got := rig.legacy.withID("cap-req")
	require.Len(t, got, 1)
	assert.Equal(t, big, got[0].Body, "the serving backend gets the whole body")
	assert.Empty(t, rig.newUp.withID("cap-req"), "over the cap: not shadowed")
	assert.Empty(t, rig.newUp.withID("cap-resp"), "an answer over the cap: not shadowed")
	assert.Len(t, rig.newUp.withID("cap-ok"), 1, "within the cap: shadowed")
	assert.Equal(t, 2.0, rig.engine.outcomes(t, "unsafe", shadow.OutcomeDropped, shadow.ReasonTooLarge))
}

// TestShadowSampleRateAndMethods: sample_rate 0 copies nothing; a route
// without unsafe_methods never gets an unsafe method copied, whatever the
// Shadower would do.
func TestShadowSampleRateAndMethods(t *testing.T) {
	zero := 0.0
	legacy, newUp := newRecording(t, "legacy", nil), newRecording(t, "new", nil)
	routes := []config.Route{
		{Name: "never", Paths: []string{"/never"}, Shadow: config.RouteShadow{SampleRate: &zero, UnsafeMethods: true}},
		{Name: "safe", Paths: []string{"/safe"}},
		{Name: "default", Paths: []string{"/"}},
	}
	cfg := testConfig(legacy.URL, routes...)
	cfg.Upstreams.New.URL = newUp.URL
	var begun atomic.Int32
	counting := shadowerFunc(func(ctx context.Context, r *http.Request, req ShadowRequest) ShadowTap {
		begun.Add(1)
		return nil
	})
	engine := startEngine(t, legacy.URL, newUp.URL, routes, config.Shadow{})
	for _, tc := range []struct {
		name     string
		shadower Shadower
	}{{"engine", NewEngineShadower(engine.Engine)}, {"any shadower", counting}} {
		p := startProxy(t, cfg, func(o *Options) {
			o.Authorizer, o.ModeDecider, o.Shadower = orgAuthorizer, modeFromSlug, tc.shadower
		})
		for i, path := range []string{"/never/a", "/never/b"} {
			_, _ = send(t, p.URL, http.MethodGet, path, fmt.Sprintf("%s-never-%d", tc.name, i), "shadow", nil)
		}
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "PURGE"} {
			_, _ = send(t, p.URL, m, "/safe/x", tc.name+"-unsafe-"+m, "shadow", []byte("x"))
		}
	}
	engine.shutdown(t)
	assert.Zero(t, newUp.count(), "nothing copied")
	assert.Equal(t, int32(2), begun.Load(), "the proxy offers only what the route allows (the sampled-out GETs)")
}

type shadowerFunc func(ctx context.Context, r *http.Request, req ShadowRequest) ShadowTap

func (f shadowerFunc) Begin(ctx context.Context, r *http.Request, req ShadowRequest) ShadowTap {
	return f(ctx, r, req)
}

// TestShadowComparesBothAnswers: equal answers are recorded as a match,
// different ones as a diff, in shadow and in canary mode.
func TestShadowComparesBothAnswers(t *testing.T) {
	answer := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if strings.HasSuffix(r.URL.Path, "/differs") {
				_, _ = fmt.Fprintf(w, `{"id":1,"by":%q}`, name)
				return
			}
			_, _ = io.WriteString(w, `{"id":1,"tags":["a","b"]}`)
		}
	}
	rig := startModeRig(t, answer("legacy"), answer("new"), nil, config.Shadow{})
	for _, mode := range []string{"shadow", "canary"} {
		_, _ = send(t, rig.proxy.URL, http.MethodGet, "/safe/same", "cmp-same-"+mode, mode, nil)
		_, _ = send(t, rig.proxy.URL, http.MethodGet, "/safe/differs", "cmp-diff-"+mode, mode, nil)
	}
	rig.engine.shutdown(t)
	assert.Equal(t, 2.0, rig.engine.outcomes(t, "safe", shadow.OutcomeMatch, ""))
	assert.Equal(t, 2.0, rig.engine.outcomes(t, "safe", shadow.OutcomeDiff, ""))
}

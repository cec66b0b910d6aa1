package shadow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

func jsonHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Date", time.Now().Format(http.TimeFormat))
		_, _ = io.WriteString(w, body)
	}
}

func TestReplayIsTheSameRequest(t *testing.T) {
	legacy := newBackend(t, jsonHandler(`{"ok":true}`))
	newer := newBackend(t, jsonHandler(`{"ok":true}`))
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL + "/base", newURL: newer.URL + "/v2",
		routes: []config.Route{{Name: "qa", Shadow: config.RouteShadow{UnsafeMethods: true}}}})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, legacy.URL+"/base"), "qa", "org-1", BackendLegacy)

	body := strings.Repeat("x", 10_000) + "ü"
	resp, got := do(t, front.Client(), "POST", front.URL+"/api/qa/a%2Fb/%C3%A9?q=1&q=2&x=%20", strings.NewReader(body),
		"Content-Type", "text/plain", "Authorization", "Bearer abc", "Connection", "X-Drop-Me", "X-Drop-Me", "1", "Accept-Encoding", "identity")
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, `{"ok":true}`, string(got))
	waitSummary(t, mem, "qa", 1)
	shutdown(t, e)

	require.Len(t, legacy.requests(), 1)
	require.Len(t, newer.requests(), 1)
	served, replay := legacy.requests()[0], newer.requests()[0]
	assert.Equal(t, body, string(served.Body), "the serving backend got the body unchanged")
	assert.Equal(t, served.Body, replay.Body)
	assert.Equal(t, "POST", replay.Method)
	assert.Equal(t, "/base/api/qa/a%2Fb/%C3%A9", served.RawPath)
	assert.Equal(t, "/v2/api/qa/a%2Fb/%C3%A9", replay.RawPath, "raw path kept, base path of the other backend")
	assert.Equal(t, served.Query, replay.Query)
	assert.Equal(t, "q=1&q=2&x=%20", replay.Query)
	assert.Equal(t, served.Host, replay.Host, "Host as the serving backend saw it")
	assert.Equal(t, "true", replay.Header.Get("X-Shadow-Request"))
	assert.Empty(t, served.Header.Get("X-Shadow-Request"))
	assert.Equal(t, "org-1", replay.Header.Get("X-Tenant-Org-ID"))
	assert.Equal(t, "member", replay.Header.Get("X-Tenant-Role"))
	assert.Equal(t, "Bearer abc", replay.Header.Get("Authorization"))
	assert.Equal(t, served.Header.Get("X-Forwarded-For"), replay.Header.Get("X-Forwarded-For"))
	assert.Empty(t, replay.Header.Get("X-Drop-Me"), "headers named in Connection are hop-by-hop")
}

// TestReplayKeepsTheRawPathByteForByte: bytes net/url would re-escape ('{',
// raw UTF-8, "%7e" in lower case) reach the other backend as the client
// sent them, as the proxy forwards them to the serving one.
func TestReplayKeepsTheRawPathByteForByte(t *testing.T) {
	legacy := newBackend(t, jsonHandler(`{"ok":true}`))
	newer := newBackend(t, jsonHandler(`{"ok":true}`))
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL + "/v2/"})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)

	const target = "/api/qa/{id}/caf\xc3\xa9/%7e/a%2Fb;v=1"
	req, err := http.NewRequest(http.MethodGet, front.URL, nil)
	require.NoError(t, err)
	req.URL.Opaque = target // sent as is
	req.URL.RawQuery = "q=%7B"
	resp, err := front.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	waitSummary(t, mem, "qa", 1)
	shutdown(t, e)

	require.Len(t, newer.requests(), 1)
	assert.Equal(t, "/v2"+target+"?q=%7B", newer.requests()[0].URI)
}

// TestKillSwitchStopsQueuedCopies: copies still in the queue when the kill
// switch flips are dropped (kill_switch), never sent.
func TestKillSwitchStopsQueuedCopies(t *testing.T) {
	legacy := newBackend(t, jsonHandler(`{"ok":true}`))
	newer := newBackend(t, jsonHandler(`{"ok":true}`))
	var halted atomic.Bool
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL,
		halted: func(context.Context) bool { return halted.Load() }})
	// Not started: the copies wait in the queue.
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)
	for range 3 {
		resp, _ := do(t, front.Client(), "GET", front.URL+"/api/qa", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	halted.Store(true)
	require.NoError(t, e.Start(context.Background()))
	sum := waitSummary(t, mem, "qa", 3)
	shutdown(t, e)
	assert.Equal(t, int64(3), sum.Dropped)
	assert.Empty(t, newer.requests(), "nothing reached the new backend after the kill switch")
	assert.Equal(t, 3.0, counterValue(t, e.metrics.reasons.WithLabelValues("qa", "dropped", "kill_switch")))
}

// TestReplayHeadersHook: the hook sees the copy's headers and how long it
// waited, and its changes reach the other backend; a hook error drops the
// comparison (invalid) and nothing is sent.
func TestReplayHeadersHook(t *testing.T) {
	legacy := newBackend(t, jsonHandler(`{"ok":true}`))
	newer := newBackend(t, jsonHandler(`{"ok":true}`))
	var fail atomic.Bool
	var waited atomic.Int64
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL,
		replay: func(_ context.Context, h http.Header, queued time.Duration) error {
			waited.Store(int64(queued))
			if fail.Load() {
				return errors.New("cannot refresh")
			}
			h.Set("X-Tenant-Assertion", "re-signed")
			return nil
		}})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)

	do(t, front.Client(), "GET", front.URL+"/api/qa", nil)
	waitSummary(t, mem, "qa", 1)
	require.Len(t, newer.requests(), 1)
	assert.Equal(t, "re-signed", newer.requests()[0].Header.Get("X-Tenant-Assertion"))
	assert.GreaterOrEqual(t, waited.Load(), int64(0))

	fail.Store(true)
	do(t, front.Client(), "GET", front.URL+"/api/qa", nil)
	sum := waitSummary(t, mem, "qa", 2)
	shutdown(t, e)
	assert.Equal(t, int64(1), sum.Dropped)
	assert.Len(t, newer.requests(), 1, "nothing sent without valid credentials")
	assert.Equal(t, 1.0, counterValue(t, e.metrics.reasons.WithLabelValues("qa", "dropped", "invalid")))
}

func TestMatchDiffAndExemplar(t *testing.T) {
	var n atomic.Int64
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", strconv.FormatInt(n.Add(1), 10))
		_, _ = io.WriteString(w, `{"items":[{"id":1,"title":"a","password":"hunter2"}],"total":1,"generated_at":"t1"}`)
	})
	newer := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		title := "a"
		if r.URL.Path == "/diff" {
			title = "A"
		}
		w.Write(gz(t, `{"total":1.0,"generated_at":"t2","items":[{"title":"`+title+`","id":1,"password":"hunter2"}]}`))
	})
	e, mem, reg := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL,
		shadow: config.Shadow{RedactFields: []string{"password", "token"}, RedactHeaders: []string{"X-Secret"}},
		routes: []config.Route{{Name: "qa", Shadow: config.RouteShadow{IgnorePaths: []string{"$.generated_at"}, IgnoreHeaders: []string{"Content-Encoding"}}}}})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)

	for i := 0; i < 3; i++ {
		do(t, front.Client(), "GET", front.URL+"/same?token=abc&q=1", nil, "X-Secret", "s3cr3t", "Cookie", "sid=1")
	}
	for i := 0; i < 5; i++ {
		do(t, front.Client(), "GET", front.URL+"/diff?token=abc&q=1", nil, "X-Secret", "s3cr3t", "Cookie", "sid=1")
	}
	sum := waitSummary(t, mem, "qa", 8)
	shutdown(t, e)
	assert.Equal(t, Counts{Match: 3, Diff: 5}, sum.Counts)
	assert.Equal(t, int64(8), sum.LegacyLatency.Count())
	assert.Equal(t, int64(8), sum.NewLatency.Count())
	assert.Equal(t, 3.0, counterValue(t, e.metrics.comparisons.WithLabelValues("qa", "match")))
	assert.Equal(t, 5.0, counterValue(t, e.metrics.comparisons.WithLabelValues("qa", "diff")))
	_ = reg

	classes, err := mem.Classes(context.Background(), ClassFilter{})
	require.NoError(t, err)
	require.Len(t, classes, 1)
	c := classes[0]
	assert.Equal(t, int64(5), c.Count)
	assert.Equal(t, []PathKind{{"$.items[*].title", KindChanged}}, c.Pattern)
	assert.Equal(t, Fingerprint("qa", c.Pattern), c.Fingerprint)
	assert.Equal(t, []OrgCount{{"org-1", 5}}, c.Orgs)

	d, err := mem.Class(context.Background(), c.Fingerprint)
	require.NoError(t, err)
	require.Len(t, d.Exemplars, DefaultExemplarsPerDay, "a few exemplars per class per day")
	ex := d.Exemplars[0]
	assert.Equal(t, []Difference{{Path: "$.items[0].title", Kind: KindChanged, Primary: json.RawMessage(`"a"`), Candidate: json.RawMessage(`"A"`)}}, ex.Differences)
	all, err := json.Marshal(ex)
	require.NoError(t, err)
	for _, secret := range []string{"hunter2", "s3cr3t", "sid=1", "token=abc"} {
		assert.NotContains(t, string(all), secret)
	}
	assert.Equal(t, "GET", ex.Request.Method)
	assert.Equal(t, "/diff", ex.Request.Path)
	assert.Contains(t, ex.Request.Query, "q=1")
	assert.Equal(t, 200, ex.Primary.Status)
	assert.Contains(t, ex.Candidate.Body.Text, `"title":"A"`, "the candidate body is stored decoded")
	assert.Equal(t, BackendLegacy, ex.Serving)
}

func TestCanaryKeepsLegacyAsPrimary(t *testing.T) {
	legacy := newBackend(t, jsonHandler(`{"a":1}`))
	newer := newBackend(t, jsonHandler(`{"a":1,"b":2}`))
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL})
	require.NoError(t, e.Start(context.Background()))
	shadowFront := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)
	canaryFront := servingPath(t, e, mustURL(t, newer.URL), "qa", "org-2", BackendNew)
	do(t, shadowFront.Client(), "GET", shadowFront.URL+"/x", nil)
	do(t, canaryFront.Client(), "GET", canaryFront.URL+"/x", nil)
	waitSummary(t, mem, "qa", 2)
	shutdown(t, e)
	classes, err := mem.Classes(context.Background(), ClassFilter{})
	require.NoError(t, err)
	require.Len(t, classes, 1, "the same difference in shadow and canary mode is one class")
	assert.Equal(t, []PathKind{{"$.b", KindAdded}}, classes[0].Pattern)
	assert.Equal(t, int64(2), classes[0].Count)
	assert.Len(t, legacy.requests(), 2)
	assert.Len(t, newer.requests(), 2)
}

func TestCandidateErrors(t *testing.T) {
	legacy := newBackend(t, jsonHandler(`{"a":1}`))
	newer := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			w.WriteHeader(500)
		case "/big":
			w.Write(bytes.Repeat([]byte("x"), 70<<10))
		case "/bomb":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz(t, strings.Repeat("0", 4<<20)))
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a":1}`)
		}
	})
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL,
		shadow: config.Shadow{MaxBodyBytes: 64 << 10}, decoded: 1 << 20})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)
	for _, p := range []string{"/500", "/big", "/bomb", "/ok"} {
		do(t, front.Client(), "GET", front.URL+p, nil)
	}
	sum := waitSummary(t, mem, "qa", 4)
	shutdown(t, e)
	assert.Equal(t, Counts{Match: 1, CandidateError: 3}, sum.Counts)
	assert.Equal(t, 1.0, counterValue(t, e.metrics.reasons.WithLabelValues("qa", "candidate_error", "status_5xx")))
	assert.Equal(t, 2.0, counterValue(t, e.metrics.reasons.WithLabelValues("qa", "candidate_error", "too_large")), "answer over the cap, and decoded over the cap")
}

func TestTooLargeAndIncompleteAreDroppedAndCounted(t *testing.T) {
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bigresp" {
			w.Write(bytes.Repeat([]byte("y"), 100<<10))
			return
		}
		io.WriteString(w, "ok")
	})
	newer := newBackend(t, jsonHandler(`ok`))
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL,
		shadow: config.Shadow{MaxBodyBytes: 64 << 10},
		routes: []config.Route{{Name: "qa", Shadow: config.RouteShadow{UnsafeMethods: true}}}})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)

	big := bytes.Repeat([]byte("z"), 200<<10)
	// Known length over the cap, and unknown length (chunked) over the cap.
	resp, _ := do(t, front.Client(), "POST", front.URL+"/upload", bytes.NewReader(big))
	require.Equal(t, 200, resp.StatusCode)
	resp, _ = do(t, front.Client(), "POST", front.URL+"/upload", io.MultiReader(bytes.NewReader(big)))
	require.Equal(t, 200, resp.StatusCode)
	resp, body := do(t, front.Client(), "GET", front.URL+"/bigresp", nil)
	require.Equal(t, 200, resp.StatusCode)
	assert.Len(t, body, 100<<10, "the client gets the whole answer")

	sum := waitSummary(t, mem, "qa", 3)
	shutdown(t, e)
	assert.Equal(t, Counts{Dropped: 3, TooLarge: 3}, sum.Counts)
	for _, r := range legacy.requests()[:2] {
		assert.Equal(t, big, r.Body, "the serving backend got the whole body")
	}
	assert.Empty(t, newer.requests(), "nothing is replayed")
	assert.Equal(t, 3.0, counterValue(t, e.metrics.reasons.WithLabelValues("qa", "dropped", "too_large")))
}

func TestUnsafeMethodsAndSampling(t *testing.T) {
	for _, tc := range []struct {
		method string
		unsafe bool
		want   bool
	}{
		{"GET", false, true}, {"HEAD", false, true}, {"OPTIONS", false, true}, {"TRACE", false, true},
		{"POST", false, false}, {"PUT", false, false}, {"PATCH", false, false}, {"DELETE", false, false},
		{"CONNECT", false, false}, {"PROPFIND", false, false}, {"get", false, false},
		{"POST", true, true}, {"DELETE", true, true},
	} {
		assert.Equal(t, tc.want, ShouldShadow(config.RouteShadow{UnsafeMethods: tc.unsafe}, tc.method), "%s unsafe=%v", tc.method, tc.unsafe)
	}

	half, zero := 0.5, 0.0
	r := rand.New(rand.NewPCG(7, 7))
	e, _, _ := newTestEngine(t, engineConfig{rand: r.Float64, routes: []config.Route{
		{Name: "half", Shadow: config.RouteShadow{SampleRate: &half}},
		{Name: "never", Shadow: config.RouteShadow{SampleRate: &zero}},
		{Name: "all"},
	}})
	var yes int
	for i := 0; i < 10000; i++ {
		if e.Wants("half", "GET") {
			yes++
		}
		require.False(t, e.Wants("never", "GET"))
		require.True(t, e.Wants("all", "GET"))
		require.False(t, e.Wants("all", "POST"))
	}
	assert.InDelta(t, 5000, yes, 300)
	shutdown(t, e)
	assert.False(t, e.Wants("all", "GET"), "nothing is sampled after shutdown")

	bad := 1.5
	_, err := NewEngine(Options{Store: NewMemoryStore(MemoryStoreOptions{}), Routes: []config.Route{
		{Name: "a", Shadow: config.RouteShadow{SampleRate: &bad}},
		{Name: "b", Shadow: config.RouteShadow{IgnorePaths: []string{"nope"}}},
	}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "routes[0].shadow.sample_rate")
	assert.Contains(t, err.Error(), "routes[1].shadow: ignore_paths[0]")
}

func TestNoiseProbeLearnsNoise(t *testing.T) {
	var calls atomic.Int64
	legacy := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Etag", strconv.FormatInt(n, 10))
		io.WriteString(w, `{"items":[{"id":1,"rendered_at":`+strconv.FormatInt(n, 10)+`}],"v":1}`)
	})
	newer := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Etag", "new")
		io.WriteString(w, `{"items":[{"id":1,"rendered_at":999}],"v":1}`)
	})
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL,
		shadow: config.Shadow{NoiseProbe: true, Workers: 1}})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)
	for i := 0; i < 4; i++ {
		do(t, front.Client(), "GET", front.URL+"/x", nil)
	}
	sum := waitSummary(t, mem, "qa", 4)
	shutdown(t, e)
	assert.Equal(t, Counts{Match: 4, Noisy: 4}, sum.Counts, "noise learned on the first probe already applies")
	noise, err := mem.Noise(context.Background(), "qa")
	require.NoError(t, err)
	require.Len(t, noise, 2)
	assert.Equal(t, "$.items[*].rendered_at", noise[0].Path)
	assert.Equal(t, int64(4), noise[0].Count)
	assert.Equal(t, "header:Etag", noise[1].Path)
	assert.Equal(t, int64(8), calls.Load(), "each comparison probed the serving backend once more")
}

func TestNoiseLoadedFromTheStore(t *testing.T) {
	mem := NewMemoryStore(MemoryStoreOptions{})
	now := time.Now()
	require.NoError(t, mem.Record(context.Background(), Batch{Noise: []NoisePath{{Route: "qa", Path: "$.ts", Count: 3, FirstSeen: now, LastSeen: now}}}))
	legacy := newBackend(t, jsonHandler(`{"ts":1}`))
	newer := newBackend(t, jsonHandler(`{"ts":2}`))
	e, _, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL, store: mem})
	require.NoError(t, e.Start(context.Background()))
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)
	do(t, front.Client(), "GET", front.URL+"/x", nil)
	sum := waitSummary(t, mem, "qa", 1)
	shutdown(t, e)
	assert.Equal(t, Counts{Match: 1, Noisy: 1}, sum.Counts)
}

func TestQueueFullDropsAndRecords(t *testing.T) {
	release := make(chan struct{})
	newer := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	e, mem, _ := newTestEngine(t, engineConfig{newURL: newer.URL, shadow: config.Shadow{Workers: 1, QueueSize: 4}})
	require.NoError(t, e.Start(context.Background()))
	c := func() Comparison {
		return Comparison{Route: "qa", OrgID: "org-1", Serving: BackendLegacy, Method: "GET", URL: mustURL(t, "/x"),
			Response: Answer{Status: 200, Body: []byte("ok")}, Latency: time.Millisecond}
	}
	require.True(t, e.Submit(c()))
	// Wait until the worker holds the first one, then fill the queue.
	require.Eventually(t, func() bool { return len(newer.requests()) == 1 }, 10*time.Second, time.Millisecond)
	accepted := 0
	for i := 0; i < 20; i++ {
		if e.Submit(c()) {
			accepted++
		}
	}
	assert.Equal(t, 4, accepted)
	assert.Equal(t, 16.0, counterValue(t, e.metrics.reasons.WithLabelValues("qa", "dropped", "queue_full")))
	close(release)
	sum := waitSummary(t, mem, "qa", 21)
	shutdown(t, e)
	assert.Equal(t, int64(16), sum.Dropped)
	assert.Equal(t, int64(5), sum.CandidateError+sum.Diff+sum.Match)
}

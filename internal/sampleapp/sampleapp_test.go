package sampleapp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type client struct {
	t    *testing.T
	base string
}

func start(t *testing.T, h http.Handler) client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return client{t: t, base: srv.URL}
}

// do sends a request and returns status, headers and decoded JSON body.
func (c client) do(method, path, body string, headers ...string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var out map[string]any
	if method != http.MethodHead && len(raw) > 0 {
		require.NoError(c.t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return resp.StatusCode, resp.Header, out
}

func TestEveryEndpointOnBothServices(t *testing.T) {
	for name, h := range map[string]http.Handler{"legacy": NewLegacy(), "new": NewTenantAware()} {
		t.Run(name, func(t *testing.T) {
			c := start(t, h)
			tests := []struct {
				method, path, body string
				status             int
				keys               []string
			}{
				{"GET", "/health", "", 200, []string{"status"}},
				{"GET", "/api/affirmations", "", 200, []string{"items", "count", "language", "generated_at"}},
				{"POST", "/api/affirmations", `{"text":"I am calm."}`, 201, []string{"id", "text", "theme", "created_at"}},
				{"POST", "/api/qa", `{"question":"how do I start?"}`, 200, []string{"id", "question", "answer", "sources", "created_at"}},
				{"GET", "/api/knowledge/", "", 200, []string{"documents", "count"}},
				{"GET", "/api/knowledge", "", 200, []string{"documents", "count"}},
				{"GET", "/api/content-strategy", "", 200, []string{"id", "goal", "pillars", "plan", "generated_at"}},
				{"POST", "/api/content-strategy", `{"goal":"launch a course"}`, 200, []string{"id", "goal", "pillars", "plan", "generated_at"}},
				{"GET", "/api/instagram/posts", "", 200, []string{"posts", "count"}},
				{"POST", "/api/instagram/posts", `{"caption":"hello"}`, 201, []string{"id", "caption", "status", "created_at"}},
				{"GET", "/api/visual-posts", "", 200, []string{"items", "count"}},
				{"POST", "/api/visual-posts", `{"prompt":"sunrise"}`, 201, []string{"id", "prompt", "image_url", "created_at"}},
				{"GET", "/api/video", "", 200, []string{"jobs", "count"}},
				{"POST", "/api/video", `{"script":"a day in the life"}`, 202, []string{"job_id", "script", "status", "eta_seconds", "created_at"}},
			}
			for _, tc := range tests {
				status, hdr, body := c.do(tc.method, tc.path, tc.body)
				assert.Equal(t, tc.status, status, "%s %s", tc.method, tc.path)
				assert.Equal(t, "application/json", hdr.Get("Content-Type"))
				for _, k := range tc.keys {
					assert.Contains(t, body, k, "%s %s", tc.method, tc.path)
				}
				assert.Len(t, body, len(tc.keys), "%s %s: exactly the documented keys", tc.method, tc.path)
			}
		})
	}
}

func TestErrorsAreFastAPIShaped(t *testing.T) {
	c := start(t, NewLegacy())

	status, _, body := c.do("GET", "/api/nope", "")
	assert.Equal(t, 404, status)
	assert.Equal(t, map[string]any{"detail": "Not Found"}, body)

	status, hdr, body := c.do("DELETE", "/api/affirmations", "")
	assert.Equal(t, 405, status)
	assert.Equal(t, "GET, POST", hdr.Get("Allow"))
	assert.Equal(t, map[string]any{"detail": "Method Not Allowed"}, body)

	for _, tc := range []struct{ body, loc, typ string }{
		{``, "body", "missing"},
		{`{"text":""}`, "body.text", "missing"},
		{`{"text":"   "}`, "body.text", "missing"},
		{`{"text":` + `"` + strings.Repeat("x", maxTextLen+1) + `"}`, "body.text", "string_too_long"},
		{`{"text":`, "body", "json_invalid"},
		{`[1,2]`, "body", "json_invalid"},
	} {
		status, _, body := c.do("POST", "/api/affirmations", tc.body)
		assert.Equal(t, 422, status, tc.body)
		d := body["detail"].([]any)[0].(map[string]any)
		var loc []string
		for _, l := range d["loc"].([]any) {
			loc = append(loc, l.(string))
		}
		assert.Equal(t, tc.loc, strings.Join(loc, "."), tc.body)
		assert.Equal(t, tc.typ, d["type"], tc.body)
	}

	status, _, body = c.do("POST", "/api/qa", `{"question":"`+strings.Repeat("x", maxBodyBytes)+`"}`)
	assert.Equal(t, 413, status)
	assert.Equal(t, map[string]any{"detail": "Request body too large"}, body)

	status, _, _ = c.do("HEAD", "/api/affirmations", "")
	assert.Equal(t, 200, status)
}

// stripVolatile removes the fields that differ between calls.
func stripVolatile(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			switch k {
			case "id", "job_id", "created_at", "generated_at", "image_url":
				continue
			}
			out[k] = stripVolatile(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = stripVolatile(x[i])
		}
		return out
	}
	return v
}

func TestServicesAgreeExceptVolatileFieldsAndTheDeliberateDifference(t *testing.T) {
	legacy, tenant := start(t, NewLegacy()), start(t, NewTenantAware())
	requests := []struct{ method, path, body string }{
		{"GET", "/api/affirmations", ""},
		{"POST", "/api/affirmations", `{"text":"I am calm.","theme":"peace"}`},
		{"POST", "/api/qa", `{"question":"what is a cycle?"}`},
		{"GET", "/api/knowledge/", ""},
		{"GET", "/api/content-strategy", ""},
		{"POST", "/api/content-strategy", `{"goal":"launch a course"}`},
		{"GET", "/api/instagram/posts", ""},
		{"POST", "/api/visual-posts", `{"prompt":"sunrise"}`},
		{"POST", "/api/video", `{"script":"a day in the life"}`},
	}
	for _, rq := range requests {
		ls, _, lb := legacy.do(rq.method, rq.path, rq.body)
		ts, _, tb := tenant.do(rq.method, rq.path, rq.body, HeaderOrgID, "0b7f0000-0000-4000-8000-000000000001")
		assert.Equal(t, ls, ts, "%s %s", rq.method, rq.path)
		if rq.method == "GET" && rq.path == DifferenceRoute {
			assert.Equal(t, "en", lb["language"])
			assert.Equal(t, "en-US", tb["language"])
			delete(lb, "language")
			delete(tb, "language")
		}
		assert.Equal(t, stripVolatile(lb), stripVolatile(tb), "%s %s", rq.method, rq.path)
	}

	// Volatile fields really are volatile: two calls, two ids.
	_, _, a := legacy.do("POST", "/api/qa", `{"question":"q"}`)
	_, _, b := legacy.do("POST", "/api/qa", `{"question":"q"}`)
	assert.NotEqual(t, a["id"], b["id"])
	assert.Equal(t, a["answer"], b["answer"])
}

func TestTenantAwareScopesDataPerOrg(t *testing.T) {
	c := start(t, NewTenantAware())
	status, _, _ := c.do("POST", "/api/instagram/posts", `{"caption":"acme launch"}`, HeaderOrgID, "org-acme")
	require.Equal(t, 201, status)

	_, _, acme := c.do("GET", "/api/instagram/posts", "", HeaderOrgID, "org-acme")
	_, _, globex := c.do("GET", "/api/instagram/posts", "", HeaderOrgID, "org-globex")
	_, _, bySlug := c.do("GET", "/api/instagram/posts", "", HeaderOrgSlug, "acme")
	_, _, none := c.do("GET", "/api/instagram/posts", "")
	assert.EqualValues(t, 2, acme["count"], "seed post + the new one")
	assert.EqualValues(t, 1, globex["count"], "another org sees only its seed data")
	assert.EqualValues(t, 1, bySlug["count"], "the slug is a different scope key than the id")
	assert.EqualValues(t, 1, none["count"])

	// The legacy service ignores tenant headers: one scope for everyone.
	l := start(t, NewLegacy())
	l.do("POST", "/api/instagram/posts", `{"caption":"x"}`, HeaderOrgID, "org-acme")
	_, _, other := l.do("GET", "/api/instagram/posts", "", HeaderOrgID, "org-globex")
	assert.EqualValues(t, 2, other["count"])
}

func TestShadowRequestsHaveNoSideEffectsOnTheTenantAwareService(t *testing.T) {
	c := start(t, NewTenantAware())
	for _, rq := range []struct{ path, body, list, key string }{
		{"/api/affirmations", `{"text":"shadow"}`, "/api/affirmations", "count"},
		{"/api/instagram/posts", `{"caption":"shadow"}`, "/api/instagram/posts", "count"},
		{"/api/visual-posts", `{"prompt":"shadow"}`, "/api/visual-posts", "count"},
		{"/api/video", `{"script":"shadow"}`, "/api/video", "count"},
	} {
		_, _, before := c.do("GET", rq.list, "", HeaderOrgID, "o1")
		status, _, created := c.do("POST", rq.path, rq.body, HeaderOrgID, "o1", HeaderShadow, "true")
		assert.Less(t, status, 300, rq.path)
		assert.NotEmpty(t, created, "the shadow copy gets a full answer to compare")
		_, _, after := c.do("GET", rq.list, "", HeaderOrgID, "o1")
		assert.Equal(t, before[rq.key], after[rq.key], "%s: nothing stored", rq.path)
	}
	c.do("POST", "/api/content-strategy", `{"goal":"shadow goal"}`, HeaderOrgID, "o1", HeaderShadow, "true")
	_, _, st := c.do("GET", "/api/content-strategy", "", HeaderOrgID, "o1")
	assert.Equal(t, defaultGoal, st["goal"])

	// The legacy service does not know the header, like the real one.
	l := start(t, NewLegacy())
	l.do("POST", "/api/affirmations", `{"text":"x"}`, HeaderShadow, "true")
	_, _, list := l.do("GET", "/api/affirmations", "")
	assert.EqualValues(t, 4, list["count"])
}

func TestStoredDataIsBounded(t *testing.T) {
	s := newService(true, nil)
	serve := func(method, body, org string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/api/visual-posts", strings.NewReader(body))
		req.Header.Set(HeaderOrgID, org)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	for range maxItems + 20 {
		require.Equal(t, 201, serve("POST", `{"prompt":"p"}`, "one").Code)
	}
	var list struct{ Count int }
	require.NoError(t, json.Unmarshal(serve("GET", "", "one").Body.Bytes(), &list))
	assert.Equal(t, maxItems, list.Count)

	for i := range maxScopes + 10 {
		serve("GET", "", fmt.Sprintf("org-%d", i))
	}
	assert.Len(t, s.scopes, maxScopes)
	assert.Len(t, s.order, maxScopes)
	assert.NotContains(t, s.scopes, "id:one", "the oldest scope went first")
	assert.Contains(t, s.scopes, fmt.Sprintf("id:org-%d", maxScopes+9))

	// Long header values are cut, not stored whole.
	serve("GET", "", strings.Repeat("z", 10_000))
	assert.Contains(t, s.scopes, "id:"+strings.Repeat("z", 128))
}

// readEvent reads one server-sent event.
func readEvent(t *testing.T, br *bufio.Reader) (name, data string) {
	t.Helper()
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func TestStreamSendsEventsAsTheyAreMade(t *testing.T) {
	c := start(t, NewLegacy(WithStreamDelay(time.Millisecond)))
	resp, err := http.Get(c.base + "/api/qa/stream?question=how%20do%20I%20start")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	br := bufio.NewReader(resp.Body)
	var text strings.Builder
	var done streamDone
	for i := 0; ; i++ {
		name, data := readEvent(t, br)
		if name == "done" {
			require.NoError(t, json.Unmarshal([]byte(data), &done))
			break
		}
		require.Equal(t, "token", name)
		var ev streamEvent
		require.NoError(t, json.Unmarshal([]byte(data), &ev))
		assert.Equal(t, i, ev.Index)
		text.WriteString(ev.Text)
		require.Less(t, i, 50)
	}
	assert.Equal(t, done.Answer, text.String(), "the tokens add up to the answer")
	assert.NotEmpty(t, done.ID)

	// POST takes the question as JSON.
	resp2, err := http.Post(c.base+"/api/qa/stream", "application/json", strings.NewReader(`{"question":"how do I start"}`))
	require.NoError(t, err)
	defer resp2.Body.Close()
	name, _ := readEvent(t, bufio.NewReader(resp2.Body))
	assert.Equal(t, "token", name)
}

// TestStreamFirstEventArrivesWhileTheStreamIsOpen: with a pause far longer
// than the test, the first event must still arrive — the stream is flushed
// event by event — and a client that leaves ends the handler.
func TestStreamFirstEventArrivesWhileTheStreamIsOpen(t *testing.T) {
	handlerDone := make(chan struct{})
	svc := NewLegacy(WithStreamDelay(time.Hour))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		svc.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/qa/stream?question=q", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	name, data := readEvent(t, bufio.NewReader(resp.Body))
	assert.Equal(t, "token", name)
	assert.Contains(t, data, `"index":0`)
	select {
	case <-handlerDone:
		t.Fatal("the handler finished before the client left: the stream was not held open")
	default:
	}
	cancel()
	<-handlerDone // returns promptly only because the disconnect ended the stream
}

func TestStreamRejectsMissingQuestion(t *testing.T) {
	c := start(t, NewLegacy())
	status, _, body := c.do("GET", "/api/qa/stream", "")
	assert.Equal(t, 422, status)
	assert.NotNil(t, body["detail"])
}

func TestClockOption(t *testing.T) {
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := start(t, NewLegacy(WithClock(func() time.Time { return fixed })))
	_, _, body := c.do("GET", "/api/affirmations", "")
	assert.Equal(t, "2030-01-02T03:04:05Z", body["generated_at"])
}

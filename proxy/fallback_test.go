package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// fallbackRig is the proxy in canary/new modes in front of a recording
// legacy upstream and a new upstream that fails in a chosen way.
type fallbackRig struct {
	legacy *recordingUpstream
	proxy  *testProxy
}

// startFallbackRig starts the proxy with the new upstream at newURL.
func startFallbackRig(t testing.TB, newURL string, opts ...func(*Options)) *fallbackRig {
	return startFallbackRigTimeout(t, newURL, 0, opts...)
}

// startFallbackRigTimeout is startFallbackRig with the new upstream's
// timeout (0: the default). A short one makes the timeout cases end
// quickly; it is configuration, not an assertion on time.
func startFallbackRigTimeout(t testing.TB, newURL string, timeout time.Duration, opts ...func(*Options)) *fallbackRig {
	t.Helper()
	rig := &fallbackRig{legacy: newRecording(t, "legacy", nil)}
	cfg := testConfig(rig.legacy.URL, modeRoutes()...)
	cfg.Upstreams.New = config.Upstream{URL: newURL, Timeout: config.Duration(timeout)}
	cfg.Server.DebugHeaders = true
	rig.proxy = startProxy(t, cfg, append([]func(*Options){func(o *Options) {
		o.Authorizer = orgAuthorizer
		o.ModeDecider = modeFromSlug
	}}, opts...)...)
	return rig
}

// failingNew starts new upstreams failing each way: refused connections,
// no answer within the timeout, and 502/503/504 answers.
func failingNew(t *testing.T) map[string]string {
	t.Helper()
	hang := newRecording(t, "new", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the proxy gives up
	})
	urls := map[string]string{"connect": refusedURL(t), "timeout": hang.URL}
	for _, code := range []int{502, 503, 504} {
		up := newRecording(t, "new", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", "new")
			w.WriteHeader(code)
			_, _ = fmt.Fprintf(w, "new says %d", code)
		})
		urls[fmt.Sprintf("status_%d", code)] = up.URL
	}
	return urls
}

// TestFallbackMatrix: every failure of the new backend × method × mode. Safe
// methods are served by legacy on every failure, PUT and DELETE only when the
// connection failed, other methods never; each fallback is counted and
// logged with the request id, each refusal counted.
func TestFallbackMatrix(t *testing.T) {
	urls := failingNew(t)
	for _, failure := range []string{"connect", "timeout", "status_502", "status_503", "status_504"} {
		t.Run(failure, func(t *testing.T) {
			var timeout time.Duration
			if failure == "timeout" {
				timeout = 100 * time.Millisecond
			}
			rig := startFallbackRigTimeout(t, urls[failure], timeout)
			for _, mode := range []Mode{ModeCanary, ModeNew} {
				for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPost, http.MethodPatch} {
					id := fmt.Sprintf("fb-%s-%s-%s", failure, mode, method)
					var body []byte
					if method == http.MethodPut || method == http.MethodPost || method == http.MethodPatch {
						body = []byte("payload of " + id)
					}
					res, got := send(t, rig.proxy.URL, method, "/safe/r?q=1", id, string(mode), body)
					policy := retryPolicyOf(method)
					retried := policy == retryAll || policy == retryConnect && failure == "connect"
					if retried {
						assert.Equal(t, http.StatusOK, res.StatusCode, id)
						assert.Equal(t, "legacy", res.Header.Get("X-Strangler-Backend"), id)
						assert.Equal(t, string(mode), res.Header.Get("X-Strangler-Mode"), id)
						if method != http.MethodHead {
							assert.Equal(t, "legacy:"+method+" /safe/r?q=1", string(got), id)
						}
						served := rig.legacy.withID(id)
						if assert.Len(t, served, 1, id) {
							assert.Equal(t, body, nilIfEmpty(served[0].Body), "%s: legacy gets the same body", id)
							assert.Equal(t, "org-"+string(mode), served[0].Header.Get("X-Tenant-Org-Id"), id)
						}
						continue
					}
					assert.Empty(t, rig.legacy.withID(id), "%s: not retried on legacy", id)
					assert.Equal(t, "new", res.Header.Get("X-Strangler-Backend"), id)
					switch failure {
					case "connect":
						assert.Equal(t, http.StatusBadGateway, res.StatusCode, id)
						assert.Equal(t, CodeUpstreamUnavailable, decodeError(t, got).Error.Code, id)
					case "timeout":
						assert.Equal(t, http.StatusGatewayTimeout, res.StatusCode, id)
						assert.Equal(t, CodeUpstreamTimeout, decodeError(t, got).Error.Code, id)
					default:
						code := failure[len("status_"):]
						assert.Equal(t, code, fmt.Sprint(res.StatusCode), id)
						assert.Equal(t, "new says "+code, string(got), "%s: the new backend's own answer", id)
					}
				}
			}
			// 3 safe methods × 2 modes always; PUT and DELETE × 2 modes on connect.
			wantFallbacks, wantSkipped := 6.0, 8.0
			if failure == "connect" {
				wantFallbacks, wantSkipped = 10, 4
			}
			assert.Equal(t, wantFallbacks, counterValue(t, rig.proxy.metrics.fallbacks.WithLabelValues("safe", failure)))
			assert.Equal(t, wantSkipped, counterValue(t, rig.proxy.metrics.skipped.WithLabelValues("safe", skipMethod)))
			logged := rig.proxy.Logs.FilterMessage("new backend failed: serving from legacy").All()
			require.Len(t, logged, int(wantFallbacks))
			for _, e := range logged {
				f := e.ContextMap()
				assert.True(t, strings.HasPrefix(fmt.Sprint(f["request_id"]), "fb-"+failure+"-"), "%v", f)
				assert.Equal(t, failure, f["reason"])
			}
		})
	}
}

// statusNew is a new upstream answering 503 after reading the whole body.
func statusNew(t testing.TB) *recordingUpstream {
	return newRecording(t, "new", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "new unavailable")
	})
}

// chunked hides a reader's length so the client sends it chunked.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestFallbackReplaysBodies: a safe request's body within the cap is
// replayed to legacy byte for byte, with its framing; over the cap it is not
// retried and counted; a body the new backend never read is replayed
// whatever its size.
func TestFallbackReplaysBodies(t *testing.T) {
	newUp := statusNew(t)
	rig := startFallbackRig(t, newUp.URL, func(o *Options) { o.FallbackMaxBodyBytes = 4096 })
	small := bytes.Repeat([]byte{1, 2, 0xfe}, 1000) // 3000 bytes
	large := bytes.Repeat([]byte("x"), 5000)

	do := func(id, method string, body io.Reader, hdr ...string) (*http.Response, []byte) {
		req, err := http.NewRequest(method, rig.proxy.URL+"/safe/b", body)
		require.NoError(t, err)
		req.Header.Set("X-Request-Id", id)
		req.Header.Set("X-Test-Org", "canary")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, b
	}

	t.Run("within the cap, known length", func(t *testing.T) {
		res, _ := do("body-small", http.MethodGet, bytes.NewReader(small))
		assert.Equal(t, http.StatusOK, res.StatusCode)
		got := rig.legacy.withID("body-small")
		require.Len(t, got, 1)
		assert.Equal(t, small, got[0].Body)
		assert.False(t, got[0].Chunked)
		newGot := newUp.withID("body-small")
		require.Len(t, newGot, 1)
		assert.Equal(t, small, newGot[0].Body, "the new backend got the same bytes first")
	})
	t.Run("within the cap, chunked", func(t *testing.T) {
		res, _ := do("body-chunked", http.MethodGet, chunked{bytes.NewReader(small)})
		assert.Equal(t, http.StatusOK, res.StatusCode)
		got := rig.legacy.withID("body-chunked")
		require.Len(t, got, 1)
		assert.Equal(t, small, got[0].Body)
		assert.True(t, got[0].Chunked, "the framing the client chose is kept")
	})
	t.Run("over the cap, known length", func(t *testing.T) {
		res, b := do("body-large", http.MethodGet, bytes.NewReader(large))
		assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
		assert.Equal(t, "new unavailable", string(b))
		assert.Empty(t, rig.legacy.withID("body-large"))
		newGot := newUp.withID("body-large")
		require.Len(t, newGot, 1)
		assert.Equal(t, large, newGot[0].Body, "streamed to new untouched")
	})
	t.Run("over the cap, chunked", func(t *testing.T) {
		res, _ := do("body-large-chunked", http.MethodGet, chunked{bytes.NewReader(large)})
		assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
		assert.Empty(t, rig.legacy.withID("body-large-chunked"))
		newGot := newUp.withID("body-large-chunked")
		require.Len(t, newGot, 1)
		assert.Equal(t, large, newGot[0].Body, "the part read for the buffer and the rest, in order")
	})
	assert.Equal(t, 2.0, counterValue(t, rig.proxy.metrics.skipped.WithLabelValues("safe", skipBodyTooLarge)))
	assert.Equal(t, 2.0, counterValue(t, rig.proxy.metrics.fallbacks.WithLabelValues("safe", fallbackStatus503)))

	putLarge := func(t *testing.T, rig *fallbackRig, id, method, org string, hdr ...string) *http.Response {
		req, err := http.NewRequest(method, rig.proxy.URL+"/safe/e", bytes.NewReader(large))
		require.NoError(t, err)
		req.Header.Set("X-Request-Id", id)
		req.Header.Set("X-Test-Org", org)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	t.Run("over the cap, never read: connection refused", func(t *testing.T) {
		rig := startFallbackRig(t, refusedURL(t), func(o *Options) { o.FallbackMaxBodyBytes = 16 })
		res := putLarge(t, rig, "body-put-connect", http.MethodPut, "new")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		got := rig.legacy.withID("body-put-connect")
		require.Len(t, got, 1)
		assert.Equal(t, large, got[0].Body, "a PUT body larger than the buffer is replayed: new never read it")
	})
	t.Run("over the cap, never read: rejected before 100 Continue", func(t *testing.T) {
		// The new backend answers 503 without asking for the body the
		// client announced with Expect: 100-continue.
		rejecting := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		rig := startFallbackRig(t, rejecting.URL, func(o *Options) { o.FallbackMaxBodyBytes = 16 })
		res := putLarge(t, rig, "body-expect", http.MethodGet, "canary", "Expect", "100-continue")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		got := rig.legacy.withID("body-expect")
		require.Len(t, got, 1)
		assert.Equal(t, large, got[0].Body)
	})
}

// TestFallbackNotAfterTheBodyWasRead: a safe request with a body announced
// by Expect: 100-continue is streamed to the new backend; once that backend
// has read it, a 503 reaches the client (counted), since the body is gone.
func TestFallbackNotAfterTheBodyWasRead(t *testing.T) {
	newUp := statusNew(t) // recordingUpstream reads the body first
	rig := startFallbackRig(t, newUp.URL)
	req, err := http.NewRequest(http.MethodGet, rig.proxy.URL+"/safe/x", strings.NewReader("query body"))
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "expect-read")
	req.Header.Set("X-Test-Org", "canary")
	req.Header.Set("Expect", "100-continue")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Empty(t, rig.legacy.withID("expect-read"))
	assert.Equal(t, 1.0, counterValue(t, rig.proxy.metrics.skipped.WithLabelValues("safe", skipBodyUnbuffered)))
}

// TestFallbackNotAfterTheResponseBegan: a new backend that fails in the
// middle of its answer cannot be replaced: the client has the beginning of
// it. Legacy is never asked.
func TestFallbackNotAfterTheResponseBegan(t *testing.T) {
	newUp := newRecording(t, "new", func(w http.ResponseWriter, r *http.Request) {
		// No length: the proxy flushes each write, so the client has the
		// status and the first bytes before the failure.
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	rig := startFallbackRig(t, newUp.URL)
	req, err := http.NewRequest(http.MethodGet, rig.proxy.URL+"/safe/p", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "mid-body")
	req.Header.Set("X-Test-Org", "new")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, err = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Error(t, err, "the client sees the truncated answer as an error")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Empty(t, rig.legacy.withID("mid-body"))
	assert.Zero(t, counterValue(t, rig.proxy.metrics.fallbacks.WithLabelValues("safe", fallbackTransport)))
}

// TestCanaryFallbackIsNotCompared: a canary request that fell back to legacy
// is served once by legacy, never copied, and recorded as dropped (fallback).
func TestCanaryFallbackIsNotCompared(t *testing.T) {
	rig := startModeRig(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}, nil, config.Shadow{})
	res, body := send(t, rig.proxy.URL, http.MethodGet, "/safe/c", "canary-fb", "canary", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "legacy:GET /safe/c", string(body))
	rig.engine.shutdown(t)
	assert.Len(t, rig.legacy.withID("canary-fb"), 1, "served by legacy once, no copy")
	assert.Len(t, rig.newUp.withID("canary-fb"), 1, "the failed attempt only")
	assert.Equal(t, 1.0, rig.engine.outcomes(t, "safe", "dropped", "fallback"))
}

// TestRetryPolicyTable pins which methods are retried on which failures.
func TestRetryPolicyTable(t *testing.T) {
	for method, want := range map[string]retryPolicy{
		"GET": retryAll, "HEAD": retryAll, "OPTIONS": retryAll, "TRACE": retryAll,
		"PUT": retryConnect, "DELETE": retryConnect,
		"POST": retryNever, "PATCH": retryNever, "CONNECT": retryNever, "PROPFIND": retryNever,
		"get": retryNever, "": retryNever,
	} {
		assert.Equal(t, want, retryPolicyOf(method), "%q", method)
	}
}

// replayBody returns what fallBack would send to legacy.
func replayBody(rs *retryState) io.Reader {
	switch rs.body {
	case replayBuffered:
		return bytes.NewReader(rs.buf)
	case replayGuarded:
		return rs.guard.r
	}
	return bytes.NewReader(nil)
}

// FuzzRetryBody: whatever the body, its framing, the cap and the method,
// the new backend reads exactly the client's bytes; a retry is allowed only
// when legacy can be sent exactly those bytes too, and then it is.
func FuzzRetryBody(f *testing.F) {
	f.Add([]byte("hello"), uint16(16), false, uint8(0), true)
	f.Add([]byte("hello"), uint16(2), true, uint8(0), false)
	f.Add(bytes.Repeat([]byte{0}, 300), uint16(299), true, uint8(1), true)
	f.Add([]byte{}, uint16(0), false, uint8(2), false)
	methods := []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodOptions}
	f.Fuzz(func(t *testing.T, data []byte, capBytes uint16, chunkedBody bool, m uint8, readFirst bool) {
		method := methods[int(m)%len(methods)]
		newReq := func() *http.Request {
			var body io.Reader = bytes.NewReader(data)
			if chunkedBody {
				body = chunked{body}
			}
			r, err := http.NewRequest(method, "http://x/", body)
			require.NoError(t, err)
			switch {
			case len(data) == 0:
				r.Body, r.ContentLength = http.NoBody, 0
			case chunkedBody:
				r.ContentLength = -1 // as net/http's server reports it
			}
			return r
		}
		ctx := t.Context()

		// What the new backend reads is the client's body.
		r := newReq()
		var rs retryState
		rs.prepare(r, int64(capBytes))
		got, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		require.Equal(t, string(data), string(got))

		// A retry after the body was read: only from the buffer.
		for _, f := range []failure{failConnect, failTimeout, failStatus} {
			r := newReq()
			var rs retryState
			rs.prepare(r, int64(capBytes))
			if readFirst {
				_, _ = io.ReadAll(r.Body)
			}
			ok, skip := rs.replayable(ctx, f)
			policy := retryPolicyOf(method)
			if policy == retryNever || policy == retryConnect && f != failConnect {
				require.False(t, ok)
				require.Equal(t, skipMethod, skip)
				continue
			}
			if readFirst && len(data) > 0 && rs.body != replayBuffered {
				require.False(t, ok, "a body the new backend read cannot be replayed unless buffered")
				require.NotEmpty(t, skip)
				continue
			}
			require.True(t, ok, "skip %q", skip)
			again, err := io.ReadAll(replayBody(&rs))
			require.NoError(t, err)
			require.Equal(t, string(data), string(again), "legacy gets the same bytes")
			if rs.guard != nil {
				_, err := rs.guard.Read(make([]byte, 1))
				require.ErrorIs(t, err, errBodyDetached, "the failed attempt cannot read on")
			}
		}
	})
}

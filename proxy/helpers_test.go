package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/7cycles-ai/strangler/config"
)

// guard bounds waits on channels so that a broken ordering fails the test
// with a message instead of hanging it. It is a deadlock guard, not a
// performance assertion.
const guard = 20 * time.Second

// catchAll is the route table most tests use: everything is "default".
func catchAll() []config.Route {
	return []config.Route{{Name: "default", Paths: []string{"/"}, Auth: "optional"}}
}

// testConfig returns a configuration with the legacy upstream at legacyURL.
func testConfig(legacyURL string, routes ...config.Route) *config.Config {
	if len(routes) == 0 {
		routes = catchAll()
	}
	return &config.Config{
		Server:    config.Server{ShutdownGrace: config.Duration(5 * time.Second)},
		Upstreams: config.Upstreams{Legacy: config.Upstream{URL: legacyURL}},
		Routes:    routes,
	}
}

// testProxy is a Server running Serve on real loopback listeners.
type testProxy struct {
	*Server
	URL      string // http://127.0.0.1:port of the public listener
	Addr     string
	AdminURL string
	Logs     *observer.ObservedLogs
	cancel   context.CancelFunc
	done     chan error
}

// startProxy builds a Server from cfg (opts may adjust the options) and
// serves it until the test ends.
func startProxy(t testing.TB, cfg *config.Config, opts ...func(*Options)) *testProxy {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	o := Options{Config: cfg, Logger: zap.New(core)}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(o)
	require.NoError(t, err)
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{
		Server:   srv,
		URL:      "http://" + pub.Addr().String(),
		Addr:     pub.Addr().String(),
		AdminURL: "http://" + adm.Addr().String(),
		Logs:     logs,
		cancel:   cancel,
		done:     make(chan error, 1),
	}
	go func() { tp.done <- srv.Serve(ctx, pub, adm) }()
	t.Cleanup(func() {
		tp.stop(t)
	})
	return tp
}

// stop cancels Serve and waits for it to return.
func (tp *testProxy) stop(t testing.TB) error {
	tp.cancel()
	select {
	case err, ok := <-tp.done:
		if ok {
			close(tp.done)
		}
		return err
	case <-time.After(guard):
		t.Errorf("Serve did not return after its context was canceled")
		return nil
	}
}

// upstream starts a real HTTP server running h.
func upstream(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// rawExchange sends a raw HTTP/1.1 request to addr and reads the response
// (and informational responses before it) exactly as the wire carries it.
func rawExchange(t testing.TB, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(guard)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	method := raw[:strings.IndexByte(raw, ' ')]
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	require.NoError(t, err, "reading the response to %q", raw)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, body
}

// echoHeaders is an upstream handler answering with the request headers as
// JSON {"Name":["v1","v2"]}, names sorted by encoding/json.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(r.Header)
}

// decodeHeaders parses an echoHeaders body.
func decodeHeaders(t testing.TB, body []byte) http.Header {
	t.Helper()
	var h http.Header
	require.NoError(t, json.Unmarshal(body, &h), "body: %s", body)
	return h
}

// errorBody is the proxy's JSON error.
type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

func decodeError(t testing.TB, body []byte) errorBody {
	t.Helper()
	var e errorBody
	require.NoError(t, json.Unmarshal(body, &e), "body: %s", body)
	return e
}

// get performs a GET through the default client and returns status, headers
// and body.
func get(t testing.TB, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, body
}

// accessLines returns the access log entries ("request") as field maps.
func accessLines(logs *observer.ObservedLogs) []map[string]any {
	var out []map[string]any
	for _, e := range logs.FilterMessage("request").All() {
		out = append(out, e.ContextMap())
	}
	return out
}

// waitAccessLine waits for an access log line satisfying ok.
func waitAccessLine(t testing.TB, logs *observer.ObservedLogs, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var found map[string]any
	require.Eventually(t, func() bool {
		for _, l := range accessLines(logs) {
			if ok(l) {
				found = l
				return true
			}
		}
		return false
	}, guard, 5*time.Millisecond, "no matching access log line")
	return found
}

// sortedKeys lists a header's names.
func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// recv receives from ch, failing the test instead of hanging.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("nothing received within %s", guard)
		var zero T
		return zero
	}
}

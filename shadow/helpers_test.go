package shadow

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// received is what a backend saw of one request.
type received struct {
	Method  string
	RawPath string // escaped path
	URI     string // request target as received
	Query   string
	Host    string
	Header  http.Header
	Body    []byte
}

// recordingBackend is a real HTTP server that records every request and
// answers with handle.
type recordingBackend struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

func newBackend(t *testing.T, handle http.HandlerFunc) *recordingBackend {
	b := &recordingBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, received{Method: r.Method, RawPath: r.URL.EscapedPath(), URI: r.RequestURI, Query: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Body: body})
		b.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *recordingBackend) requests() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.reqs...)
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

type tapKey struct{}

// servingPath is the serving side of the proxy reduced to what matters
// here: a real front server, httputil.ReverseProxy to the serving backend
// (Rewrite, ModifyResponse), a Tap per sampled request, Finish after the
// client was served. It is how the proxy is meant to use the engine.
func servingPath(t *testing.T, e *Engine, serving *url.URL, route, org string, backend Backend) *httptest.Server {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(serving)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Tenant-Org-ID", org)
			pr.Out.Header.Set("X-Tenant-Role", "member")
		},
		ModifyResponse: func(resp *http.Response) error {
			if tap, ok := resp.Request.Context().Value(tapKey{}).(*Tap); ok {
				tap.CaptureResponse(resp)
			}
			return nil
		},
		FlushInterval: -1,
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.Wants(route, r.Method) {
			tap := e.Tap(r, route, org, backend)
			// Deferred: ReverseProxy panics with http.ErrAbortHandler when
			// the client goes away mid-answer.
			defer tap.Finish()
			r = r.WithContext(context.WithValue(r.Context(), tapKey{}, tap))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front
}

type engineConfig struct {
	shadow  config.Shadow
	routes  []config.Route
	legacy  string
	newURL  string
	store   Store
	rec     RecorderOptions
	budget  int64
	rand    func() float64
	decoded int64
	// load is the CPU guard's reader; nil leaves the guard open (tests
	// that count comparisons must not depend on the machine's load).
	load LoadReader
	// halted is Options.Halted.
	halted func(context.Context) bool
	// replay is Options.ReplayHeaders.
	replay func(context.Context, http.Header, time.Duration) error
}

func newTestEngine(t *testing.T, c engineConfig) (*Engine, *MemoryStore, *prometheus.Registry) {
	t.Helper()
	mem, _ := c.store.(*MemoryStore)
	if c.store == nil {
		mem = NewMemoryStore(MemoryStoreOptions{})
		c.store = mem
	}
	if c.rec.FlushInterval == 0 {
		c.rec.FlushInterval = 5 * time.Millisecond
	}
	if c.routes == nil {
		c.routes = []config.Route{{Name: "qa"}}
	}
	reg := prometheus.NewRegistry()
	opts := Options{
		Shadow:         c.shadow,
		Routes:         c.routes,
		Store:          c.store,
		Recorder:       c.rec,
		Registerer:     reg,
		MaxQueuedBytes: c.budget,
		Rand:           c.rand,
		DecodedLimit:   c.decoded,
		LoadReader:     c.load,
		Halted:         c.halted,
		ReplayHeaders:  c.replay,
	}
	if opts.LoadReader == nil {
		opts.LoadReader = noLoad
	}
	if c.legacy != "" {
		opts.Legacy = mustURL(t, c.legacy)
	}
	if c.newURL != "" {
		opts.New = mustURL(t, c.newURL)
	}
	e, err := NewEngine(opts)
	require.NoError(t, err)
	return e, mem, reg
}

func shutdown(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, e.Shutdown(ctx))
}

// get makes a request through the front and returns the full body.
func do(t *testing.T, client *http.Client, method, u string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// summary waits until the store has n comparisons for the route and returns
// its summary.
func waitSummary(t *testing.T, s Store, route string, n int64) Summary {
	t.Helper()
	var got Summary
	require.Eventually(t, func() bool {
		sums, err := s.Summaries(context.Background(), RollupFilter{Route: route})
		require.NoError(t, err)
		if len(sums) == 0 {
			return false
		}
		var total Summary
		for _, x := range sums {
			total.Counts.Add(x.Counts)
			total.LegacyLatency.Merge(x.LegacyLatency)
			total.NewLatency.Merge(x.NewLatency)
		}
		got = total
		return total.Comparisons() >= n
	}, 20*time.Second, 5*time.Millisecond, "waiting for %d comparisons on %s", n, route)
	return got
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func newBenchServer(b *testing.B, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewServer(h)
	b.Cleanup(s.Close)
	return s
}

// noLoad is a LoadReader that cannot read: the CPU guard never sheds.
func noLoad() (Load, error) { return Load{}, errNoLoad }

var errNoLoad = errors.New("no load reading in this test")

package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/flags"
	"github.com/7cycles-ai/strangler/shadow"
)

// seen is one request a recording upstream received.
type seen struct {
	Method string
	Target string // the request target as on the request line
	Header http.Header
	Body   []byte
	// Chunked reports a body sent with Transfer-Encoding: chunked.
	Chunked bool
}

// recordingUpstream is a real HTTP server that records every request (its
// body read in full) before handing it to its handler.
type recordingUpstream struct {
	*httptest.Server
	name string
	mu   sync.Mutex
	reqs []seen
}

// newRecording starts a recording upstream; handle nil answers 200 with
// "<name>:<method> <target>" and X-Backend: <name>.
func newRecording(t testing.TB, name string, handle http.HandlerFunc) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{name: name}
	if handle == nil {
		handle = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", name)
			_, _ = io.WriteString(w, name+":"+r.Method+" "+r.RequestURI)
		}
	}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{Method: r.Method, Target: r.RequestURI, Header: r.Header.Clone(), Body: body,
			Chunked: len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"})
		u.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// withID returns the requests carrying X-Request-Id id.
func (u *recordingUpstream) withID(id string) []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []seen
	for _, s := range u.reqs {
		if s.Header.Get("X-Request-Id") == id {
			out = append(out, s)
		}
	}
	return out
}

// count returns how many requests were received.
func (u *recordingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// orgAuthorizer resolves the tenant from the test header X-Test-Org (a
// slug); the assertion is unique per request so a copy can be matched to
// the serving request.
var orgAuthorizer = authorizerFunc(func(ctx context.Context, r *http.Request, route *Route, caller *TenantContext) (*TenantContext, error) {
	slug := r.Header.Get("X-Test-Org")
	if slug == "" {
		return nil, nil
	}
	return &TenantContext{
		OrgID: "org-" + slug, OrgSlug: slug, ProjectID: "proj-1", UserID: "user-1", Role: "member",
		Assertion: "assertion." + slug + "." + RequestIDFromContext(ctx),
	}, nil
})

// modeFromSlug decides the mode by organization slug: org "shadow" is in
// shadow mode, and so on; anything else is legacy.
var modeFromSlug = ModeDeciderFunc(func(_ context.Context, info RequestInfo) Mode {
	if info.Tenant == nil {
		return ModeLegacy
	}
	if m := Mode(info.Tenant.OrgSlug); m.Valid() {
		return m
	}
	return ModeLegacy
})

// engineRig is a running shadow engine with its memory store and metrics.
type engineRig struct {
	*shadow.Engine
	reg  *prometheus.Registry
	once sync.Once
}

// startEngine builds and starts a shadow engine over the two upstreams with
// the proxy's routes; it is shut down at cleanup at the latest.
func startEngine(t testing.TB, legacyURL, newURL string, routes []config.Route, sc config.Shadow) *engineRig {
	t.Helper()
	reg := prometheus.NewRegistry()
	if sc.CPUBudget == 0 {
		// These tests count comparisons: the CPU guard must not shed them
		// when the test machine is busy.
		sc.CPUBudget = 1
	}
	e, err := shadow.NewEngine(shadow.Options{
		Shadow:     sc,
		Routes:     routes,
		Legacy:     mustParseURL(t, legacyURL),
		New:        mustParseURL(t, newURL),
		Store:      shadow.NewMemoryStore(shadow.MemoryStoreOptions{}),
		Recorder:   shadow.RecorderOptions{FlushInterval: 5 * time.Millisecond},
		Registerer: reg,
	})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	rig := &engineRig{Engine: e, reg: reg}
	t.Cleanup(func() { rig.shutdown(t) })
	return rig
}

// shutdown drains the queue: every copy has been sent when it returns.
func (e *engineRig) shutdown(t testing.TB) {
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		assert.NoError(t, e.Shutdown(ctx))
	})
}

// outcomes returns the engine's count of an outcome (and reason, if set) on
// a route.
func (e *engineRig) outcomes(t testing.TB, route string, outcome shadow.Outcome, reason shadow.Reason) float64 {
	t.Helper()
	name, labels := "strangler_shadow_comparisons_total", map[string]string{"route": route, "outcome": string(outcome)}
	if reason != "" {
		name = "strangler_shadow_outcome_reasons_total"
		labels["reason"] = string(reason)
	}
	return gatherCounter(t, e.reg, name, labels)
}

// gatherCounter reads one series of a counter from a registry; 0 if absent.
func gatherCounter(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				if !metricHasLabel(m, k, v) {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func metricHasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

func mustParseURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// modeRoutes are the routes of the mode tests: "safe" shadows safe methods
// only, "unsafe" allows unsafe methods too.
func modeRoutes() []config.Route {
	return []config.Route{
		{Name: "safe", Paths: []string{"/safe"}},
		{Name: "unsafe", Paths: []string{"/unsafe"}, Shadow: config.RouteShadow{UnsafeMethods: true}},
		{Name: "default", Paths: []string{"/"}},
	}
}

// modeRig is the proxy between two recording upstreams with a shadow engine.
type modeRig struct {
	legacy, newUp *recordingUpstream
	engine        *engineRig
	proxy         *testProxy
	reg           *prometheus.Registry
}

// startModeRig starts both upstreams, the engine and the proxy; decider
// picks the modes (nil: by org slug), opts adjust the options.
func startModeRig(t testing.TB, legacyH, newH http.HandlerFunc, decider ModeDecider, sc config.Shadow, opts ...func(*Options)) *modeRig {
	t.Helper()
	rig := &modeRig{legacy: newRecording(t, "legacy", legacyH), newUp: newRecording(t, "new", newH)}
	routes := modeRoutes()
	rig.engine = startEngine(t, rig.legacy.URL, rig.newUp.URL, routes, sc)
	cfg := testConfig(rig.legacy.URL, routes...)
	cfg.Upstreams.New.URL = rig.newUp.URL
	cfg.Server.DebugHeaders = true
	if decider == nil {
		decider = modeFromSlug
	}
	rig.reg = prometheus.NewRegistry()
	rig.proxy = startProxy(t, cfg, append([]func(*Options){func(o *Options) {
		o.Authorizer = orgAuthorizer
		o.ModeDecider = decider
		o.Shadower = NewEngineShadower(rig.engine.Engine)
		o.Registry = rig.reg
	}}, opts...)...)
	return rig
}

// send makes one request through the proxy with a request id and an org,
// returning the response and its body.
func send(t testing.TB, base, method, path, id, org string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", id)
	if org != "" {
		req.Header.Set("X-Test-Org", org)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header[hdr[i]] = append(req.Header[hdr[i]], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, b
}

// tenantHeaders returns the X-Tenant-* headers of h.
func tenantHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if isTenantHeader(k) {
			out[k] = v
		}
	}
	return out
}

// hasShadowHeader reports whether h holds X-Shadow-Request in any spelling.
func hasShadowHeader(h http.Header) bool {
	for k := range h {
		if isShadowHeader(k) {
			return true
		}
	}
	return false
}

// TestRoutingMatrix drives every mode with a safe and an unsafe method on a
// route that shadows safe methods only and on one that allows unsafe
// methods, through the real proxy, engine and upstreams: who serves, who
// gets a copy, and what the copy carries.
func TestRoutingMatrix(t *testing.T) {
	rig := startModeRig(t, nil, nil, nil, config.Shadow{Workers: 2})

	type tc struct {
		mode   Mode
		method string
		route  string
		id     string
		body   []byte
	}
	var cases []tc
	for _, mode := range []Mode{ModeLegacy, ModeShadow, ModeCanary, ModeNew} {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			for _, route := range []string{"safe", "unsafe"} {
				c := tc{mode: mode, method: method, route: route, id: fmt.Sprintf("matrix-%s-%s-%s", mode, method, route)}
				if method == http.MethodPost {
					// Binary, larger than a copy buffer: the copy must
					// carry the same bytes.
					c.body = bytes.Repeat([]byte{0, 0xff, 'a', '\n', 0x80}, 20000)
				}
				cases = append(cases, c)
			}
		}
	}
	for _, c := range cases {
		// The client tries to make the serving backend skip side effects.
		res, body := send(t, rig.proxy.URL, c.method, "/"+c.route+"/items?x=1&y=%2F", c.id, string(c.mode), c.body,
			"X-Shadow-Request", "true", "X_Shadow_Request", "true", "x-shadow-request", "1")
		serving := c.mode.Serving()
		require.Equal(t, http.StatusOK, res.StatusCode, c.id)
		assert.Equal(t, string(serving)+":"+c.method+" /"+c.route+"/items?x=1&y=%2F", string(body), c.id)
		assert.Equal(t, string(serving), res.Header.Get("X-Strangler-Backend"), c.id)
		assert.Equal(t, string(c.mode), res.Header.Get("X-Strangler-Mode"), c.id)
	}
	// Every copy has been sent once the engine has drained its queue.
	rig.engine.shutdown(t)

	for _, c := range cases {
		servingUp, otherUp := rig.legacy, rig.newUp
		if c.mode.Serving() == BackendNew {
			servingUp, otherUp = rig.newUp, rig.legacy
		}
		served := servingUp.withID(c.id)
		require.Len(t, served, 1, "%s: the serving backend gets the request once", c.id)
		s := served[0]
		assert.False(t, hasShadowHeader(s.Header), "%s: a client cannot mark the serving request as a shadow copy: %v", c.id, sortedKeys(s.Header))
		assert.Equal(t, "org-"+string(c.mode), s.Header.Get("X-Tenant-Org-Id"), c.id)
		assert.Equal(t, c.body, nilIfEmpty(s.Body), c.id)

		copies := otherUp.withID(c.id)
		wantCopy := c.mode.Shadows() && (c.method == http.MethodGet || c.route == "unsafe")
		if !wantCopy {
			assert.Empty(t, copies, "%s: no copy", c.id)
			continue
		}
		require.Len(t, copies, 1, "%s: one copy to the other backend", c.id)
		cp := copies[0]
		assert.Equal(t, []string{"true"}, cp.Header.Values("X-Shadow-Request"), c.id)
		for k := range cp.Header {
			if isShadowHeader(k) && k != "X-Shadow-Request" {
				t.Errorf("%s: the copy carries a client spelling of the shadow header: %s", c.id, k)
			}
		}
		assert.Equal(t, tenantHeaders(s.Header), tenantHeaders(cp.Header), "%s: the copy carries the serving request's tenant headers", c.id)
		assert.Equal(t, "assertion."+string(c.mode)+"."+c.id, cp.Header.Get("X-Tenant-Assertion"), c.id)
		assert.Equal(t, c.method, cp.Method, c.id)
		assert.Equal(t, s.Target, cp.Target, c.id)
		assert.True(t, bytes.Equal(s.Body, cp.Body), "%s: the copy's body is the serving request's body (%d vs %d bytes)", c.id, len(cp.Body), len(s.Body))
	}
	// Nothing else reached either backend.
	assert.Equal(t, len(cases), rig.legacy.count()+rig.newUp.count()-copiesWanted(cases, func(c tc) bool {
		return c.mode.Shadows() && (c.method == http.MethodGet || c.route == "unsafe")
	}))
}

func copiesWanted[T any](cases []T, want func(T) bool) int {
	n := 0
	for _, c := range cases {
		if want(c) {
			n++
		}
	}
	return n
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// TestShadowHeaderStrippedInEveryMode: X-Shadow-Request from a client never
// reaches an upstream, even in legacy mode without any shadowing set up.
func TestShadowHeaderStrippedInEveryMode(t *testing.T) {
	up := newRecording(t, "legacy", nil)
	p := startProxy(t, testConfig(up.URL))
	res, _ := send(t, p.URL, http.MethodPost, "/x", "strip-1", "", []byte("side effect"),
		"X-Shadow-Request", "true", "X_SHADOW_REQUEST", "true", "X-Shadow-Request-Extra", "kept")
	require.Equal(t, http.StatusOK, res.StatusCode)
	got := up.withID("strip-1")
	require.Len(t, got, 1)
	assert.False(t, hasShadowHeader(got[0].Header), "%v", sortedKeys(got[0].Header))
	assert.Equal(t, "kept", got[0].Header.Get("X-Shadow-Request-Extra"), "only the exact name is reserved")
}

func TestIsShadowHeaderTable(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Shadow-Request":    true,
		"x-shadow-request":    true,
		"X_Shadow_Request":    true,
		"x_shadow-REQUEST":    true,
		"X-Shadow-Requests":   false,
		"X-Shadow-Reques":     false,
		"X-Shadow":            false,
		"":                    false,
		"X-Shadow-Request ":   false,
		"X\x00Shadow-Request": false,
	} {
		assert.Equal(t, want, isShadowHeader(name), "%q", name)
	}
}

// flagsRig is a flags decider over the memory store.
type flagsRig struct {
	store   *flags.MemoryStore
	decider *flags.Decider
}

var opsAudit = flags.Audit{Actor: "ops@example.test", Reason: "test"}

// startFlags builds a decider over a memory store with the given rules and
// waits until its provider is ready.
func startFlags(t testing.TB, routes []string, rules ...flags.Rule) *flagsRig {
	t.Helper()
	store := flags.NewMemoryStore(nil)
	ctx := context.Background()
	for _, r := range rules {
		_, err := store.SetRule(ctx, r, opsAudit)
		require.NoError(t, err)
	}
	d, err := flags.NewDecider(flags.DeciderOptions{
		Provider: flags.NewStoreProvider(store, flags.StoreProviderOptions{}),
		Routes:   routes,
		Logger:   zap.NewNop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		_ = d.Close(ctx)
	})
	wctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	require.NoError(t, d.WaitReady(wctx))
	return &flagsRig{store: store, decider: d}
}

// waitMode waits until the decider has applied a change for (org, route).
// The store provider reloads on the store's change feed, off the request
// path; this is the moment it has.
func (f *flagsRig) waitMode(t testing.TB, org, route string, want flags.Mode) {
	t.Helper()
	require.Eventually(t, func() bool {
		m, _ := f.decider.Decide(context.Background(), flags.Request{OrgID: "org-" + org, OrgSlug: org, Route: route, Method: http.MethodGet})
		return m == want
	}, guard, time.Millisecond, "the decider never applied %s for org %s on %s", want, org, route)
}

// TestFlagsOverrideMovesOneOrg: an override set through the flags store
// moves the next requests of that organization, and only of that one.
func TestFlagsOverrideMovesOneOrg(t *testing.T) {
	fr := startFlags(t, []string{"safe", "unsafe", "default"})
	rig := startModeRig(t, nil, nil, NewFlagsModeDecider(fr.decider), config.Shadow{})

	res, body := send(t, rig.proxy.URL, http.MethodGet, "/safe/a", "ovr-1", "acme", nil)
	assert.Equal(t, "legacy:GET /safe/a", string(body), "no rule, no override: legacy")
	assert.Equal(t, "legacy", res.Header.Get("X-Strangler-Mode"))

	_, err := fr.store.SetOverride(context.Background(),
		flags.Override{Flag: "route.safe", OrgID: "org-acme", OrgSlug: "acme", Variant: flags.ModeNew, Reason: "pilot"}, opsAudit)
	require.NoError(t, err)
	fr.waitMode(t, "acme", "safe", flags.ModeNew)

	res, body = send(t, rig.proxy.URL, http.MethodGet, "/safe/a", "ovr-2", "acme", nil)
	assert.Equal(t, "new:GET /safe/a", string(body), "the override moved acme to new")
	assert.Equal(t, "new", res.Header.Get("X-Strangler-Mode"))
	res, body = send(t, rig.proxy.URL, http.MethodGet, "/safe/a", "ovr-3", "globex", nil)
	assert.Equal(t, "legacy:GET /safe/a", string(body), "another organization stays on legacy")
	res, body = send(t, rig.proxy.URL, http.MethodGet, "/unsafe/a", "ovr-4", "acme", nil)
	assert.Equal(t, "legacy:GET /unsafe/a", string(body), "another route of acme stays on legacy")
	_ = res

	// Shadow for acme: legacy serves, new gets a copy.
	_, err = fr.store.SetOverride(context.Background(),
		flags.Override{Flag: "route.safe", OrgID: "org-acme", Variant: flags.ModeShadow, Reason: "compare first"}, opsAudit)
	require.NoError(t, err)
	fr.waitMode(t, "acme", "safe", flags.ModeShadow)
	_, body = send(t, rig.proxy.URL, http.MethodGet, "/safe/a", "ovr-5", "acme", nil)
	assert.Equal(t, "legacy:GET /safe/a", string(body))
	rig.engine.shutdown(t)
	assert.Len(t, rig.newUp.withID("ovr-5"), 1, "the shadow copy reached new")
	assert.Empty(t, rig.legacy.withID("ovr-2"), "a request served by new is not also sent to legacy")
}

// TestKillSwitchSendsEverythingToLegacy: with strangler-enabled off every
// request is served by legacy and nothing is shadowed; back on, the rules
// apply again.
func TestKillSwitchSendsEverythingToLegacy(t *testing.T) {
	fr := startFlags(t, []string{"safe", "unsafe", "default"},
		flags.Rule{Flag: "route.safe", DefaultVariant: flags.ModeCanary},
		flags.Rule{Flag: "route.unsafe", DefaultVariant: flags.ModeShadow})
	rig := startModeRig(t, nil, nil, NewFlagsModeDecider(fr.decider), config.Shadow{})

	_, body := send(t, rig.proxy.URL, http.MethodGet, "/safe/k", "kill-1", "acme", nil)
	assert.Equal(t, "new:GET /safe/k", string(body), "canary by rule")

	_, err := fr.store.SetKillSwitch(context.Background(), false, flags.Audit{Actor: "ops", Reason: "5xx spike"})
	require.NoError(t, err)
	fr.waitMode(t, "acme", "safe", flags.ModeLegacy)

	for i, path := range []string{"/safe/k", "/unsafe/k", "/safe/k"} {
		id := fmt.Sprintf("kill-off-%d", i)
		res, body := send(t, rig.proxy.URL, http.MethodGet, path, id, "acme", nil)
		assert.Equal(t, "legacy:GET "+path, string(body))
		assert.Equal(t, "legacy", res.Header.Get("X-Strangler-Mode"))
	}

	_, err = fr.store.SetKillSwitch(context.Background(), true, flags.Audit{Actor: "ops", Reason: "fixed"})
	require.NoError(t, err)
	fr.waitMode(t, "acme", "unsafe", flags.ModeShadow)
	_, body = send(t, rig.proxy.URL, http.MethodGet, "/unsafe/k", "kill-on", "acme", nil)
	assert.Equal(t, "legacy:GET /unsafe/k", string(body))

	rig.engine.shutdown(t)
	assert.Len(t, rig.legacy.withID("kill-1"), 1, "the canary copy before the kill switch")
	for i := range 3 {
		id := fmt.Sprintf("kill-off-%d", i)
		assert.Empty(t, rig.newUp.withID(id), "%s: shadowing stopped with the kill switch", id)
		assert.Len(t, rig.legacy.withID(id), 1, id)
	}
	assert.Len(t, rig.newUp.withID("kill-on"), 1, "shadowing resumes with the kill switch back on")
}

// brokenProvider is an OpenFeature provider that fails in a chosen way.
type brokenProvider struct {
	name string
	// variant, when set, is returned for every string flag without error
	// (a value that is no mode).
	variant string
	// initBlock, when set, keeps Init from returning: the provider stays
	// NOT_READY.
	initBlock chan struct{}
}

func (p *brokenProvider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: p.name} }
func (p *brokenProvider) Hooks() []openfeature.Hook      { return nil }

func (p *brokenProvider) Init(openfeature.EvaluationContext) error {
	if p.initBlock != nil {
		<-p.initBlock
	}
	return nil
}

func (p *brokenProvider) Shutdown() {}

func (p *brokenProvider) fail() openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{
		ResolutionError: openfeature.NewGeneralResolutionError("flag service unreachable"),
		Reason:          openfeature.ErrorReason,
	}
}

func (p *brokenProvider) BooleanEvaluation(_ context.Context, _ string, def bool, _ openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	if p.variant != "" {
		return openfeature.BoolResolutionDetail{Value: true, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{Variant: "on", Reason: openfeature.StaticReason}}
	}
	return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: p.fail()}
}

func (p *brokenProvider) StringEvaluation(_ context.Context, _ string, def string, _ openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	if p.variant != "" {
		return openfeature.StringResolutionDetail{Value: p.variant, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{Variant: p.variant, Reason: openfeature.StaticReason}}
	}
	return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: p.fail()}
}

func (p *brokenProvider) FloatEvaluation(_ context.Context, _ string, def float64, _ openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: p.fail()}
}

func (p *brokenProvider) IntEvaluation(_ context.Context, _ string, def int64, _ openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: p.fail()}
}

func (p *brokenProvider) ObjectEvaluation(_ context.Context, _ string, def any, _ openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: p.fail()}
}

var (
	_ openfeature.FeatureProvider = (*brokenProvider)(nil)
	_ openfeature.StateHandler    = (*brokenProvider)(nil)
)

// TestFlagFailuresServeLegacy: a provider that errors, one that answers
// something that is not a mode, one that never becomes ready, and a decider
// that returns garbage — each request is served by legacy and not shadowed.
func TestFlagFailuresServeLegacy(t *testing.T) {
	notReady := make(chan struct{})
	t.Cleanup(func() { close(notReady) })
	for _, tc := range []struct {
		name     string
		provider openfeature.FeatureProvider
		decider  ModeDecider
	}{
		{name: "provider errors", provider: &brokenProvider{name: "errors"}},
		{name: "provider answers garbage", provider: &brokenProvider{name: "garbage", variant: "canary; DROP TABLE"}},
		{name: "provider never ready", provider: &brokenProvider{name: "slow", initBlock: notReady}},
		{name: "decider answers garbage", decider: ModeDeciderFunc(func(context.Context, RequestInfo) Mode { return "NEW" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.decider
			if tc.provider != nil {
				fd, err := flags.NewDecider(flags.DeciderOptions{Provider: tc.provider, Routes: []string{"safe"}, Logger: zap.NewNop()})
				require.NoError(t, err)
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					_ = fd.Close(ctx)
				})
				d = NewFlagsModeDecider(fd)
			}
			rig := startModeRig(t, nil, nil, d, config.Shadow{})
			for i := range 3 {
				id := fmt.Sprintf("broken-%d", i)
				res, body := send(t, rig.proxy.URL, http.MethodGet, "/safe/f", id, "acme", nil)
				require.Equal(t, http.StatusOK, res.StatusCode)
				assert.Equal(t, "legacy:GET /safe/f", string(body))
				assert.Equal(t, "legacy", res.Header.Get("X-Strangler-Backend"))
			}
			rig.engine.shutdown(t)
			assert.Zero(t, rig.newUp.count(), "nothing served by new, nothing shadowed")
			if tc.decider != nil {
				assert.Equal(t, 3.0, counterValue(t, rig.proxy.metrics.fallbacks.WithLabelValues("safe", "invalid_mode")))
			}
		})
	}
}

// TestFlagsModeDeciderMapsTheRequest: the evaluation context is built from
// the tenant, route and method.
func TestFlagsModeDeciderMapsTheRequest(t *testing.T) {
	var got flags.Request
	d := NewFlagsModeDecider(flagDecisionFunc(func(_ context.Context, in flags.Request) (flags.Mode, error) {
		got = in
		return flags.ModeCanary, nil
	}))
	route := &Route{Route: config.Route{Name: "qa"}}
	m := d.Decide(context.Background(), RequestInfo{Route: route, Method: "PATCH", Tenant: &TenantContext{
		OrgID: "o1", OrgSlug: "acme", ProjectID: "p1", UserID: "u1", Role: "admin", Assertion: "x"}})
	assert.Equal(t, ModeCanary, m)
	assert.Equal(t, flags.Request{OrgID: "o1", OrgSlug: "acme", ProjectID: "p1", UserID: "u1", Route: "qa", Method: "PATCH"}, got)

	// Without an organization there is nothing to migrate: legacy, and the
	// flags are not asked (no targeting key, no fallback counted).
	got = flags.Request{}
	m = d.Decide(context.Background(), RequestInfo{Route: route, Method: "GET"})
	assert.Equal(t, ModeLegacy, m)
	assert.Equal(t, flags.Request{}, got, "no organization: the flags are not evaluated")
	m = d.Decide(context.Background(), RequestInfo{Route: route, Method: "GET", Tenant: &TenantContext{UserID: "u1"}})
	assert.Equal(t, ModeLegacy, m)
	assert.Equal(t, flags.Request{}, got)

	for fm, want := range map[flags.Mode]Mode{
		flags.ModeLegacy: ModeLegacy, flags.ModeShadow: ModeShadow, flags.ModeCanary: ModeCanary, flags.ModeNew: ModeNew,
		flags.Mode(4): "", flags.Mode(255): "",
	} {
		assert.Equal(t, want, modeOfFlag(fm), "%d", fm)
	}
}

type flagDecisionFunc func(context.Context, flags.Request) (flags.Mode, error)

func (f flagDecisionFunc) Decide(ctx context.Context, in flags.Request) (flags.Mode, error) {
	return f(ctx, in)
}

// refusedURL returns the URL of a port nobody listens on any more.
func refusedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

// FuzzStripReservedHeaders: after stripping, no spelling of X-Tenant-* or
// X-Shadow-Request is left, and every other header is untouched.
func FuzzStripReservedHeaders(f *testing.F) {
	for _, s := range []string{"X-Shadow-Request", "x_shadow_request", "X-Tenant-Org-Id", "x_TENANT_role", "X-Shadow-Requests", "Accept", ""} {
		f.Add(s, "Accept")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		h := http.Header{a: {"1"}, b: {"2"}, "X-Shadow-Request": {"true"}, "Content-Type": {"text/plain"}}
		stripReservedHeaders(h)
		for k := range h {
			require.False(t, isTenantHeader(k) || isShadowHeader(k), "%q left", k)
		}
		for _, k := range []string{a, b, "Content-Type"} {
			norm := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
			reserved := strings.HasPrefix(norm, "x-tenant-") || norm == "x-shadow-request"
			_, kept := h[k]
			require.Equal(t, !reserved, kept, "%q", k)
		}
	})
}

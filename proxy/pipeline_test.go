package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

func TestNewRejectsInvalidConfiguration(t *testing.T) {
	_, err := New(Options{})
	require.Error(t, err)

	cfg := &config.Config{
		Upstreams: config.Upstreams{
			Legacy: config.Upstream{URL: "ftp://x"},
			New:    config.Upstream{URL: "http://u:p@host/?q=1"},
		},
		Routes: []config.Route{
			{Name: "", Paths: []string{"api"}},
			{Name: "dup", Paths: []string{"/a/{id}/{id}"}, Methods: []string{"GE T"}},
			{Name: "dup", Paths: []string{"/a/x{id}"}},
		},
	}
	_, err = New(Options{Config: cfg})
	require.Error(t, err)
	for _, want := range []string{
		"upstreams.legacy.url", "upstreams.new.url", "routes[0].name", "routes[0].paths[0]",
		"routes[1].paths[0]", "routes[1].methods[0]", "routes[2].name", "routes[2].paths[0]",
	} {
		assert.Contains(t, err.Error(), want, "every problem is reported with its path")
	}
}

func TestHookErrorsAreJSON(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a refused request reached the upstream")
	})
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unauthenticated sentinel", ErrUnauthenticated, 401, CodeUnauthenticated},
		{"wrapped", fmt.Errorf("verify token: %w", &Error{Status: 401, Code: CodeUnauthenticated, Message: "token expired"}), 401, CodeUnauthenticated},
		{"forbidden", ErrForbidden, 403, CodeForbidden},
		{"org required", ErrOrgRequired, 400, CodeOrgRequired},
		{"unexpected", errors.New("store down: dial tcp 10.0.0.5:5432"), 500, CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			authn := authenticatorFunc(func(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error) {
				assert.NotEmpty(t, RequestIDFromContext(ctx), "hooks see the request id")
				assert.Equal(t, "default", route.Name)
				return nil, tc.err
			})
			p := startProxy(t, testConfig(up.URL), func(o *Options) { o.Authenticator = authn })
			res, body := get(t, p.URL+"/api/x")
			assert.Equal(t, tc.status, res.StatusCode)
			e := decodeError(t, body)
			assert.Equal(t, tc.code, e.Error.Code)
			assert.NotContains(t, string(body), "10.0.0.5", "causes are logged, not sent")
			if tc.status == 401 {
				assert.NotEmpty(t, res.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

type authorizerFunc func(ctx context.Context, r *http.Request, route *Route, caller *TenantContext) (*TenantContext, error)

func (f authorizerFunc) Authorize(ctx context.Context, r *http.Request, route *Route, caller *TenantContext) (*TenantContext, error) {
	return f(ctx, r, route, caller)
}

func TestPipelineOrderAndModes(t *testing.T) {
	legacy := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "legacy:"+r.Header.Get("X-Tenant-Org-Slug"))
	})
	newUp := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "new:"+r.Header.Get("X-Tenant-Org-Slug"))
	})
	cfg := testConfig(legacy.URL,
		config.Route{Name: "qa", Paths: []string{"/api/qa"}},
		config.Route{Name: "posts", Paths: []string{"/api/posts/{id}/publish"}, Methods: []string{"post"}},
		config.Route{Name: "default", Paths: []string{"/"}},
	)
	cfg.Upstreams.New.URL = newUp.URL
	cfg.Server.DebugHeaders = true

	var (
		mu    sync.Mutex
		steps []string
	)
	step := func(s string) {
		mu.Lock()
		steps = append(steps, s)
		mu.Unlock()
	}
	authn := authenticatorFunc(func(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error) {
		step("authenticate:" + route.Name)
		return &TenantContext{UserID: "u1"}, nil
	})
	authz := authorizerFunc(func(ctx context.Context, r *http.Request, route *Route, caller *TenantContext) (*TenantContext, error) {
		step("authorize:" + caller.UserID)
		got, params := RouteFromContext(ctx)
		if got.Name == "posts" {
			assert.Equal(t, []Param{{Name: "id", Value: "42"}}, params)
		}
		return &TenantContext{UserID: caller.UserID, OrgID: "o1", OrgSlug: "acme"}, nil
	})
	modes := map[string]Mode{"qa": ModeCanary, "posts": ModeNew, "default": "bogus"}
	decider := ModeDeciderFunc(func(ctx context.Context, info RequestInfo) Mode {
		step("decide:" + info.Tenant.OrgSlug)
		return modes[info.Route.Name]
	})
	p := startProxy(t, cfg, func(o *Options) {
		o.Authenticator, o.Authorizer, o.ModeDecider = authn, authz, decider
		o.Registry = prometheus.NewRegistry()
	})

	res, body := get(t, p.URL+"/api/qa/ask")
	assert.Equal(t, "new:acme", string(body), "canary is served by the new backend with the tenant headers")
	assert.Equal(t, "new", res.Header.Get("X-Strangler-Backend"))
	assert.Equal(t, "canary", res.Header.Get("X-Strangler-Mode"))
	mu.Lock()
	assert.Equal(t, []string{"authenticate:qa", "authorize:u1", "decide:acme"}, steps)
	mu.Unlock()

	req, _ := http.NewRequest(http.MethodPost, p.URL+"/api/posts/42/publish", nil)
	res2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b2, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	assert.Equal(t, "new:acme", string(b2))

	res, body = get(t, p.URL+"/api/posts/42/publish") // GET: not the posts route
	assert.Equal(t, "legacy:acme", string(body), "an invalid mode is served by legacy")
	assert.Equal(t, "legacy", res.Header.Get("X-Strangler-Mode"))
	assert.Equal(t, 1.0, counterValue(t, p.metrics.fallbacks.WithLabelValues("default", "invalid_mode")))
}

func TestNewModeWithoutNewUpstreamFallsBack(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "legacy") })
	p := startProxy(t, testConfig(up.URL), func(o *Options) {
		o.ModeDecider = ModeDeciderFunc(func(context.Context, RequestInfo) Mode { return ModeNew })
	})
	_, body := get(t, p.URL+"/x")
	assert.Equal(t, "legacy", string(body))
	assert.Equal(t, 1.0, counterValue(t, p.metrics.fallbacks.WithLabelValues("default", "new_upstream_not_configured")))
}

func TestPublicEndpointsMatchedBeforeRoutes(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "legacy "+r.Method+" "+r.URL.Path)
	})
	authn := authenticatorFunc(func(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error) {
		return nil, ErrUnauthenticated // would refuse everything routed
	})
	p := startProxy(t, testConfig(up.URL), func(o *Options) { o.Authenticator = authn })
	p.HandlePublic("POST /auth/login", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.NotEmpty(t, RequestIDFromContext(r.Context()))
		assert.Equal(t, RequestIDFromContext(r.Context()), r.Header.Get("X-Request-Id"))
		_, _ = io.WriteString(w, "login")
	}))
	p.HandlePublic("GET /orgs/{org}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "org "+r.PathValue("org"))
	}))

	res, err := http.Post(p.URL+"/auth/login", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "login", string(b))

	_, body := get(t, p.URL+"/orgs/acme")
	assert.Equal(t, "org acme", string(body))

	res, body = get(t, p.URL+"/auth/login") // method does not match: route table
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "body %s", body)

	line := waitAccessLine(t, p.Logs, func(l map[string]any) bool { return l["path"] == "/orgs/acme" })
	assert.Equal(t, "GET /orgs/{org}", line["route"])
	assert.Equal(t, "proxy", line["backend"])
}

func TestAdminEndpoints(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {})
	reg := prometheus.NewRegistry()
	p := startProxy(t, testConfig(up.URL), func(o *Options) { o.Registry = reg })
	p.HandleAdmin("GET /admin/api/ping", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "pong")
	}))

	res, body := get(t, p.AdminURL+"/healthz")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.JSONEq(t, `{"status":"ok"}`, string(body))

	res, body = get(t, p.AdminURL+"/readyz")
	assert.Equal(t, http.StatusOK, res.StatusCode, "no checks: ready")
	assert.JSONEq(t, `{"status":"ready","checks":{}}`, string(body))

	p.AddReadyCheck("store", func(context.Context) error { return nil })
	p.AddReadyCheck("flags", func(context.Context) error { return errors.New("provider not ready") })
	p.AddReadyCheck("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	res, body = get(t, p.AdminURL+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.JSONEq(t, `{"status":"unavailable","checks":{"store":"ok","flags":"provider not ready","slow":"context deadline exceeded"},"failing":["flags","slow"]}`, string(body))

	p.AddReadyCheck("flags", func(context.Context) error { return nil })
	p.AddReadyCheck("slow", func(context.Context) error { return nil })
	res, _ = get(t, p.AdminURL+"/readyz")
	assert.Equal(t, http.StatusOK, res.StatusCode)

	_, body = get(t, p.AdminURL+"/admin/api/ping")
	assert.Equal(t, "pong", string(body))

	get(t, p.URL+"/api/thing")
	// The answer reaches the client before its metrics are recorded
	// (responseWriter.sendComplete): wait for them.
	require.Eventually(t, func() bool {
		res, body = get(t, p.AdminURL+"/metrics")
		return res.StatusCode == http.StatusOK &&
			strings.Contains(string(body), `strangler_proxy_requests_total{backend="legacy",class="2xx",mode="legacy",outcome="ok",route="default"} 1`) &&
			strings.Contains(string(body), `strangler_proxy_request_duration_seconds_count{backend="legacy",mode="legacy",route="default"} 1`)
	}, guard, 5*time.Millisecond, "the request's metrics never appeared:\n%s", body)
}

func TestMetricLabelsBounded(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {})
	reg := prometheus.NewRegistry()
	authn := authenticatorFunc(func(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error) {
		return &TenantContext{OrgID: "org-" + r.URL.Query().Get("o"), UserID: "user-" + r.URL.Query().Get("u")}, nil
	})
	p := startProxy(t, testConfig(up.URL), func(o *Options) { o.Registry = reg; o.Authenticator = authn })
	for i := 0; i < 20; i++ {
		get(t, fmt.Sprintf("%s/x/%d?o=%d&u=%d", p.URL, i, i, i))
	}
	for _, mt := range []string{"strangler_proxy_requests_total", "strangler_proxy_request_duration_seconds"} {
		assert.Equal(t, 1, seriesCount(t, reg, mt), "%s: 20 orgs, users and paths make one series", mt)
	}
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				assert.NotContains(t, l.GetValue(), "org-", "no org in %s", f.GetName())
				assert.NotContains(t, l.GetValue(), "user-", "no user in %s", f.GetName())
				assert.NotContains(t, []string{"org", "user", "path", "method"}, l.GetName())
			}
		}
	}
}

func TestAccessLogFields(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "0123456789")
	})
	p := startProxy(t, testConfig(up.URL))
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/api/items/7?token=secret", strings.NewReader("x"))
	req.Header.Set("X-Request-ID", "log-me")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()

	line := waitAccessLine(t, p.Logs, func(l map[string]any) bool { return l["request_id"] == "log-me" })
	assert.Equal(t, "PUT", line["method"])
	assert.Equal(t, "/api/items/7", line["path"], "the query, which may hold secrets, is not logged")
	assert.Equal(t, "default", line["route"])
	assert.EqualValues(t, 201, line["status"])
	assert.EqualValues(t, 10, line["bytes"])
	assert.Equal(t, "legacy", line["backend"])
	assert.Equal(t, "legacy", line["mode"])
	assert.Equal(t, "ok", line["outcome"])
	assert.Contains(t, line, "duration")
	assert.Contains(t, line["remote"], "127.0.0.1:")
}

func TestPanickingModeDeciderServesLegacy(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "legacy") })
	p := startProxy(t, testConfig(up.URL), func(o *Options) {
		o.ModeDecider = ModeDeciderFunc(func(context.Context, RequestInfo) Mode { panic("flag provider bug") })
	})
	res, body := get(t, p.URL+"/x")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "legacy", string(body))
	assert.Equal(t, 1.0, counterValue(t, p.metrics.fallbacks.WithLabelValues("default", "invalid_mode")))
}

func TestPanicInHookIs500(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {})
	authn := authenticatorFunc(func(ctx context.Context, r *http.Request, route *Route) (*TenantContext, error) {
		panic("bug")
	})
	p := startProxy(t, testConfig(up.URL), func(o *Options) { o.Authenticator = authn })
	res, body := get(t, p.URL+"/x")
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Equal(t, CodeInternal, decodeError(t, body).Error.Code)
	assert.NotEmpty(t, p.Logs.FilterMessage("panic in request pipeline").All())
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

// seriesCount counts the series of a metric family.
func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

package proxy

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/flags"
	"github.com/7cycles-ai/strangler/shadow"
)

// Benchmarks of the mode step.
//
//	go test -run '^$' -bench 'ModeDecision|PipelineModes' -benchmem ./proxy/
//
// BenchmarkModeDecision is one decision through FlagsModeDecider, the flags
// Decider and its store provider over the memory store: a rule with a
// rollout, an override for another org, the kill switch — all answered from
// the provider's in-memory snapshot. BenchmarkPipelineModes drives
// Server.Handler as BenchmarkPipeline does (1 KiB answers from canned
// upstreams, access log to io.Discard), with the mode decided by that flags
// stack: "legacy" is the baseline; "shadow" adds the tap (request and
// response tees into pooled buffers) and the Submit into a running engine
// whose workers send every copy to the other canned upstream and compare —
// on this 2-core machine the workers share the CPU with the loop, so the
// difference is an upper bound of what shadowing costs the serving path
// (allocations of the workers are counted too). "shadow-capture-only" is the
// serving path alone: the engine's tap captures the exchange and is
// discarded instead of submitted.

// benchTenant is the tenant of every benchmark request.
var benchTenant = &TenantContext{OrgID: "5f0c2b8e-8a43-4c1e-9a55-0d0f3c1b7a21", OrgSlug: "acme", UserID: "u-1", Role: "member"}

func BenchmarkModeDecision(b *testing.B) {
	fr := startFlags(b, []string{"instagram"}, flags.Rule{Flag: "route.instagram", DefaultVariant: flags.ModeLegacy,
		Allow:   []flags.AllowList{{Variant: flags.ModeNew, Orgs: []string{"pilot"}}},
		Rollout: &flags.Rollout{Variant: flags.ModeShadow, Percent: 50}})
	_, err := fr.store.SetOverride(context.Background(), flags.Override{Flag: "route.instagram", OrgID: "other-org", Variant: flags.ModeCanary, Reason: "bench"}, opsAudit)
	if err != nil {
		b.Fatal(err)
	}
	d := NewFlagsModeDecider(fr.decider)
	info := RequestInfo{Route: &Route{Route: config.Route{Name: "instagram"}}, Method: http.MethodGet, Tenant: benchTenant}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !d.Decide(ctx, info).Valid() {
				b.Fatal("invalid mode")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !d.Decide(ctx, info).Valid() {
					b.Error("invalid mode")
					return
				}
			}
		})
	})
}

func BenchmarkPipelineModes(b *testing.B) {
	legacyURL, newURL := cannedUpstream(b), cannedUpstream(b)
	routes := sevenCyclesRoutes()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	authz := authorizerFunc(func(context.Context, *http.Request, *Route, *TenantContext) (*TenantContext, error) {
		return benchTenant, nil
	})
	for _, tc := range []struct {
		name     string
		mode     flags.Mode
		decider  bool
		shadower bool
		// idle: the engine is not started and each captured exchange is
		// discarded instead of submitted, so no worker competes for the
		// CPU: the capture on the serving path alone (Submit itself is a
		// non-blocking channel send).
		idle bool
	}{
		{name: "legacy-no-decider"},
		{name: "legacy", mode: flags.ModeLegacy, decider: true},
		{name: "shadow-no-shadower", mode: flags.ModeShadow, decider: true},
		{name: "shadow-capture-only", mode: flags.ModeShadow, decider: true, shadower: true, idle: true},
		{name: "shadow", mode: flags.ModeShadow, decider: true, shadower: true},
		{name: "canary", mode: flags.ModeCanary, decider: true, shadower: true},
		{name: "new", mode: flags.ModeNew, decider: true, shadower: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := &config.Config{
				Upstreams: config.Upstreams{Legacy: config.Upstream{URL: legacyURL}, New: config.Upstream{URL: newURL}},
				Routes:    routes,
			}
			opts := Options{Config: cfg, Logger: log, Registry: prometheus.NewRegistry(), Authorizer: authz}
			if tc.decider {
				fr := startFlags(b, []string{"instagram"}, flags.Rule{Flag: "route.instagram", DefaultVariant: tc.mode})
				opts.ModeDecider = NewFlagsModeDecider(fr.decider)
			}
			if tc.shadower {
				e, err := shadow.NewEngine(shadow.Options{
					Routes: routes, Legacy: mustParseURL(b, legacyURL), New: mustParseURL(b, newURL),
					Store: shadow.NewMemoryStore(shadow.MemoryStoreOptions{}), Logger: zap.NewNop(),
				})
				if err != nil {
					b.Fatal(err)
				}
				if !tc.idle {
					if err := e.Start(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				b.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = e.Shutdown(ctx)
				})
				opts.Shadower = NewEngineShadower(e)
				if tc.idle {
					opts.Shadower = discardShadower{e}
				}
			}
			srv, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			req := benchRequest()
			w := &discardWriter{h: make(http.Header)}
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			b.SetBytes(benchBodySize)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
			b.StopTimer()
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		})
	}
}

// discardShadower captures like EngineShadower and discards the capture
// instead of submitting it.
type discardShadower struct{ e *shadow.Engine }

func (d discardShadower) Begin(_ context.Context, r *http.Request, req ShadowRequest) ShadowTap {
	if !d.e.Wants(req.Route.Name, r.Method) {
		return nil
	}
	return discardTap{d.e.Tap(r, req.Route.Name, req.Tenant.OrgID, shadow.BackendLegacy)}
}

type discardTap struct{ t *shadow.Tap }

func (d discardTap) Response(resp *http.Response) { d.t.CaptureResponse(resp) }
func (d discardTap) Fallback(Backend)             {}
func (d discardTap) Done()                        { d.t.Discard() }

package proxy

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/tenancy"
)

// Benchmarks of the authenticated pipeline, beside BenchmarkPipeline (the
// same request, route table, upstream and logging without the tenancy
// hooks): the difference is what authentication and tenant resolution add
// per request with warm caches.
//
//	go test -run '^$' -bench 'Pipeline|AuthHooks' -benchmem ./proxy/
//
// BenchmarkAuthHooks isolates the hooks: Authenticate + Authorize (JWT or
// API key from cache, tenant from cache, assertion reused).

// benchAuth builds a seeded memory store, a stack and its hooks.
func benchAuth(b *testing.B) (*TenancyAuth, *tenancy.AuthStack, *authSeed, string) {
	b.Helper()
	store := tenancy.NewMemoryStore()
	seed := authSeedTenancy(b, store)
	key, err := tenancy.GenerateSigningKey()
	if err != nil {
		b.Fatal(err)
	}
	signer, err := tenancy.NewSignerWithKeys(tenancy.SignerOptions{Issuer: authBuiltinIss}, key)
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Auth.Issuer.Enabled = true
	cfg.Auth.Issuer.Issuer = authBuiltinIss
	cfg.Auth.JWT = []config.JWTIssuer{{Name: "supabase", Issuer: authSupabaseIss, Audiences: []string{"authenticated"}, Algorithms: []string{"HS256"}, Secret: authSecret}}
	config.ApplyDefaults(cfg)
	stack, err := tenancy.NewAuthStack(context.Background(), tenancy.AuthStackOptions{Config: cfg, Store: store, Signer: signer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stack.Close(context.Background()) })
	tok, _, err := signer.SignAccessToken(tenancy.AccessTokenClaims{UserID: seed.alice.ID})
	if err != nil {
		b.Fatal(err)
	}
	return NewTenancyAuth(stack), stack, seed, tok
}

// benchAuthRoutes is the route map of the first user with every route
// requiring an authenticated caller with read.
func benchAuthRoutes() []config.Route {
	rs := sevenCyclesRoutes()
	for i := range rs {
		rs[i].Auth, rs[i].Permission = config.AuthRequired, "read"
	}
	return rs
}

func benchAuthServer(b *testing.B, upstreamURL string, hooks *TenancyAuth) *Server {
	b.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	cfg := &config.Config{
		Upstreams: config.Upstreams{Legacy: config.Upstream{URL: upstreamURL}},
		Routes:    benchAuthRoutes(),
	}
	srv, err := New(Options{Config: cfg, Logger: log, Registry: prometheus.NewRegistry(), Authenticator: hooks, Authorizer: hooks})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

func benchPipelineAuth(b *testing.B, set func(*http.Request, *authSeed, string)) {
	hooks, _, seed, tok := benchAuth(b)
	srv := benchAuthServer(b, cannedUpstream(b), hooks)
	h := srv.Handler()
	req := benchRequest()
	set(req, seed, tok)
	w := &discardWriter{h: make(http.Header)}
	h.ServeHTTP(w, req) // warm: caches, connection pool, metric children
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
}

func BenchmarkPipelineAuthJWT(b *testing.B) {
	benchPipelineAuth(b, func(r *http.Request, _ *authSeed, tok string) {
		r.Header.Set("Authorization", "Bearer "+tok)
	})
}

func BenchmarkPipelineAuthAPIKey(b *testing.B) {
	benchPipelineAuth(b, func(r *http.Request, s *authSeed, _ string) {
		r.Header.Del("Authorization")
		r.Header.Set("X-Api-Key", s.keys["acme-member"])
	})
}

func BenchmarkPipelineAuthJWTOrgHeader(b *testing.B) {
	benchPipelineAuth(b, func(r *http.Request, _ *authSeed, tok string) {
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("X-Organization-Id", "acme")
		r.Header.Set("X-Project-Id", "web")
	})
}

func benchHooks(b *testing.B, set func(*http.Request, *authSeed, string)) {
	hooks, _, seed, tok := benchAuth(b)
	route := &Route{Route: config.Route{Name: "bench", Paths: []string{"/"}, Auth: config.AuthRequired, Permission: "read"}}
	req := benchRequest()
	set(req, seed, tok)
	ctx := context.Background()
	run := func() {
		tc, err := hooks.Authenticate(ctx, req, route)
		if err != nil {
			b.Fatal(err)
		}
		tc, err = hooks.Authorize(ctx, req, route, tc)
		if err != nil || tc.OrgID == "" || tc.Assertion == "" {
			b.Fatal(err)
		}
	}
	run()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}

func BenchmarkAuthHooksJWT(b *testing.B) {
	benchHooks(b, func(r *http.Request, _ *authSeed, tok string) { r.Header.Set("Authorization", "Bearer "+tok) })
}

func BenchmarkAuthHooksAPIKey(b *testing.B) {
	benchHooks(b, func(r *http.Request, s *authSeed, _ string) {
		r.Header.Del("Authorization")
		r.Header.Set("X-Api-Key", s.keys["acme-member"])
	})
}

func BenchmarkAuthHooksAPIKeyParallel(b *testing.B) {
	hooks, _, seed, _ := benchAuth(b)
	route := &Route{Route: config.Route{Name: "bench", Paths: []string{"/"}, Auth: config.AuthRequired, Permission: "read"}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := benchRequest()
		req.Header.Del("Authorization")
		req.Header.Set("X-Api-Key", seed.keys["acme-member"])
		ctx := context.Background()
		for pb.Next() {
			tc, err := hooks.Authenticate(ctx, req, route)
			if err == nil {
				tc, err = hooks.Authorize(ctx, req, route, tc)
			}
			if err != nil || tc.Assertion == "" {
				b.Error(err)
				return
			}
		}
	})
}

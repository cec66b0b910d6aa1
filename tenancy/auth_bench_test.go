package tenancy

import (
	"context"
	"net/http"
	"testing"

	"github.com/7cycles-ai/strangler/config"
)

// Benchmarks of the authentication hot path with warm caches (memory
// store; a cache hit never reaches the store, so the store does not
// matter).
//
//	go test -run '^$' -bench 'APIKey|Resolve|AuthStack' -benchmem ./tenancy/

func benchFixture(b *testing.B) *authFixture {
	b.Helper()
	return newAuthFixture(b, NewMemoryStore())
}

func BenchmarkAPIKeyAuthenticateCached(b *testing.B) {
	f := benchFixture(b)
	r := request(map[string][]string{"X-Api-Key": {f.seed.keys["acme-member"]}})
	ctx := context.Background()
	if _, err := f.stack.Authenticate(ctx, r, config.AuthRequired); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.stack.Authenticate(ctx, r, config.AuthRequired); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAPIKeyAuthenticateCachedParallel(b *testing.B) {
	f := benchFixture(b)
	key := f.seed.keys["acme-member"]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := request(map[string][]string{"X-Api-Key": {key}})
		for pb.Next() {
			if _, err := f.stack.Authenticate(context.Background(), r, config.AuthRequired); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAPIKeyRejectMalformed: the cost of refusing a bad checksum.
func BenchmarkAPIKeyRejectMalformed(b *testing.B) {
	f := benchFixture(b)
	k := f.seed.keys["acme-member"]
	r := request(map[string][]string{"X-Api-Key": {k[:len(k)-1] + flip(k[len(k)-1])}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.stack.Authenticate(context.Background(), r, config.AuthRequired); err == nil {
			b.Fatal("accepted")
		}
	}
}

func benchResolve(b *testing.B, f *authFixture, hdrs map[string][]string) {
	ctx := context.Background()
	r := request(hdrs)
	p, err := f.stack.Authenticate(ctx, r, config.AuthRequired)
	if err != nil {
		b.Fatal(err)
	}
	in := ResolveInput{Principal: p, Org: r.Header[f.stack.OrgHeader()], Project: r.Header[f.stack.ProjectHeader()], Permission: "read"}
	if _, err := f.stack.Resolve(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.stack.Resolve(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveKeyCached(b *testing.B) {
	f := benchFixture(b)
	benchResolve(b, f, map[string][]string{"X-Api-Key": {f.seed.keys["acme-web"]}})
}

func BenchmarkResolveUserDefaultOrgCached(b *testing.B) {
	f := benchFixture(b)
	benchResolve(b, f, map[string][]string{"Authorization": {"Bearer " + f.userToken(b, f.seed.alice, "")}})
}

func BenchmarkResolveUserHeadersCached(b *testing.B) {
	f := benchFixture(b)
	benchResolve(b, f, map[string][]string{"Authorization": {"Bearer " + f.userToken(b, f.seed.carol, "")}, hOrg: {"beta"}, hProj: {"api"}})
}

// BenchmarkAuthStackJWT is the whole per-request work of the stack for a
// cached token: authenticate, resolve, assertion (reused).
func BenchmarkAuthStackJWT(b *testing.B) {
	f := benchFixture(b)
	r := request(map[string][]string{"Authorization": {"Bearer " + f.userToken(b, f.seed.alice, "")}})
	benchStack(b, f, r)
}

// BenchmarkAuthStackSupabaseJWT: the same with an external HS256 token of
// a JIT user.
func BenchmarkAuthStackSupabaseJWT(b *testing.B) {
	f := benchFixture(b)
	r := request(map[string][]string{"Authorization": {"Bearer " + f.supabaseToken(b, "0b7f3c1e-6d1a-4f3e-9d2a-8c1b2a3d4e5f", "x@y.test", nil)}})
	benchStack(b, f, r)
}

func benchStack(b *testing.B, f *authFixture, r *http.Request) {
	ctx := context.Background()
	run := func() {
		p, err := f.stack.Authenticate(ctx, r, config.AuthRequired)
		if err != nil {
			b.Fatal(err)
		}
		res, err := f.stack.Resolve(ctx, ResolveInput{Principal: p, Permission: "read"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.stack.MintAssertion(ctx, res.Tenant); err != nil {
			b.Fatal(err)
		}
	}
	run()
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
}

package tenancy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Benchmarks of the identity endpoints. The login cost is argon2id's
// (OWASP parameters: 19 MiB, t=2, p=1), so run them with a few iterations:
//
//	go test ./tenancy -run '^$' -bench 'Login|PasswordVerify' -benchmem -benchtime 20x
//	go test ./tenancy -run '^$' -bench 'RateLimiter|SessionRevoked|DecodeSignup' -benchmem

func BenchmarkPasswordVerify(b *testing.B) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := VerifyPassword("correct horse battery", hash); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkLogin is POST /auth/login through the handler (memory store, no
// network): a successful login (verify, session, access token), a wrong
// password and an unknown email. The last two should cost the same.
func BenchmarkLogin(b *testing.B) {
	f := newIDFixture(b, NewMemoryStore())
	f.signup(b, "bench@example.test", "bench-password", "")
	mux := http.NewServeMux()
	f.h.Register(mux.Handle)
	for _, c := range []struct{ name, email, password string }{
		{"success", "bench@example.test", "bench-password"},
		{"wrong_password", "bench@example.test", "wrong-password"},
		{"unknown_email", "nobody@example.test", "wrong-password"},
	} {
		body := fmt.Sprintf(`{"email":%q,"password":%q}`, c.email, c.password)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK && rec.Code != http.StatusUnauthorized {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkLoginBurstFromOneIP sends 100 login attempts (unknown email,
// each verified against the dummy hash when allowed) from one address
// with the default limits, and reports how many passed and the
// Retry-After values of the refusals.
func BenchmarkLoginBurstFromOneIP(b *testing.B) {
	for b.Loop() {
		f := newIDFixture(b, NewMemoryStore(), withLimits(RateLimitOptions{}))
		mux := http.NewServeMux()
		f.h.Register(mux.Handle)
		passed, minRetry, maxRetry := 0, 1<<30, 0
		for i := range 100 {
			body := fmt.Sprintf(`{"email":"user%d@example.test","password":"guess"}`, i)
			req := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(body))
			req.RemoteAddr = "198.51.100.7:40000"
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusUnauthorized:
				passed++
			case http.StatusTooManyRequests:
				ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
				if err != nil {
					b.Fatal(err)
				}
				minRetry, maxRetry = min(minRetry, ra), max(maxRetry, ra)
			default:
				b.Fatalf("status %d", rec.Code)
			}
		}
		b.ReportMetric(float64(passed), "passed/100")
		b.ReportMetric(float64(minRetry), "retry-after-min-s")
		b.ReportMetric(float64(maxRetry), "retry-after-max-s")
	}
}

func BenchmarkRateLimiterTake(b *testing.B) {
	b.Run("one_key_refused", func(b *testing.B) {
		l := newKeyedLimiter(RateLimit{Every: time.Hour, Burst: 1}, 10_000, time.Now)
		l.take("198.51.100.1")
		b.ReportAllocs()
		for b.Loop() {
			l.take("198.51.100.1")
		}
	})
	b.Run("many_keys_evicting", func(b *testing.B) {
		l := newKeyedLimiter(RateLimit{Every: time.Second, Burst: 20}, 10_000, time.Now)
		keys := make([]string, 50_000)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.take(keys[i%len(keys)])
			i++
		}
	})
}

// BenchmarkSessionRevokedCached is the per-request cost of honouring
// logout on a route (a cached live session).
func BenchmarkSessionRevokedCached(b *testing.B) {
	s := NewMemoryStore()
	rev := NewSessionRevocations(s, SessionRevocationOptions{})
	b.Cleanup(rev.Close)
	u, x := newSessionForTest(b, s)
	waitRevocationsLive(b, rev)
	ctx := context.Background()
	if rev.SessionRevoked(ctx, u.ID, x.FamilyID) {
		b.Fatal("revoked")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rev.SessionRevoked(ctx, u.ID, x.FamilyID) {
				b.Fatal("revoked")
			}
		}
	})
}

func BenchmarkDecodeSignup(b *testing.B) {
	body := []byte(`{"email":"Alice@Example.test","password":"correct horse battery","org_name":"Acme Inc","org_slug":"acme"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, e := parseSignup(body); e != nil {
			b.Fatal(e)
		}
	}
}

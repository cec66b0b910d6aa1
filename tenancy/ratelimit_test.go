package tenancy

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRateLimiterBurst: 100 attempts at once from one address with the
// default login limit: the burst passes, the rest are refused with the
// time until the next token; refused attempts do not push it further.
func TestRateLimiterBurst(t *testing.T) {
	clock := newTestClock()
	l := newKeyedLimiter(RateLimitOptions{}.withDefaults().LoginPerIP, 100, clock.Now)
	passed, waits := 0, map[time.Duration]int{}
	for range 100 {
		_, wait := l.take("198.51.100.1")
		if wait == 0 {
			passed++
		} else {
			waits[wait]++
		}
	}
	assert.Equal(t, 20, passed)
	assert.Equal(t, map[time.Duration]int{3 * time.Second: 80}, waits)
	clock.Advance(3 * time.Second)
	_, wait := l.take("198.51.100.1")
	assert.Zero(t, wait, "one token back after the refill interval")
	_, wait = l.take("198.51.100.1")
	assert.Equal(t, 3*time.Second, wait)
	_, wait = l.take("198.51.100.2")
	assert.Zero(t, wait, "other addresses are not affected")
}

func TestRateLimiterGiveBackAndEviction(t *testing.T) {
	clock := newTestClock()
	l := newKeyedLimiter(RateLimit{Every: time.Minute, Burst: 2}, 3, clock.Now)
	for range 10 {
		tk, wait := l.take("alice")
		require.Zero(t, wait)
		tk.giveBack() // successes do not count
	}
	_, w1 := l.take("alice")
	_, w2 := l.take("alice")
	_, w3 := l.take("alice")
	assert.Zero(t, w1)
	assert.Zero(t, w2)
	assert.Equal(t, time.Minute, w3)

	// The table holds at most 3 keys: the least recently used goes.
	for _, k := range []string{"b", "c", "d"} {
		l.take(k)
	}
	assert.Equal(t, 3, l.len())
	_, wait := l.take("alice")
	assert.Zero(t, wait, "an evicted bucket starts full again (the documented cost of a bounded table)")

	off := newKeyedLimiter(RateLimit{Burst: -1}, 3, clock.Now)
	for range 100 {
		_, wait := off.take("x")
		require.Zero(t, wait)
	}
	assert.Zero(t, off.len(), "a disabled limiter keeps nothing")
}

// TestRateLimiterConcurrent: under concurrent takes of one key exactly the
// burst passes.
func TestRateLimiterConcurrent(t *testing.T) {
	clock := newTestClock()
	l := newKeyedLimiter(RateLimit{Every: time.Hour, Burst: 25}, 10, clock.Now)
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, wait := l.take("k"); wait == 0 {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(25), passed.Load())
}

// TestLoginRateLimits: per address every attempt counts, per account only
// failures, and the account limit answers alike for unknown emails.
func TestLoginRateLimits(t *testing.T) {
	f := newIDFixture(t, NewMemoryStore(), withLimits(RateLimitOptions{
		LoginPerIP:      RateLimit{Every: time.Minute, Burst: 6},
		LoginPerAccount: RateLimit{Every: time.Minute, Burst: 3},
		RefreshPerIP:    RateLimit{Every: time.Minute, Burst: 3},
	}))
	ip := func(a string) []string { return []string{testIPHeader, a} }
	r := f.call(t, http.MethodPost, "/auth/signup", "", map[string]any{"email": "rl@example.test", "password": "rate-limit-pass"}, ip("192.0.2.1")...)
	require.Equal(t, http.StatusCreated, r.status)

	// Successful logins do not use up the account's failures.
	for i := range 4 {
		r = f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "rl@example.test", "password": "rate-limit-pass"}, ip(fmt.Sprintf("192.0.2.%d", 10+i))...)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	// Three failures, from different addresses, then the account is limited
	// — the right password included, until the bucket refills.
	for i := range 3 {
		r = f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "rl@example.test", "password": "wrong"}, ip(fmt.Sprintf("192.0.2.%d", 20+i))...)
		require.Equal(t, http.StatusUnauthorized, r.status)
	}
	known := f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "rl@example.test", "password": "rate-limit-pass"}, ip("192.0.2.30")...)
	require.Equal(t, http.StatusTooManyRequests, known.status, "%s", known.body)
	code, _ := known.errCode(t)
	assert.Equal(t, codeTooManyRequests, code)
	retry, err := strconv.Atoi(known.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.Equal(t, 60, retry)

	// An unknown email is limited the same way: a 429 reveals nothing.
	for i := range 3 {
		r = f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "ghost@example.test", "password": "wrong"}, ip(fmt.Sprintf("192.0.2.%d", 40+i))...)
		require.Equal(t, http.StatusUnauthorized, r.status)
	}
	unknown := f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "ghost@example.test", "password": "x"}, ip("192.0.2.50")...)
	assert.Equal(t, known.status, unknown.status)
	assert.Equal(t, known.header.Get("Retry-After"), unknown.header.Get("Retry-After"))

	f.clock.Advance(time.Minute)
	r = f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "rl@example.test", "password": "rate-limit-pass"}, ip("192.0.2.31")...)
	assert.Equal(t, http.StatusOK, r.status, "the bucket refilled: %s", r.body)

	// Per address: 6 attempts, whatever the account, then 429 — before the
	// body is even read.
	for i := range 6 {
		r = f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": fmt.Sprintf("u%d@example.test", i), "password": "x"}, ip("198.51.100.9")...)
		require.Equal(t, http.StatusUnauthorized, r.status)
	}
	r = f.call(t, http.MethodPost, "/auth/login", "", "not even json", ip("198.51.100.9")...)
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	r = f.call(t, http.MethodPost, "/auth/signup", "", map[string]any{"email": "new@example.test", "password": "new-password"}, ip("198.51.100.9")...)
	assert.Equal(t, http.StatusTooManyRequests, r.status, "signup shares the address's login budget")
	assert.Equal(t, "60", r.header.Get("Retry-After"))

	// Refresh attempts per address (valid or not).
	for range 3 {
		r = f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": "x"}, ip("198.51.100.20")...)
		require.Equal(t, http.StatusUnauthorized, r.status)
	}
	r = f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": "x"}, ip("198.51.100.20")...)
	assert.Equal(t, http.StatusTooManyRequests, r.status)
}
